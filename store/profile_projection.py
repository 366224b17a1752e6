"""Projecting profile events into the profile store, idempotently.

Each batch folds its events into the profiles they touch (core.profile.apply), writes the rows, their
read side (grid, search-hit columns, search terms: core.profile.read_side) and the consumed offsets
in one transaction. A redelivered event (offset applied, or version not newer)
changes nothing; replaying the whole topic into an empty database gives the same checksum.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, select

from core.access.views import render
from core.places import ProfilePlace
from core.privacy import keyed_hash, mask_id_number
from core.profile import Profile, apply, checksum
from core.profile.read_side import search_terms
from schemas.codec import encode
from schemas.profile_events import ProfileEvent
from store import positions
from store.engine import write_transaction
from store.places import PlaceIndex, place_columns
from store.profile_tables import profile_event_log, profile_search_terms, profiles, record_links
from store.upsert import insert_new, upsert


@dataclass(frozen=True)
class DeliveredEvent:
    topic: str
    partition: int
    offset: int
    event: ProfileEvent


class ProfileProjection:
    CONSUMER = "profiles"

    def __init__(self, engine: Engine, *, id_hash_key: str) -> None:
        self.engine = engine
        self.id_hash_key = id_hash_key
        self.places = PlaceIndex()

    def apply(self, batch: Sequence[DeliveredEvent]) -> int:
        """Fold a batch into the store with its offsets; return how many events took effect."""
        with write_transaction(self.engine) as conn:
            seen = positions.applied_offsets(conn, self.CONSUMER)
            fresh = [d for d in batch if positions.is_new(seen, d.topic, d.partition, d.offset)]
            touched: dict[str, Profile | None] = {}
            applied = 0
            for delivered in fresh:
                event = delivered.event
                if event.profile_id not in touched:
                    touched[event.profile_id] = self._load(conn, event.profile_id)
                before = touched[event.profile_id]
                if before is not None and event.version <= before.version:
                    continue  # already folded (redelivery from another offset)
                touched[event.profile_id] = apply(before, event)
                insert_new(conn, profile_event_log, [{
                    "event_id": event.event_id, "profile_id": event.profile_id, "version": event.version,
                    "occurred_at": event.occurred_at, "type": type(event).__name__,
                    "payload": encode(event).decode("utf-8"),
                }])
                applied += 1
            self.write_profiles(conn, [p for p in touched.values() if p is not None])
            positions.advance(conn, self.CONSUMER, [(d.topic, d.partition, d.offset) for d in batch])
        return applied

    def _load(self, conn: Connection, profile_id: str) -> Profile | None:
        doc = conn.execute(select(profiles.c.doc).where(profiles.c.profile_id == profile_id)).scalar_one_or_none()
        return None if doc is None else Profile.model_validate(doc)

    def write_profiles(self, conn: Connection, written: Sequence[Profile]) -> None:
        """Write folded profiles with their read side, in the caller's transaction (``apply`` after
        folding; a bulk load of already folded profiles, as the query bench builds its store)."""
        if not written:
            return
        # Where each resident lives: what the records teach the gazetteer first, then every
        # profile located through a key whose assignment moved (core.places).
        self.places.lock(conn)
        moved = self.places.reassign(conn, self.places.learn_from_profiles(conn, written))
        located = self.places.locate(conn, written, moved)
        for profile in written:
            self._write(conn, profile, located[profile.profile_id])

    def _write(self, conn: Connection, profile: Profile, place: ProfilePlace) -> None:
        golden = profile.golden
        id_number = golden.id_number.value if golden.id_number else None
        name = golden.name.value if golden.name else None
        name_key = None
        for linked in profile.live_records.values():
            if linked.record.name_pinyin:
                name_key = linked.record.name_pinyin
                break
        shown_address = golden.residential_address or golden.registered_address
        upsert(conn, profiles, [{
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
            "updated_at": profile.updated_at,
            "doc": profile.model_dump(mode="json"),
        }], keys=("profile_id",), update=("version", "status", "merged_into", "name", "name_key", "birth_date",
                                          "id_hash", "household_id", "community", "grid", "place_basis",
                                          "registered_community", "lives_apart", "place_contested", "sex", "relation_to_head",
                                          "address", "id_masked", "updated_at", "doc"))
        self._write_terms(conn, profile)
        conn.execute(delete(record_links).where(record_links.c.profile_id == profile.profile_id))
        links = [{"source": r.record.source, "record_id": r.record.record_id, "profile_id": profile.profile_id}
                 for r in profile.records.values()]
        if links:
            insert_new(conn, record_links, links)

    @staticmethod
    def _write_terms(conn: Connection, profile: Profile) -> None:
        """Only the search terms that changed: most events (a review, a life event, a linked record
        with the same name, phone and address) change none of a profile's ~45 terms."""
        t = profile_search_terms
        held = {(r.kind, r.term): r.weight for r in conn.execute(
            select(t.c.kind, t.c.term, t.c.weight).where(t.c.profile_id == profile.profile_id))}
        wanted = {(term.kind, term.term): term.weight for term in search_terms(profile)}
        gone = [key for key, weight in held.items() if wanted.get(key) != weight]
        for kind, term in gone:
            conn.execute(delete(t).where(t.c.profile_id == profile.profile_id, t.c.kind == kind, t.c.term == term))
        new = [{"kind": kind, "term": term, "profile_id": profile.profile_id, "weight": weight}
               for (kind, term), weight in wanted.items() if held.get((kind, term)) != weight]
        if new:
            conn.execute(t.insert(), new)

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

    def located_links(self) -> Iterator[tuple[str, str, str, str | None, str | None]]:
        """(source, record id, profile id, community, grid): :meth:`links` with where the
        profile's resident lives, so any labelled data set can score the communities too."""
        stmt = (
            select(record_links.c.source, record_links.c.record_id, record_links.c.profile_id, profiles.c.status,
                   profiles.c.community, profiles.c.grid)
            .join(profiles, profiles.c.profile_id == record_links.c.profile_id)
            .order_by(record_links.c.source, record_links.c.record_id, profiles.c.status, record_links.c.profile_id)
        )
        last: tuple[str, str] | None = None
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=5000).execute(stmt):
                if (row.source, row.record_id) != last:  # "active" sorts before "merged_into:…"
                    last = (row.source, row.record_id)
                    yield row.source, row.record_id, row.profile_id, row.community, row.grid
