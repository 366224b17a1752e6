"""Projecting profile events into the profile store, idempotently.

Each batch folds its events into the profiles they touch (core.profile.apply), writes the rows, their
read side (grid, search-hit columns, search terms: core.profile.read_side) and the consumed offsets
in one transaction. A redelivered event (offset applied, or version not newer)
changes nothing; replaying the whole topic into an empty database gives the same checksum.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Sequence, Set

from sqlalchemy import Connection, Engine, bindparam, delete, select

from core.access import EVERYONE, Scope
from core.access.views import render
from core.places import ProfilePlace
from core.ports import DeliveredEvent as DeliveredEvent  # defined with the port; imported from here too
from core.ports import Projection
from core.privacy import keyed_hash, mask_id_number
from core.profile import Profile, apply_all, checksum
from core.profile.read_side import life_columns, search_terms
from schemas.codec import encode
from schemas.profile_events import ProfileEvent
from store import positions
from store.engine import RawJSON, write_transaction
from store.places import PlaceIndex, place_columns
from store.positions import TrackedConsumer
from store.profile_tables import profile_event_log, profile_search_terms, profiles, record_links
from store.scope_filter import scope_filter
from store.upsert import chunks, insert_new, upsert

_PROFILE_COLUMNS = ("version", "status", "merged_into", "name", "name_key", "birth_date", "id_hash", "household_id",
                    "community", "grid", "place_basis", "registered_community", "lives_apart", "place_contested",
                    "sex", "relation_to_head", "address", "id_masked", "deceased_on", "moved_out_on", "says_alone",
                    "assistance", "disability", "updated_at", "doc")


class ProfileProjection(TrackedConsumer, Projection):
    CONSUMER = "profiles"

    def __init__(self, engine: Engine, *, id_hash_key: str, cache_profiles: int = 50_000) -> None:
        self.engine = engine
        self.id_hash_key = id_hash_key
        self.places = PlaceIndex()
        # The profiles this projection last wrote, by id: a batch reads only the touched rows'
        # versions and decodes a document only when its version is not the one kept here (another
        # worker wrote it after a rebalance, or it was never seen). Written after each commit.
        self.cache_profiles = cache_profiles
        self._kept: dict[str, Profile] = {}
        self._kept_lock = threading.Lock()

    def apply(self, batch: Sequence[DeliveredEvent]) -> int:
        """Fold a batch into the store with its offsets; return how many events took effect.

        Batch-wise: one read of the touched profiles, each profile's events folded together (its
        golden fields computed once), and one statement per table for the whole batch."""
        with write_transaction(self.engine) as conn:
            seen = positions.applied_offsets(conn, self.CONSUMER)
            fresh = [d.event for d in batch if positions.is_new(seen, d.topic, d.partition, d.offset)]
            loaded = self._load(conn, {event.profile_id for event in fresh})
            version = {pid: profile.version for pid, profile in loaded.items()}
            pending: dict[str, list[ProfileEvent]] = {}
            logged: list[dict[str, object]] = []
            for event in fresh:
                if event.version <= version.get(event.profile_id, 0):
                    continue  # already folded (redelivery from another offset)
                version[event.profile_id] = event.version
                pending.setdefault(event.profile_id, []).append(event)
                logged.append({"event_id": event.event_id, "profile_id": event.profile_id, "version": event.version,
                               "occurred_at": event.occurred_at, "type": type(event).__name__,
                               "payload": encode(event).decode("utf-8")})
            folded = [p for pid, events in pending.items() if (p := apply_all(loaded.get(pid), events)) is not None]
            insert_new(conn, profile_event_log, logged)
            self.write_profiles(conn, folded, new={pid for pid in pending if pid not in loaded})
            # only the new messages: a redelivered older batch must not move a position back
            positions.advance(conn, self.CONSUMER, [(d.topic, d.partition, d.offset) for d in batch
                                                    if positions.is_new(seen, d.topic, d.partition, d.offset)])
        self._keep(folded)
        return len(logged)

    def _load(self, conn: Connection, profile_ids: set[str]) -> dict[str, Profile]:
        """The stored profiles of ``profile_ids`` (absent: not stored yet), decoding only those
        whose stored version is not the kept one."""
        ids = sorted(profile_ids)
        with self._kept_lock:
            kept = {pid: found for pid in ids if (found := self._kept.get(pid)) is not None}
        loaded: dict[str, Profile] = {}
        stale: list[str] = []
        for chunk in chunks(ids):
            for r in conn.execute(select(profiles.c.profile_id, profiles.c.version).where(profiles.c.profile_id.in_(chunk))):
                found = kept.get(r.profile_id)
                if found is not None and found.version == r.version:
                    loaded[r.profile_id] = found
                else:
                    stale.append(r.profile_id)
        for chunk in chunks(stale):
            for r in conn.execute(select(profiles.c.profile_id, profiles.c.doc).where(profiles.c.profile_id.in_(chunk))):
                loaded[r.profile_id] = Profile.model_validate(r.doc)
        return loaded

    def _keep(self, written: Sequence[Profile]) -> None:
        with self._kept_lock:
            if len(self._kept) + len(written) > self.cache_profiles:
                self._kept.clear()
            self._kept.update((p.profile_id, p) for p in written)

    def write_profiles(self, conn: Connection, written: Sequence[Profile], *, new: Set[str] = frozenset()) -> None:
        """Write folded profiles with their read side, in the caller's transaction (``apply`` after
        folding; a bulk load of already folded profiles, as the query bench builds its store).
        ``new``: ids known to have no row yet (nothing of theirs to read back before writing)."""
        if not written:
            return
        # Where each resident lives: what the records teach the gazetteer first, then every
        # profile located through a key whose assignment moved (core.places).
        self.places.lock(conn)
        moved = self.places.reassign(conn, self.places.learn_from_profiles(conn, written))
        located = self.places.locate(conn, written, moved)
        upsert(conn, profiles, [self._row(p, located[p.profile_id]) for p in written], keys=("profile_id",),
               update=_PROFILE_COLUMNS)
        held = [p.profile_id for p in written if p.profile_id not in new]
        self._write_terms(conn, written, held)
        self._write_links(conn, written, held)

    def _row(self, profile: Profile, place: ProfilePlace) -> dict[str, object]:
        golden = profile.golden
        id_number = golden.id_number.value if golden.id_number else None
        name = golden.name.value if golden.name else None
        name_key = None
        for linked in profile.live_records.values():
            if linked.record.name_pinyin:
                name_key = linked.record.name_pinyin
                break
        shown_address = golden.residential_address or golden.registered_address
        return {
            "profile_id": profile.profile_id,
            "version": profile.version,
            "status": profile.status,
            "merged_into": profile.merged_into,
            "name": name,
            "name_key": name_key,
            "birth_date": golden.birth_date.value if golden.birth_date else None,
            "id_hash": keyed_hash(id_number, self.id_hash_key) if id_number else None,
            "household_id": golden.household_id.value if golden.household_id else None,
            **place_columns(place),
            "sex": render(golden.sex.value) if golden.sex else None,
            "relation_to_head": render(golden.relation_to_head.value) if golden.relation_to_head else None,
            "address": render(shown_address.value) if shown_address else None,
            "id_masked": mask_id_number(id_number) if id_number else None,
            **life_columns(profile).as_row(),
            "updated_at": profile.updated_at,
            "doc": RawJSON(profile.model_dump_json()),
        }

    @staticmethod
    def _write_terms(conn: Connection, written: Sequence[Profile], ids: list[str]) -> None:
        """Only the search terms that changed: most events (a review, a life event, a linked record
        with the same name, phone and address) change none of a profile's ~45 terms. ``ids``: the
        profiles that may hold terms already."""
        t = profile_search_terms
        held: dict[tuple[str, str, str], float] = {}
        for chunk in chunks(ids):
            for r in conn.execute(select(t.c.profile_id, t.c.kind, t.c.term, t.c.weight).where(t.c.profile_id.in_(chunk))):
                held[(r.profile_id, r.kind, r.term)] = r.weight
        wanted: dict[tuple[str, str, str], float] = {(p.profile_id, term.kind, term.term): term.weight
                                                     for p in written for term in search_terms(p)}
        gone = [{"p": pid, "k": kind, "t": term} for (pid, kind, term), weight in held.items()
                if wanted.get((pid, kind, term)) != weight]
        if gone:
            conn.execute(delete(t).where(t.c.profile_id == bindparam("p"), t.c.kind == bindparam("k"),
                                         t.c.term == bindparam("t")), gone)
        new = [{"kind": kind, "term": term, "profile_id": pid, "weight": weight}
               for (pid, kind, term), weight in wanted.items() if held.get((pid, kind, term)) != weight]
        if new:
            conn.execute(t.insert(), new)

    @staticmethod
    def _write_links(conn: Connection, written: Sequence[Profile], ids: list[str]) -> None:
        """Each profile's rows of record_links: the records it holds (live or ended), no others.
        ``ids``: the profiles that may hold rows already."""
        t = record_links
        held: set[tuple[str, str, str]] = set()
        for chunk in chunks(ids):
            held |= {(r.source, r.record_id, r.profile_id) for r in conn.execute(
                select(t.c.source, t.c.record_id, t.c.profile_id).where(t.c.profile_id.in_(chunk)))}
        wanted = {(r.record.source, r.record.record_id, p.profile_id) for p in written for r in p.records.values()}
        gone = [{"s": s, "r": r, "p": p} for s, r, p in sorted(held - wanted)]
        if gone:
            conn.execute(delete(t).where(t.c.source == bindparam("s"), t.c.record_id == bindparam("r"),
                                         t.c.profile_id == bindparam("p")), gone)
        insert_new(conn, t, [{"source": s, "record_id": r, "profile_id": p} for s, r, p in sorted(wanted - held)])

    # -- reading -----------------------------------------------------------------------------------
    def profiles(self) -> Iterator[Profile]:
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=1000).execute(select(profiles.c.doc)):
                yield Profile.model_validate(row.doc)

    def checksum(self) -> str:
        """The profile documents' checksum (core.profile.checksum)."""
        return checksum(list(self.profiles()))

    def store_checksum(self) -> str:
        """The documents and where each resident lives (community, grid, 人户分离), which the
        projection derives with the gazetteer: what replay must rebuild identically."""
        cols = (profiles.c.profile_id, profiles.c.community, profiles.c.grid, profiles.c.place_basis,
                profiles.c.registered_community, profiles.c.lives_apart, profiles.c.place_contested)
        with self.engine.connect() as conn:
            rows = [[r.profile_id, r.community, r.grid, r.place_basis, r.registered_community, bool(r.lives_apart),
                     bool(r.place_contested)]
                    for r in conn.execute(select(*cols).order_by(profiles.c.profile_id))]
        digest = hashlib.sha256(self.checksum().encode())
        digest.update(json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        return digest.hexdigest()

    def links(self) -> Iterator[tuple[str, str, str]]:
        """(source, record id, profile id) of every record, in an active profile where there is one."""
        for source, record_id, profile_id, _, _ in self.located_links():
            yield source, record_id, profile_id

    def located_links(self, scope: Scope = EVERYONE) -> Iterator[tuple[str, str, str, str | None, str | None]]:
        """(source, record id, profile id, community, grid): :meth:`links` with where the
        profile's resident lives, so any labelled data set can score the communities too; only
        residents in ``scope`` (``core.access.scope_of`` the reader, ``store.scope_filter``)."""
        stmt = (
            select(record_links.c.source, record_links.c.record_id, record_links.c.profile_id, profiles.c.status,
                   profiles.c.community, profiles.c.grid)
            .join(profiles, profiles.c.profile_id == record_links.c.profile_id)
            .where(scope_filter(scope))
            .order_by(record_links.c.source, record_links.c.record_id, profiles.c.status, record_links.c.profile_id)
        )
        last: tuple[str, str] | None = None
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=5000).execute(stmt):
                if (row.source, row.record_id) != last:  # "active" sorts before "merged_into:…"
                    last = (row.source, row.record_id)
                    yield row.source, row.record_id, row.profile_id, row.community, row.grid
