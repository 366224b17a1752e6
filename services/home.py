"""A community worker's landing page (工作台首页): the residents of their community or grid at a
glance, what changed since their last visit, and the events behind a profile's history lines.

Scope is the same as every other read (``core.access.scope_of``, applied in SQL by
``store.scope_filter`` as search and households do), values are masked by ``core.access.views``, and every read is audited.
Filters on sensitive facts (assistance 救助, disability 残疾) need a purpose, like unmasking.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, distinct, func, or_, select, true

from core.access import AccessDenied, Principal, can, may_see_community, require, scope_of
from core.access.views import Disclosure, changes_between, summary_of
from core.privacy import redact_purpose
from core.profile import Profile, as_of
from schemas.codec import decode
from schemas.profile_events import ProfileEvent
from store.audit import AuditLog, audit_log
from store.place_flags import place_flag
from store.positions import store_generation
from store.profile_tables import profile_event_log, profiles
from store.scope_filter import scope_filter

SORTS = {"name": "姓名", "age": "年龄", "address": "住址"}
AGE_BANDS: dict[str, tuple[int | None, int | None]] = {"0-17": (None, 17), "18-59": (18, 59), "60+": (60, None),
                                                       "80+": (80, None)}
SENSITIVE_FILTERS = {"assistance": "attributes.assistance", "disability": "attributes.disability"}
CHANGES_SHOWN = 100  # residents listed under 最近变化 at most
GLANCES_KEPT = 256  # counts at a glance kept per process (community, scope, filters, day)
RECENT_EVENTS = 5000  # up to this many events since: found through their time, then kept if in scope
DEFAULT_SINCE = timedelta(days=7)  # first visit: the last week's changes


@dataclass(frozen=True)
class HomeFilters:
    """What the resident list is narrowed to (all False / empty: every resident living there)."""

    age: str = ""
    alone: bool = False  # 独居
    assistance: bool = False  # 享受救助 (sensitive: needs a purpose)
    disability: bool = False  # 残疾 (sensitive: needs a purpose)
    apart: bool = False  # 人户分离
    contested: bool = False  # 住址有冲突: the records disagree on the community, a door check (入户核实) settles it
    gone: bool = False  # also residents who died or moved out

    def tags(self) -> list[str]:
        chosen = ("alone", "assistance", "disability", "apart", "contested", "gone")
        return [f"filter:{k}" for k in chosen if getattr(self, k)] + ([f"filter:age{self.age}"] if self.age else [])

    @property
    def sensitive(self) -> list[str]:
        return [SENSITIVE_FILTERS[k] for k in SENSITIVE_FILTERS if getattr(self, k)]


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _years_ago(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def age_on(born: date | None, today: date) -> int | None:
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


class HomeQueries:
    def __init__(self, engine: Engine, audit: AuditLog, grants: Any = None) -> None:
        self.engine = engine
        self.audit = audit
        self.grants = grants
        # The counts at a glance per (community, scope, filters, day), kept while the store is at the
        # generation they were counted at: a worker paging through her list counts once.
        self._glances: OrderedDict[Any, tuple[Any, dict[str, int], int, int]] = OrderedDict()
        self._glances_lock = threading.Lock()

    # -- which communities the page can show ------------------------------------------------------
    def communities(self, principal: Principal) -> list[str]:
        """The communities a worker's page can show (their own, and their grids' communities); every
        community with residents for a steward (the picker)."""
        require(principal, "read_profile")
        if principal.role == "community_worker":
            return sorted(set(principal.communities) | {g.split("/", 1)[0] for g in principal.grids})
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(select(distinct(profiles.c.community)).where(
                profiles.c.status == "active", profiles.c.community.is_not(None)).order_by(profiles.c.community))]

    def _scope(self, principal: Principal, community: str) -> Any:
        """Rows in the principal's scope within ``community`` (the same rule as search)."""
        return and_(profiles.c.status == "active", profiles.c.community == community,
                    scope_filter(scope_of(principal)))

    def _check(self, principal: Principal, community: str) -> None:
        if not can(principal, "search"):
            raise AccessDenied(f"role {principal.role} has no community page")
        if community not in self.communities(principal):
            raise AccessDenied("this community is not in your scope")

    # -- the resident list ----------------------------------------------------------------------
    def residents(self, principal: Principal, community: str, filters: HomeFilters, *, sort: str = "name",
                  descending: bool = False, page: int = 1, size: int = 50, purpose: str = "",
                  today: date | None = None) -> dict[str, Any]:
        """One page of the community's residents, the counts at a glance (residents, households,
        60+/80+, living alone, on assistance, disability, 人户分离, 住址有冲突), audited."""
        self._check(principal, community)
        if filters.sensitive and len(purpose.strip()) < 4:
            raise ValueError("按救助、残疾筛选须填写用途（至少 4 个字）")
        today = today or datetime.now(UTC).date()
        scope = self._scope(principal, community)
        live = and_(profiles.c.deceased_on.is_(None), profiles.c.moved_out_on.is_(None))
        # Living alone: the resident said so, or is the only live member of their household. Counted
        # per resident through the household index: a household subquery grouped first is planned
        # by PostgreSQL as a scan of every profile (it cannot tell how many the JSON tests keep).
        member = profiles.alias("member")
        members = (select(func.count()).select_from(member)
                   .where(member.c.household_id == profiles.c.household_id, member.c.status == "active",
                          member.c.deceased_on.is_(None), member.c.moved_out_on.is_(None))
                   .scalar_subquery())
        alone = or_(profiles.c.says_alone, members == 1)
        sixty, eighty = _years_ago(today, 60), _years_ago(today, 80)
        flags = (select(profiles.c.profile_id, profiles.c.name, profiles.c.name_key, profiles.c.community,
                        profiles.c.grid, profiles.c.sex, profiles.c.birth_date, profiles.c.id_masked,
                        profiles.c.household_id, profiles.c.relation_to_head, profiles.c.address,
                        case((live, True), else_=False).label("live"),
                        case((alone, True), else_=False).label("alone"),
                        profiles.c.assistance, profiles.c.disability,
                        case((place_flag("apart"), True), else_=False).label("apart"),
                        case((place_flag("contested"), True), else_=False).label("contested"),
                        profiles.c.deceased_on, profiles.c.moved_out_on)
                 .where(scope).subquery("flags"))
        f = flags.c
        with self.engine.connect() as conn:
            # The filters, as conditions on the community's rows.
            kept: list[Any] = [] if filters.gone else [f.live == True]  # noqa: E712
            low, high = AGE_BANDS.get(filters.age, (None, None))
            if low is not None:
                kept.append(f.birth_date <= _years_ago(today, low))
            if high is not None:  # younger than high + 1
                kept.append(f.birth_date > _years_ago(today, high + 1))
            for name in ("alone", "assistance", "disability", "apart", "contested"):
                if getattr(filters, name):
                    kept.append(getattr(f, name) == True)  # noqa: E712
            chosen = select(flags).where(*kept)
            living, filtered = f.live == True, and_(true(), *kept)  # noqa: E712

            def among(condition: Any, counted: Any = None) -> Any:
                return func.coalesce(func.sum(case((condition, 1), else_=0)) if counted is None
                                     else func.count(case((condition, counted))), 0)

            # One pass over the community (from ix_profiles_community_glance alone): the glance at the
            # living, the gone, and how many the filters keep (with a birth date: the age sort's split);
            # again only when the store has moved since (its projections' positions).
            key = (community, scope_of(principal), filters, today)
            generation = store_generation(conn)
            with self._glances_lock:
                kept_glance = self._glances.get(key)
            if kept_glance is not None and kept_glance[0] == generation:
                _, glance, total, dated = kept_glance
                counts = dict(glance)
            else:
                counts = conn.execute(select(
                    among(living).label("residents"),
                    func.count(distinct(case((living, f.household_id)))).label("households"),
                    among(and_(living, f.birth_date <= sixty)).label("over_60"),
                    among(and_(living, f.birth_date <= eighty)).label("over_80"),
                    among(and_(living, f.alone == True)).label("alone"),  # noqa: E712
                    among(and_(living, f.assistance == True)).label("assistance"),  # noqa: E712
                    among(and_(living, f.disability == True)).label("disability"),  # noqa: E712
                    among(and_(living, f.apart == True)).label("apart"),  # noqa: E712
                    among(and_(living, f.contested == True)).label("contested"),  # noqa: E712
                    among(f.live == False).label("gone"),  # noqa: E712
                    among(filtered).label("total"), among(filtered, f.birth_date).label("dated"),
                )).one()._asdict()
                total, dated = counts.pop("total"), counts.pop("dated")
                with self._glances_lock:
                    self._glances[key] = (generation, dict(counts), total, dated)
                    self._glances.move_to_end(key)
                    while len(self._glances) > GLANCES_KEPT:
                        self._glances.popitem(last=False)
            start = (max(page, 1) - 1) * size
            rows: list[Any] = []
            if sort == "age":
                # The residents with a birth date by age, then the ones without (by profile id): two
                # reads, each in the order of ix_profiles_community_birth_date, where one ordered by
                # "birth date IS NULL" first would sort the whole community.
                if start < dated:
                    by_age = f.birth_date.asc() if descending else f.birth_date.desc()
                    rows += conn.execute(chosen.where(f.birth_date.is_not(None)).order_by(by_age, f.profile_id)
                                         .offset(start).limit(size)).all()
                if start + size > dated:
                    rows += conn.execute(chosen.where(f.birth_date.is_(None)).order_by(f.profile_id)
                                         .offset(max(start - dated, 0)).limit(size - len(rows))).all()
            else:
                order = f.address if sort == "address" else f.name
                rows += conn.execute(chosen.order_by(order.desc() if descending else order, f.profile_id)
                                     .offset(start).limit(size)).all()
        disclosure = Disclosure()
        out = []
        for row in rows:
            if not may_see_community(principal, row.community, row.grid):  # the SQL scope, checked again
                continue
            hit = summary_of(row.profile_id, {
                "name": row.name, "sex": row.sex, "birth_date": row.birth_date.isoformat() if row.birth_date else None,
                "id_number": row.id_masked, "household_id": row.household_id,
                "relation_to_head": row.relation_to_head, "address": row.address,
            }, principal, grants=self.grants, disclosure=disclosure)
            hit.update(age=age_on(row.birth_date, today), grid=row.grid, alone=bool(row.alone),
                       apart=bool(row.apart), contested=bool(row.contested), deceased_on=_iso(row.deceased_on),
                       moved_out_on=_iso(row.moved_out_on))
            out.append(hit)
        fields = ["home", *filters.tags(), *disclosure.fields, *(f"{s}*" for s in filters.sensitive)]
        self.audit.append(principal, "read_community", redact_purpose(purpose.strip()) or "社区居民概览",
                          [h["profile_id"] for h in out], fields)
        return {"community": community, "total": total, "page": max(page, 1), "size": size,
                "glance": counts, "results": out}

    # -- what changed since the last visit --------------------------------------------------------
    def last_visit(self, principal: Principal) -> datetime | None:
        """The principal's previous console login (the one before this session's), if any."""
        with self.audit.engine.connect() as conn:  # the audit log's database (store.audit.audit_engine)
            found = conn.execute(select(audit_log.c.at).where(audit_log.c.user_id == principal.user_id,
                                                              audit_log.c.action == "login")
                                 .order_by(audit_log.c.seq.desc()).offset(1).limit(1)).scalar()
        return found if found is None or found.tzinfo else found.replace(tzinfo=UTC)

    def changes(self, principal: Principal, community: str, since: datetime) -> list[dict[str, Any]]:
        """Residents of the community whose profile changed after ``since`` and what changed: moved in,
        moved out, died, a new phone (masked), a new resident. Audited like any read."""
        self._check(principal, community)
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
        scope = self._scope(principal, community)
        with self.engine.connect() as conn:
            rows = _changed_since(conn, scope, since)
            ids = [r.profile_id for r in rows]
            events: dict[str, list[ProfileEvent]] = {i: [] for i in ids}
            if ids:
                for r in conn.execute(select(profile_event_log.c.profile_id, profile_event_log.c.payload)
                                      .where(profile_event_log.c.profile_id.in_(ids))
                                      .order_by(profile_event_log.c.profile_id, profile_event_log.c.version)):
                    event = decode(r.payload)
                    if isinstance(event, ProfileEvent):
                        events[r.profile_id].append(event)
        out = []
        for row in rows:
            if not may_see_community(principal, row.community, row.grid):
                continue
            now = Profile.model_validate(row.doc)
            found = changes_between(as_of(events[row.profile_id], row.profile_id, since), now)
            if found:
                at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
                out.append({"profile_id": row.profile_id, "name": now.golden.name.value if now.golden.name else None,
                            "at": at.isoformat(), "changes": found})
        self.audit.append(principal, "read_changes", "社区居民变化", [c["profile_id"] for c in out],
                          ["changes", "name", "phones*", "residential_address"])
        return out

    # -- the events behind a profile's history lines ----------------------------------------------
    def events(self, profile_id: str, versions: list[int]) -> dict[int, ProfileEvent]:
        """The logged events of a profile the caller has already read (``services.queries`` checked the scope
        and audited the read), by version."""
        if not versions:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(profile_event_log.c.version, profile_event_log.c.payload).where(
                profile_event_log.c.profile_id == profile_id, profile_event_log.c.version.in_(versions))).all()
        found = {}
        for r in rows:
            event = decode(r.payload)
            if isinstance(event, ProfileEvent):
                found[r.version] = event
        return found


def _changed_since(conn: Connection, scope: Any, since: datetime) -> list[Any]:
    """The in-scope profiles with events after ``since``, newest change first (at most
    ``CHANGES_SHOWN``): profile id, community, grid, document and ``at``, the time of its last event.

    Usually few events are that recent (a worker looks at the last week or her last login): they
    are found through their time (``ix_profile_event_log_occurred``) and kept if in scope, a few
    milliseconds; reading the community's residents first and each one's events would cost tens
    of milliseconds for a large community even when nothing changed. When more than
    ``RECENT_EVENTS`` events are that recent (a ``since`` long ago), the community's residents
    and their events, one join grouped by profile, as the planner then prefers."""
    log = profile_event_log
    recent = conn.execute(select(log.c.profile_id, log.c.occurred_at).where(log.c.occurred_at > since)
                          .order_by(log.c.occurred_at.desc()).limit(RECENT_EVENTS + 1)).all()
    at = func.max(log.c.occurred_at).label("at")
    if len(recent) > RECENT_EVENTS:
        return list(conn.execute(select(profiles.c.profile_id, profiles.c.community, profiles.c.grid, profiles.c.doc, at)
                                 .join(log, log.c.profile_id == profiles.c.profile_id)
                                 .where(scope, log.c.occurred_at > since)
                                 .group_by(profiles.c.profile_id)
                                 .order_by(at.desc(), profiles.c.profile_id).limit(CHANGES_SHOWN)).all())
    last: dict[str, datetime] = {}
    for profile_id, occurred in recent:  # newest first: the first seen is the profile's last event
        last.setdefault(profile_id, occurred)
    found = [r for chunk in _chunks(list(last), 500)
             for r in conn.execute(select(profiles.c.profile_id, profiles.c.community, profiles.c.grid, profiles.c.doc)
                                   .where(scope, profiles.c.profile_id.in_(chunk)))]
    found.sort(key=lambda r: (-_aware(last[r.profile_id]).timestamp(), r.profile_id))
    return [_Changed(r.profile_id, r.community, r.grid, r.doc, last[r.profile_id]) for r in found[:CHANGES_SHOWN]]


@dataclass(frozen=True)
class _Changed:
    profile_id: str
    community: str | None
    grid: str | None
    doc: Any
    at: datetime


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)
