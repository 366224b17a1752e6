"""Reading the profile store for the query service: search, profiles, households, history, reviews.

Scope (``core.access.scope_of``: a community worker's communities or grids) is applied in SQL by
``store.scope_filter`` and to a loaded profile by ``core.access.may_see_community``; masking and disclosure by
``core.access.views``. Every method that returns resident data appends an audit entry.

Reads are served by the read side the projection keeps beside each document: search and household
lists build their rows from narrow columns (no document is parsed), phone and address search look
up ``profile_search_terms`` through its index, and a profile's document is parsed once per version
(:class:`ParsedProfiles`).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, Text, and_, bindparam, case, cast, exists, false, func, literal, or_, select, union

from core.access import AccessDenied, Grant, Principal, ScopeKind, may_see_community, require, scope_of, visibility
from core.access.views import Disclosure, evidence_weights, field_views, record_view, review_view, summary_of
from core.privacy import keyed_hash, redact_purpose
from core.profile import Profile, as_of
from core.profile.read_side import ADDRESS_FIELD_WEIGHTS, bigrams, normalise_address
from core.standardise import check_id_number, parse_phone, standardise_name
from schemas.codec import decode
from schemas.profile_events import ProfileEvent
from store.audit import AuditLog
from store.objections import ObjectionStore
from store.place_flags import PLACE_FLAGS, PlaceFlag, place_flag
from store.profile_tables import profile_event_log, profile_search_terms, profiles
from store.scope_filter import scope_clause, scope_values

ADDRESS_CANDIDATES = 2000  # residents one address fragment selects at most ("truncated" beyond)
RARE_ENOUGH = 50_000  # postings counted per address bigram, to pick the rarest ones (a bounded count)
PAIR_COUNT_SECONDS = 600.0  # how long a bigram's count is reused: it only steers which postings are read
ADDRESS_PAIRS = 3  # the rarest bigrams of a typed address that select candidates through the index

# The columns a hit or a household member is built from (core.access.views.summary_of).
_HIT_COLUMNS = (profiles.c.profile_id, profiles.c.name, profiles.c.name_key, profiles.c.community,
                profiles.c.sex, profiles.c.birth_date, profiles.c.id_masked, profiles.c.household_id,
                profiles.c.relation_to_head, profiles.c.address)
_terms = profile_search_terms


class NotFound(LookupError):
    pass


def not_found(kind: str, asked: str) -> NotFound:
    """The one answer for "does not exist" and "outside your scope": word for word the same, naming only
    what was asked, so a caller learns nothing about residents it may not see."""
    return NotFound(f"no {kind} {asked!r} that you may see")


# What a department reader may search by: a criterion only when its grant includes the field it
# matches (an ID-number search answers "this number is this person" as surely as showing it).
SEARCH_FIELDS = {"name": ("name",), "id_number": ("id_number",), "id_hash": ("id_number",),
                 "phone": ("phones",), "household": ("household_id",),
                 "address": ("residential_address", "registered_address", "property_address")}
MIN_NAME_CHARACTERS = 2  # for department readers: one character would list everyone of a surname
# A place flag (core.places) is a fact about the addresses it is derived from: a department reader
# filters by it only when its grant includes every one of them.
FLAG_FIELDS: dict[PlaceFlag, tuple[str, ...]] = {"contested": ("residential_address",),
                                                 "apart": ("residential_address", "registered_address")}


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
    # Only the residents flagged (store.place_flags): 住址有冲突 (a door check 入户核实 settles it), 人户分离.
    contested: bool = False
    apart: bool = False

    def kinds(self) -> list[str]:
        return [k for k in ("name", "id_number", "id_hash", "phone", "address", "household") if getattr(self, k)]

    def flags(self) -> tuple[PlaceFlag, ...]:
        return tuple(f for f in PLACE_FLAGS if getattr(self, f))


class ParsedProfiles:
    """Parsed documents by (profile id, version): a version never changes, so nothing goes stale."""

    # A parsed 13 KB document holds ~70 KB of objects, which every full pass of the cyclic collector
    # walks: enough for the residents a worker has open, not a copy of the store.
    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._parsed: OrderedDict[tuple[str, int], Profile] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, profile_id: str, version: int, doc: str) -> Profile:
        key = (profile_id, version)
        with self._lock:
            found = self._parsed.get(key)
            if found is not None:
                self._parsed.move_to_end(key)
                return found
        profile = Profile.model_validate_json(doc)
        with self._lock:
            self._parsed[key] = profile
            while len(self._parsed) > self.size:
                self._parsed.popitem(last=False)
        return profile


class ResidentQueries:
    def __init__(self, engine: Engine, *, id_hash_key: str, grants: Mapping[str, Grant], audit: AuditLog,
                 resolver_engine: Engine | None = None, objections: ObjectionStore | None = None) -> None:
        self.engine = engine
        self.objections = objections  # open objections mark their fields 有异议 on a profile
        self.resolver_engine = resolver_engine or engine  # where the review queue is (the resolver's state)
        self.id_hash_key = id_hash_key
        self.grants = grants
        self.audit = audit
        self.parsed = ParsedProfiles()
        self._pair_counts: dict[str, tuple[float, int]] = {}  # address bigram → (counted at, postings)
        self._pair_lock = threading.Lock()

    # -- search ---------------------------------------------------------------------------------
    def search(self, principal: Principal, query: SearchQuery, *, page: int = 1, size: int = 20,
               purpose: str = "居民查询") -> dict[str, Any]:
        require(principal, "search")
        kinds, flags = query.kinds(), query.flags()
        if not kinds and not flags:
            raise BadQuery("give at least one of: name, id_number, phone, address, household, contested, apart")
        self._check_criteria(principal, kinds, flags)
        (name_form, id_hashes, phone, address_pairs, household), values = self._search_values(query, principal.role)
        scope = scope_of(principal)
        values.update(scope_values(scope))
        ranked, counted = _search_statements(_SearchShape(name_form, id_hashes, phone, address_pairs, household,
                                                          scope.kind, self._address_fields(principal), flags))
        with self.engine.connect() as conn:
            page_rows = conn.execute(ranked, {**values, "offset": (page - 1) * size, "limit": size}).all()
            if page_rows:
                total = page_rows[0].total
            else:  # a page past the end still says how many there are
                total = conn.execute(counted, values).scalar_one() if page > 1 else 0
        disclosure = Disclosure()
        hits = []
        clear_ids = self._clear_id_numbers(principal, [row.profile_id for row in page_rows])
        for row in page_rows:
            hit = summary_of(row.profile_id, _hit_values(row, clear_ids), principal, grants=self.grants,
                             disclosure=disclosure)
            hit["community"] = row.community
            hit["score"] = round(float(row.score), 3)
            hits.append(hit)
        self.audit.append(principal, "search", redact_purpose(purpose), [h["profile_id"] for h in hits],
                          [f"query:{k}" for k in kinds] + [f"filter:{f}" for f in flags] + disclosure.fields)
        truncated = bool(query.address) and total >= ADDRESS_CANDIDATES
        return {"total": total, "page": page, "size": size, "truncated": truncated, "results": hits}

    def _check_criteria(self, principal: Principal, kinds: list[str], flags: tuple[PlaceFlag, ...] = ()) -> None:
        """A department reader searches only by fields its grant includes, and filters by a place flag
        only when it includes every field the flag is derived from (refused: 403, audited)."""
        if principal.role != "department_reader":
            return
        grant = self.grants.get(principal.department or "")
        for kind in kinds:
            if grant is None or not any(grant.allows(f) for f in SEARCH_FIELDS[kind]):
                raise AccessDenied(f"the grant of {principal.department} does not include {SEARCH_FIELDS[kind][0]}: "
                                   f"no search by {kind}")
        for flag in flags:
            lacking = [f for f in FLAG_FIELDS[flag] if grant is None or not grant.allows(f)]
            if lacking:
                raise AccessDenied(f"the grant of {principal.department} does not include {', '.join(lacking)}: "
                                   f"no filter by {flag}")

    def _address_fields(self, principal: Principal) -> tuple[str, ...] | None:
        """The address fields an address search matches: for a department reader only the surviving
        addresses of the fields its grant includes (a search is a read of what it matches); ``None``
        (every address a profile's records hold) for the other roles."""
        if principal.role != "department_reader":
            return None
        grant = self.grants.get(principal.department or "")
        return tuple(f for f in SEARCH_FIELDS["address"] if grant is not None and grant.allows(f))

    def _search_values(self, query: SearchQuery, principal_role: str = "steward"
                       ) -> tuple[tuple[tuple[str, bool] | None, int, bool, int, bool], dict[str, Any]]:
        """The shape of the search statement (which criteria, in which form) and its values; bad input
        is refused here."""
        values: dict[str, Any] = {}
        name_form: tuple[str, bool] | None = None
        id_hashes = address_pairs = 0
        if query.name:
            if _holds_number(query.name):
                # A GET's query string is logged by proxies and kept in browser history.
                raise BadQuery("a name holds no ID or phone number: search by id_number or phone, by POST "
                               "(POST /api/v1/residents/search)")
            name_std = standardise_name(query.name)
            if not name_std.name:
                raise BadQuery("the name has no letters or characters to search for")
            if principal_role == "department_reader" and len(name_std.name.replace(" ", "")) < MIN_NAME_CHARACTERS:
                # Stewards and workers list a surname within their duties; a department checks named people.
                raise BadQuery(f"give at least {MIN_NAME_CHARACTERS} characters of the name")
            pinyin = (name_std.pinyin or "").lower()
            name_form = ("han" if name_std.script == "han" else "other", bool(pinyin))
            values.update(name=name_std.name, name_end=name_std.name + "\U0010ffff", pinyin=pinyin,
                          compact=pinyin.replace(" ", ""),
                          aliases=sorted({name_std.name, pinyin, pinyin.replace(" ", "")} - {""}))
        if query.id_number:
            check = check_id_number(query.id_number)
            number = check.id_number
            if number is None:
                raise BadQuery(f"not a valid citizen ID number: {check.reason}")
            id_hashes += 1
            values[f"id_hash{id_hashes}"] = keyed_hash(number, self.id_hash_key)
        if query.id_hash:
            id_hashes += 1
            values[f"id_hash{id_hashes}"] = query.id_hash.strip().lower()
        if query.phone:
            phone = parse_phone(query.phone)
            if phone is None:
                raise BadQuery("not a phone number")
            values["phone"] = phone
        if query.address:
            fragment = normalise_address(query.address)
            if len(fragment) < 2:
                raise BadQuery("give at least two characters of the address")
            pairs = self._rarest_pairs(fragment)
            address_pairs = len(pairs) if pairs is not None else -1  # -1: a pair no address holds
            escaped = fragment.replace("/", "//").replace("%", "/%").replace("_", "/_")
            values.update({f"pair{i}": pair for i, pair in enumerate(pairs or [])}, fragment_like=f"%{escaped}%")
        if query.household:
            values["household"] = query.household.strip()
        return (name_form, id_hashes, bool(query.phone), address_pairs, bool(query.household)), values

    def _rarest_pairs(self, fragment: str) -> list[str] | None:
        """The fragment's rarest character pairs (at most :data:`ADDRESS_PAIRS`), by a bounded count of
        each pair's postings; ``None`` when some pair is in no address at all.

        Counts are kept for :data:`PAIR_COUNT_SECONDS` (a pair that was in no address is counted again
        every time): they only choose which postings select the candidates, and every candidate is
        confirmed against its address lines, so a stale count costs time, never a hit."""
        pairs = sorted(bigrams(fragment)) or [fragment]
        now = time.monotonic()
        with self._pair_lock:
            known = {pair: kept[1] for pair in pairs
                     if (kept := self._pair_counts.get(pair)) is not None and now - kept[0] < PAIR_COUNT_SECONDS}
        missing = [pair for pair in pairs if pair not in known]
        if missing:
            with self.engine.connect() as conn:
                found = conn.execute(_pair_count_statement(len(missing)),
                                     {f"pair{i}": pair for i, pair in enumerate(missing)}).one()
            known.update(zip(missing, found, strict=True))
            with self._pair_lock:
                if len(self._pair_counts) > 100_000:
                    self._pair_counts.clear()
                self._pair_counts.update((pair, (now, n)) for pair, n in zip(missing, found, strict=True) if n)
        if min(known.values()) == 0:
            return None
        # The rarest pair, then the next rarest ones that add something: not overlapping a chosen pair
        # ("园路" after "瞻园") and not held by as many residents as one (石门, 门坎, 坎小 are one compound's
        # name, held by the same residents); the door or building number's pairs then narrow it down.
        at = {pair: {i for i in range(len(fragment) - 1) if fragment[i:i + 2] == pair} for pair in pairs}
        chosen: list[str] = []
        deferred: list[str] = []
        for pair in sorted(pairs, key=lambda pair: (known[pair], pair)):
            near = any(i + d in at[c] for c in chosen for i in at[pair] for d in (-1, 0, 1))
            alike = any(abs(known[pair] - known[c]) <= known[c] // 50 for c in chosen)
            (deferred if near or alike else chosen).append(pair)
        return (chosen + deferred)[:ADDRESS_PAIRS]

    def _clear_id_numbers(self, principal: Principal, profile_ids: list[str]) -> dict[str, str]:
        """Clear ID numbers of these profiles, read from their documents, only when the principal is
        shown them in clear (a department granted them); everyone else gets the stored masked form."""
        if not profile_ids or visibility(principal, "id_number", grants=self.grants) != "shown":
            return {}
        number = profiles.c.doc[("golden", "id_number", "value")].as_string()
        with self.engine.connect() as conn:
            return {r.profile_id: r.number for r in conn.execute(
                select(profiles.c.profile_id, number.label("number")).where(profiles.c.profile_id.in_(profile_ids)))
                if r.number}

    # -- one resident ----------------------------------------------------------------------------
    def _load(self, principal: Principal, profile_id: str) -> tuple[Profile, str | None, str | None]:
        """The active profile (following merge redirects), checked against the principal's scope."""
        require(principal, "read_profile")
        redirected_from = None
        row = None
        with self.engine.connect() as conn:
            for _ in range(10):
                row = conn.execute(_LOAD, {"profile_id": profile_id}).first()
                if row is None:
                    raise not_found("resident profile", redirected_from or profile_id)
                if row.merged_into is None:
                    break
                redirected_from = redirected_from or profile_id
                profile_id = row.merged_into
        if row is None or row.merged_into is not None:
            raise not_found("resident profile", redirected_from or profile_id)
        if not may_see_community(principal, row.community, row.grid):
            # The same answer as for an unknown id (and the id asked, not the one merged into): a worker
            # learns nothing about other communities.
            raise not_found("resident profile", redirected_from or profile_id)
        return self.parsed.get(profile_id, row.version, row.doc), row.community, redirected_from

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
        disputed = self._disputed(shown.profile_id, {f["field"] for f in fields}) if at is None else []
        for f in fields:
            f["disputed"] = any(o["field"] == f["field"] for o in disputed)
        view["objections"] = disputed
        if principal.role != "department_reader":
            view["records"] = [{**record_view(linked.record, principal, unmask=set(unmask), grants=self.grants),
                                "rule": linked.rule, "score": round(linked.score, 3),
                                "evidence": evidence_weights(linked.evidence),
                                "linked_at": linked.linked_at.isoformat(),
                                "ended_at": linked.ended_at.isoformat() if linked.ended_at else None}
                               for linked in shown.records.values()]
            view["household"] = self._household(principal, shown.household_id, disclosure)
            view["history"] = [{"version": h.version, "event_type": h.event_type, "occurred_at": h.occurred_at.isoformat(),
                                "summary": h.summary} for h in reversed(shown.history)]
            view["pending_reviews"] = sorted(shown.pending_reviews)
        self.audit.append(principal, "unmask" if unmask else ("read_profile_as_of" if at else "read_profile"),
                          redact_purpose(purpose), [shown.profile_id], disclosure.fields)
        return view

    def _touches(self, holder: Profile, candidates: Mapping[str, Profile]) -> dict[str, Any]:
        """What confirming the review would touch, for the steward to see first: per candidate, the
        departments whose extracts hold the two profiles (every granted department: they get a merge
        notice) with their granted fields that would read differently, and the open objections on
        either profile (an objection follows its profile into the merge)."""
        from core.planner import CANONICAL_FIELDS
        from core.planner.notices import differing_fields

        ids = [holder.profile_id, *candidates]
        objections = self.objections.open_on(ids) if self.objections is not None else {}
        per_candidate = []
        for candidate in candidates.values():
            differ = differing_fields(holder, candidate, CANONICAL_FIELDS)
            per_candidate.append({
                "profile_id": candidate.profile_id,
                "departments": [{"department": department, "fields": [f for f in differ if grant.allows(f)]}
                                for department, grant in sorted(self.grants.items())],
                "objections": [{"objection_id": o.objection_id, "profile_id": o.profile_id, "field": o.field,
                                "department": o.department}
                               for pid in (holder.profile_id, candidate.profile_id) for o in objections.get(pid, [])],
            })
        return {"candidates": per_candidate}

    def _disputed(self, profile_id: str, shown: set[str]) -> list[dict[str, Any]]:
        """The open objections on the fields shown (有异议: a field said to be wrong, not yet settled)."""
        if self.objections is None:
            return []
        return [{"objection_id": o.objection_id, "field": o.field, "awaiting": o.awaiting, "department": o.department,
                 "due_on": o.due_on.isoformat() if o.due_on else None, "raised_at": o.raised_at.isoformat()}
                for o in self.objections.open_on([profile_id]).get(profile_id, []) if o.field in shown]

    def _household(self, principal: Principal, household_id: str | None, disclosure: Disclosure) -> dict[str, Any] | None:
        if not household_id or visibility(principal, "household_id", grants=self.grants) == "hidden":
            return None
        scope = scope_of(principal)
        with self.engine.connect() as conn:
            rows = conn.execute(_household_statement(scope.kind),
                                {"household_id": household_id, **scope_values(scope)}).all()
        clear_ids = self._clear_id_numbers(principal, [r.profile_id for r in rows])
        return {"household_id": household_id,
                "members": [summary_of(r.profile_id, _hit_values(r, clear_ids), principal, grants=self.grants,
                                       disclosure=disclosure) for r in rows]}

    def household(self, principal: Principal, household_id: str, *, purpose: str = "查看户成员") -> dict[str, Any]:
        require(principal, "read_profile")
        disclosure = Disclosure()
        found = self._household(principal, household_id, disclosure)
        if not found or not found["members"]:
            raise not_found("household", household_id)
        self.audit.append(principal, "read_household", redact_purpose(purpose), [m["profile_id"] for m in found["members"]],
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
        self.audit.append(principal, "read_history", redact_purpose(purpose), [current.profile_id], ["history"])
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
        with self.resolver_engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(resolver_reviews)).scalar_one()
            pending = conn.execute(select(resolver_reviews.c.review_id, resolver_reviews.c.profile_id)
                                   .order_by(resolver_reviews.c.review_id).offset(offset).limit(limit)).all()
        with self.engine.connect() as conn:
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
                view = review_view(review, candidates, principal)
                view["touches"] = self._touches(holder, candidates) if holder is not None else {}
                out.append(view)
                shown += ids
        self.audit.append(principal, "read_reviews", "人工复核", shown, ["review"])
        return {"total": total, "offset": offset, "limit": limit, "reviews": out}


# -- search statements: built once per shape, with bound parameters, so a search only binds values
# (building and hashing a statement costs more than SQLite takes to run it).

@dataclass(frozen=True)
class _SearchShape:
    name: tuple[str, bool] | None  # ("han" or "other", has a pinyin) when searching by name
    id_hashes: int  # ID-hash criteria (an ID number and/or an ID hash)
    phone: bool
    address_pairs: int  # rarest bigrams selecting the candidates; -1 when nobody can hold the fragment
    household: bool
    scope: ScopeKind  # core.access.scope_of: everyone, a worker's places (bound values), nobody
    address_fields: tuple[str, ...] | None = None  # only these surviving addresses (a department's grant)
    flags: tuple[PlaceFlag, ...] = ()  # only the residents flagged so (store.place_flags)


@lru_cache(maxsize=256)
def _search_statements(shape: _SearchShape) -> tuple[Any, Any]:
    """The ranked page (with the total as a window count) and the count alone, for searches of ``shape``."""
    stmt = select(profiles.c.profile_id).where(profiles.c.status == "active")
    scores: list[Any] = []  # one score per criterion in (0, 1]; a hit's score is their mean
    if shape.name is not None:
        script, has_pinyin = shape.name
        name: Any = bindparam("name")
        # The profiles any form of the name selects, each form through its own index (a prefix as a
        # range, not LIKE), as one set of ids: written as an OR on the row, PostgreSQL cannot turn
        # the search-term subquery into an index scan beside the others and scans every profile.
        # Variants (another source's spelling, unspaced pinyin) come from the search-term index.
        by_name = [select(profiles.c.profile_id).where(profiles.c.name == name)]
        if script == "han":
            by_name.append(select(profiles.c.profile_id).where(profiles.c.name.between(name, bindparam("name_end"))))
        if has_pinyin:
            by_name.append(select(profiles.c.profile_id).where(profiles.c.name_key == bindparam("pinyin")))
        by_name.append(select(_terms.c.profile_id).where(
            _terms.c.kind == "name", _terms.c.term.in_(bindparam("aliases", expanding=True))))
        stmt = stmt.where(profiles.c.profile_id.in_(union(*by_name)))
        # The exact surviving name first, then another source's exact spelling (an alias), then
        # the same pinyin, then a longer name starting with the query.
        alias = exists().where(_terms.c.kind == "name", _terms.c.term == name,
                               _terms.c.profile_id == profiles.c.profile_id)
        scores.append(case((profiles.c.name == name, 1.0), (alias, 0.9),
                           (func.replace(profiles.c.name_key, " ", "") == bindparam("compact"), 0.8), else_=0.6)
                      if has_pinyin else case((profiles.c.name == name, 1.0), (alias, 0.9), else_=0.6))
    for i in range(1, shape.id_hashes + 1):
        stmt = stmt.where(profiles.c.id_hash == bindparam(f"id_hash{i}"))
    if shape.phone:
        by_phone = _terms.alias("by_phone")
        stmt = stmt.join(by_phone, and_(by_phone.c.profile_id == profiles.c.profile_id, by_phone.c.kind == "phone",
                                        by_phone.c.term == bindparam("phone")))
        scores.append(by_phone.c.weight)  # a surviving phone above another record's
    if shape.address_pairs:
        held = _address_candidates(shape.address_pairs, shape.address_fields)
        stmt = stmt.join(held, held.c.profile_id == profiles.c.profile_id)
        scores.append(held.c.w_address)  # where the resident lives now above an older address
    if shape.household:
        stmt = stmt.where(profiles.c.household_id == bindparam("household"))
    for flag in shape.flags:
        stmt = stmt.where(place_flag(flag))
    stmt = stmt.where(scope_clause(shape.scope))
    score = (sum(scores[1:], scores[0]) / len(scores)) if scores else literal(1.0)
    # One statement ranks every match and counts them (a window over the whole result).
    ranked = (stmt.add_columns(score.label("score"), func.count().over().label("total"), *_HIT_COLUMNS[1:])
              .order_by(score.desc(), profiles.c.name, profiles.c.profile_id)
              .offset(bindparam("offset")).limit(bindparam("limit")))
    return ranked, select(func.count()).select_from(stmt.subquery())


def _address_candidates(pairs: int, fields: tuple[str, ...] | None = None) -> Any:
    """The profiles holding the fragment (``:fragment_like``, a LIKE pattern) in one of their addresses, with the weight of
    the strongest such address (``w_address``), as a bounded subquery: the postings of the fragment's
    rarest character pairs (``:pair0`` …), intersected, each confirmed against the profile's normalised
    address lines (so "2号12" does not find "12号1栋"). ``pairs`` is -1 when nobody can hold it.
    ``fields``: confirm only against the lines of these surviving address fields (told apart by their
    weight, ``core.profile.read_side.ADDRESS_FIELD_WEIGHTS``; a line two fields share counts as the
    stronger one, so a grant of the weaker field misses it rather than reveal the other)."""
    first, *rest = [_terms.alias(f"by_address_{i}") for i in range(max(pairs, 1))]
    # Correlated with the last pair joined: the lines are read only for profiles holding every pair,
    # through the (profile, kind, term, weight) index.
    last = (rest or [first])[-1]
    line = _terms.alias("address_line")
    confirm = [line.c.profile_id == last.c.profile_id, line.c.kind == "address_line",
               line.c.term.like(bindparam("fragment_like"), escape="/")]
    if fields is not None:  # a float column: a band around each field's weight, not equality
        confirm.append(or_(false(), *(line.c.weight.between(ADDRESS_FIELD_WEIGHTS[f] - 0.01, ADDRESS_FIELD_WEIGHTS[f] + 0.01)
                                      for f in fields)))
    weight = select(func.max(line.c.weight)).where(*confirm).scalar_subquery()
    stmt = select(first.c.profile_id, weight.label("w_address"))
    if pairs < 0:
        return stmt.where(false()).subquery("held")  # a pair no address holds: nobody lives there
    stmt = stmt.where(first.c.kind == "address", first.c.term == bindparam("pair0"))
    for i, alias in enumerate(rest, start=1):
        stmt = stmt.join(alias, and_(alias.c.profile_id == first.c.profile_id, alias.c.kind == "address",
                                     alias.c.term == bindparam(f"pair{i}")))
    # The weight is computed once per candidate, then the ones holding no such line are dropped.
    weighed = stmt.subquery("weighed")
    return (select(weighed.c.profile_id, weighed.c.w_address).where(weighed.c.w_address.is_not(None))
            .limit(ADDRESS_CANDIDATES).subquery("held"))


# One profile row, its document as text: parsed once per version by pydantic's JSON parser.
_LOAD = select(profiles.c.version, profiles.c.community, profiles.c.grid, profiles.c.merged_into,
               cast(profiles.c.doc, Text).label("doc")).where(profiles.c.profile_id == bindparam("profile_id"))


@lru_cache(maxsize=3)
def _household_statement(scope: ScopeKind) -> Any:
    """The active members of ``:household_id`` within a scope of kind ``scope`` (``store.scope_filter``)."""
    stmt = select(*_HIT_COLUMNS).where(profiles.c.household_id == bindparam("household_id"),
                                       profiles.c.status == "active", scope_clause(scope))
    return stmt.order_by(profiles.c.profile_id).limit(50)


@lru_cache(maxsize=256)
def _pair_count_statement(pairs: int) -> Any:
    """Bounded counts of the postings of ``:pair0`` … ``:pair{pairs-1}`` (address bigrams), in one row."""
    return select(*[select(func.count()).select_from(
        select(_terms.c.profile_id).where(_terms.c.kind == "address", _terms.c.term == bindparam(f"pair{i}"))
        .limit(RARE_ENOUGH).subquery()).scalar_subquery().label(f"n{i}") for i in range(pairs)])


def _hit_values(row: Any, clear_ids: Mapping[str, str]) -> dict[str, Any]:
    """A hit's values from the read-side columns (the ID number masked unless read in clear)."""
    return {"name": row.name, "sex": row.sex, "birth_date": row.birth_date.isoformat() if row.birth_date else None,
            "id_number": clear_ids.get(row.profile_id, row.id_masked), "household_id": row.household_id,
            "relation_to_head": row.relation_to_head, "address": row.address}


def _holds_number(text: str) -> bool:
    """Six or more digits in a row, counting through spaces, hyphens and full-width digits: an ID or
    phone number (or part of one) typed where a name goes."""
    import unicodedata

    digits = "".join(unicodedata.normalize("NFKC", text).split()).replace("-", "")
    return any(len(run) >= 6 for run in "".join(c if c.isdigit() else " " for c in digits).split())


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at
