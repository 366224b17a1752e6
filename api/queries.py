"""Reading the profile store for the query service: search, profiles, households, history, reviews.

Scope (a community worker's communities) is applied in SQL; masking and disclosure by
``core.access.views``. Every method that returns resident data appends an audit entry.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, String, cast, func, or_, select

from core.access import AccessDenied, Grant, Principal, may_see_community, require
from core.access.views import Disclosure, field_views, record_view, review_view, summary
from core.privacy import keyed_hash
from core.profile import Profile, as_of
from core.standardise import check_id_number, parse_phone, standardise_name
from schemas.codec import decode
from schemas.profile_events import ProfileEvent
from store.audit import AuditLog
from store.profile_tables import profile_event_log, profiles

CANDIDATES = 500  # rows ranked per search; a narrower query finds its resident in these


class NotFound(LookupError):
    pass


class BadQuery(ValueError):
    pass


class Unavailable(RuntimeError):
    """A part of the hub this answer needs (the Kafka cluster) is not reachable: 503."""


@dataclass(frozen=True)
class SearchQuery:
    name: str | None = None
    id_number: str | None = None
    id_hash: str | None = None
    phone: str | None = None
    address: str | None = None
    household: str | None = None

    def kinds(self) -> list[str]:
        return [k for k in ("name", "id_number", "id_hash", "phone", "address", "household") if getattr(self, k)]


def _json_text(text: str) -> str:
    """``text`` as it appears inside the stored JSON document (non-ASCII escaped as \\uXXXX)."""
    return json.dumps(text)[1:-1]


class ResidentQueries:
    def __init__(self, engine: Engine, *, id_hash_key: str, grants: Mapping[str, Grant], audit: AuditLog) -> None:
        self.engine = engine
        self.id_hash_key = id_hash_key
        self.grants = grants
        self.audit = audit

    # -- search ---------------------------------------------------------------------------------
    def search(self, principal: Principal, query: SearchQuery, *, page: int = 1, size: int = 20,
               purpose: str = "居民查询") -> dict[str, Any]:
        require(principal, "search")
        kinds = query.kinds()
        if not kinds:
            raise BadQuery("give at least one of: name, id_number, phone, address, household")
        # Rank on narrow columns; only the page's documents are read and parsed afterwards.
        stmt = select(profiles.c.profile_id, profiles.c.name, profiles.c.name_key,
                      profiles.c.community).where(profiles.c.status == "active")
        scores: list[tuple[str, Any]] = []  # (kind, scorer)
        name_std = None
        if query.name:
            name_std = standardise_name(query.name)
            if not name_std.name:
                raise BadQuery("the name has no letters or characters to search for")
            # Each term can use an index (a prefix as a range, not LIKE), so SQLite's OR optimisation
            # and PostgreSQL's bitmap OR both avoid a scan; only unspaced pinyin ("wangfang") scans.
            conds = [profiles.c.name == name_std.name]
            if name_std.script == "han":
                conds.append(profiles.c.name.between(name_std.name, name_std.name + "\U0010ffff"))
            pinyin = (name_std.pinyin or "").lower()
            if pinyin:
                conds.append(profiles.c.name_key == pinyin)
            if name_std.script != "han" and " " not in pinyin and pinyin:
                conds.append(func.replace(profiles.c.name_key, " ", "") == pinyin)
            stmt = stmt.where(or_(*conds))
        if query.id_number:
            check = check_id_number(query.id_number)
            number = check.id_number
            if number is None:
                raise BadQuery(f"not a valid citizen ID number: {check.reason}")
            stmt = stmt.where(profiles.c.id_hash == keyed_hash(number, self.id_hash_key))
        if query.id_hash:
            stmt = stmt.where(profiles.c.id_hash == query.id_hash.strip().lower())
        if query.phone:
            phone = parse_phone(query.phone)
            if phone is None:
                raise BadQuery("not a phone number")
            stmt = stmt.where(cast(profiles.c.doc, String).contains(_json_text(phone), autoescape=True))
        if query.address:
            text = query.address.strip()
            if len(text) < 2:
                raise BadQuery("give at least two characters of the address")
            stmt = stmt.where(cast(profiles.c.doc, String).contains(_json_text(text), autoescape=True))
        if query.household:
            stmt = stmt.where(profiles.c.household_id == query.household.strip())
        stmt = self._scoped(stmt, principal).order_by(profiles.c.name, profiles.c.profile_id).limit(CANDIDATES)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        ranked = sorted(((self._score(row, name_std), row) for row in rows), key=lambda t: -t[0])
        total = len(ranked)
        start = (page - 1) * size
        page_rows = ranked[start:start + size]
        with self.engine.connect() as conn:
            docs = dict(conn.execute(select(profiles.c.profile_id, profiles.c.doc).where(
                profiles.c.profile_id.in_([row.profile_id for _, row in page_rows]))).all())
        disclosure = Disclosure()
        hits = []
        for score, row in page_rows:
            profile = Profile.model_validate(docs[row.profile_id])
            hit = summary(profile, principal, grants=self.grants, disclosure=disclosure)
            hit["community"] = row.community
            hit["score"] = score
            hits.append(hit)
        self.audit.append(principal, "search", purpose, [h["profile_id"] for h in hits],
                          [f"query:{k}" for k in kinds] + disclosure.fields)
        return {"total": total, "page": page, "size": size, "truncated": total >= CANDIDATES, "results": hits}

    @staticmethod
    def _score(row: Any, name_std: Any) -> float:
        if name_std is None:
            return 1.0
        if row.name == name_std.name:
            return 1.0
        compact = (name_std.pinyin or "").replace(" ", "")
        if row.name_key and compact and row.name_key.replace(" ", "") == compact:
            return 0.8
        return 0.6  # a longer name starting with the query

    def _scoped(self, stmt: Any, principal: Principal) -> Any:
        if principal.role == "community_worker":
            return stmt.where(profiles.c.community.in_(sorted(principal.communities)))
        return stmt

    # -- one resident ----------------------------------------------------------------------------
    def _load(self, principal: Principal, profile_id: str) -> tuple[Profile, str | None, str | None]:
        """The active profile (following merge redirects), checked against the principal's scope."""
        require(principal, "read_profile")
        redirected_from = None
        row = None
        with self.engine.connect() as conn:
            for _ in range(10):
                row = conn.execute(select(profiles.c.doc, profiles.c.community, profiles.c.merged_into)
                                   .where(profiles.c.profile_id == profile_id)).first()
                if row is None:
                    raise NotFound(f"no resident profile {profile_id!r}")
                if row.merged_into is None:
                    break
                redirected_from = redirected_from or profile_id
                profile_id = row.merged_into
        if row is None or row.merged_into is not None:
            raise NotFound(f"profile {redirected_from!r} redirects too often")
        if not may_see_community(principal, row.community):
            # The same answer as for an unknown id: a worker learns nothing about other communities.
            raise NotFound(f"no resident profile {profile_id!r} in your communities")
        return Profile.model_validate(row.doc), row.community, redirected_from

    def profile(self, principal: Principal, profile_id: str, *, unmask: Collection[str] = (),
                purpose: str = "查看居民画像", at: datetime | None = None) -> dict[str, Any]:
        if unmask:
            require(principal, "unmask")
        current, community, redirected_from = self._load(principal, profile_id)
        shown = current
        if at is not None:
            past = as_of(self._events(current.profile_id), current.profile_id, at)
            if past is None:
                raise NotFound(f"profile {current.profile_id} did not exist yet at {at.isoformat()}")
            shown = past
        disclosure = Disclosure()
        fields = field_views(shown, principal, unmask=set(unmask), grants=self.grants, disclosure=disclosure)
        view: dict[str, Any] = {
            "profile_id": shown.profile_id,
            "redirected_from": redirected_from,
            "status": shown.status,
            "version": shown.version,
            "community": community,
            "as_of": at.isoformat() if at else None,
            "updated_at": shown.updated_at.isoformat(),
            "fields": fields,
            "conflicted_fields": [f["field"] for f in fields if f["conflicted"]],
        }
        if principal.role != "department_reader":
            view["records"] = [{**record_view(linked.record, principal, unmask=set(unmask), grants=self.grants),
                                "rule": linked.rule, "score": round(linked.score, 3),
                                "linked_at": linked.linked_at.isoformat(),
                                "ended_at": linked.ended_at.isoformat() if linked.ended_at else None}
                               for linked in shown.records.values()]
            view["household"] = self._household(principal, shown.household_id, disclosure)
            view["history"] = [{"version": h.version, "event_type": h.event_type, "occurred_at": h.occurred_at.isoformat(),
                                "summary": h.summary} for h in reversed(shown.history)]
            view["pending_reviews"] = sorted(shown.pending_reviews)
        self.audit.append(principal, "unmask" if unmask else ("read_profile_as_of" if at else "read_profile"),
                          purpose, [shown.profile_id], disclosure.fields)
        return view

    def _household(self, principal: Principal, household_id: str | None, disclosure: Disclosure) -> dict[str, Any] | None:
        if not household_id or visibility_hidden(principal, "household_id", self.grants):
            return None
        stmt = self._scoped(select(profiles.c.doc).where(profiles.c.household_id == household_id,
                                                         profiles.c.status == "active"), principal)
        with self.engine.connect() as conn:
            docs = [r.doc for r in conn.execute(stmt.order_by(profiles.c.profile_id).limit(50))]
        return {"household_id": household_id,
                "members": [summary(Profile.model_validate(d), principal, grants=self.grants, disclosure=disclosure)
                            for d in docs]}

    def household(self, principal: Principal, household_id: str, *, purpose: str = "查看户成员") -> dict[str, Any]:
        require(principal, "read_profile")
        disclosure = Disclosure()
        found = self._household(principal, household_id, disclosure)
        if not found or not found["members"]:
            raise NotFound(f"no household {household_id!r} in your communities")
        self.audit.append(principal, "read_household", purpose, [m["profile_id"] for m in found["members"]],
                          disclosure.fields)
        return found

    def history(self, principal: Principal, profile_id: str, *, purpose: str = "查看变更历史") -> list[dict[str, Any]]:
        current, _, _ = self._load(principal, profile_id)
        if principal.role == "department_reader":
            raise AccessDenied("a department reads granted fields, not a profile's history")
        with self.engine.connect() as conn:
            rows = conn.execute(select(profile_event_log.c.event_id, profile_event_log.c.version,
                                       profile_event_log.c.type, profile_event_log.c.occurred_at)
                                .where(profile_event_log.c.profile_id == current.profile_id)
                                .order_by(profile_event_log.c.version)).all()
        summaries = {h.event_id: h.summary for h in current.history}
        self.audit.append(principal, "read_history", purpose, [current.profile_id], ["history"])
        return [{"event_id": r.event_id, "version": r.version, "event_type": r.type,
                 "occurred_at": _utc(r.occurred_at).isoformat(), "summary": summaries.get(r.event_id, "")}
                for r in rows]

    def _events(self, profile_id: str) -> list[ProfileEvent]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(profile_event_log.c.payload).where(profile_event_log.c.profile_id == profile_id)
                                .order_by(profile_event_log.c.version)).all()
        events = [decode(r.payload) for r in rows]
        return [e for e in events if isinstance(e, ProfileEvent)]

    # -- steward: the review queue --------------------------------------------------------------
    def reviews(self, principal: Principal, *, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        from store.resolver_tables import resolver_reviews

        require(principal, "review")
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(resolver_reviews)).scalar_one()
            pending = conn.execute(select(resolver_reviews.c.review_id, resolver_reviews.c.profile_id)
                                   .order_by(resolver_reviews.c.review_id).offset(offset).limit(limit)).all()
            holders = {r.profile_id for r in pending}
            docs = {r.profile_id: Profile.model_validate(r.doc) for r in conn.execute(
                select(profiles.c.profile_id, profiles.c.doc).where(profiles.c.profile_id.in_(sorted(holders))))}
            out, shown = [], []
            for row in pending:
                holder = docs.get(row.profile_id)
                review = holder.pending_reviews.get(row.review_id) if holder else None
                if review is None:
                    continue  # decided by the resolver, not yet projected
                ids = sorted(set(review.candidate_profile_ids))
                candidates = {p.profile_id: p for p in (Profile.model_validate(r.doc) for r in conn.execute(
                    select(profiles.c.doc).where(profiles.c.profile_id.in_(ids))))}
                out.append(review_view(review, candidates, principal))
                shown += ids
        self.audit.append(principal, "read_reviews", "人工复核", shown, ["review"])
        return {"total": total, "offset": offset, "limit": limit, "reviews": out}


def visibility_hidden(principal: Principal, field_name: str, grants: Mapping[str, Grant]) -> bool:
    from core.access import visibility

    return visibility(principal, field_name, grants=grants) == "hidden"


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at
