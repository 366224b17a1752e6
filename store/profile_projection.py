"""Projecting profile events into the profile store, idempotently.

Each batch folds its events into the profiles they touch (core.profile.apply), writes the rows, their
read side (grid, search-hit columns, search terms: core.profile.read_side) and the consumed offsets
in one transaction. A redelivered event (offset applied, or version not newer)
changes nothing; replaying the whole topic into an empty database gives the same checksum.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, select

from core.access.views import render
from core.privacy import keyed_hash, mask_id_number
from core.profile import Profile, apply, checksum
from core.profile.read_side import qualified_grid, search_terms
from schemas.codec import encode
from schemas.profile_events import ProfileEvent
from store import positions
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

    def apply(self, batch: Sequence[DeliveredEvent]) -> int:
        """Fold a batch into the store with its offsets; return how many events took effect."""
        with self.engine.begin() as conn:
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
            for profile in touched.values():
                if profile is not None:
                    self._write(conn, profile)
            positions.advance(conn, self.CONSUMER, [(d.topic, d.partition, d.offset) for d in batch])
        return applied

    def _load(self, conn: Connection, profile_id: str) -> Profile | None:
        doc = conn.execute(select(profiles.c.doc).where(profiles.c.profile_id == profile_id)).scalar_one_or_none()
        return None if doc is None else Profile.model_validate(doc)

    def _write(self, conn: Connection, profile: Profile) -> None:
        golden = profile.golden
        id_number = golden.id_number.value if golden.id_number else None
        name = golden.name.value if golden.name else None
        residential = golden.residential_address.value if golden.residential_address else None
        registered = golden.registered_address.value if golden.registered_address else None
        community = (residential and residential.community) or (registered and registered.community) or None
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
            "community": community,
            "grid": qualified_grid(profile, community),
            "sex": render(golden.sex.value) if golden.sex else None,
            "relation_to_head": render(golden.relation_to_head.value) if golden.relation_to_head else None,
            "address": render(shown_address.value) if shown_address else None,
            "id_masked": mask_id_number(id_number) if id_number else None,
            "updated_at": profile.updated_at,
            "doc": profile.model_dump(mode="json"),
        }], keys=("profile_id",), update=("version", "status", "merged_into", "name", "name_key", "birth_date",
                                          "id_hash", "household_id", "community", "grid", "sex", "relation_to_head",
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
        return checksum(list(self.profiles()))

    def links(self) -> Iterator[tuple[str, str, str]]:
        """(source, record id, profile id) of every record, in an active profile where there is one."""
        stmt = (
            select(record_links.c.source, record_links.c.record_id, record_links.c.profile_id, profiles.c.status)
            .join(profiles, profiles.c.profile_id == record_links.c.profile_id)
            .order_by(record_links.c.source, record_links.c.record_id, profiles.c.status, record_links.c.profile_id)
        )
        last: tuple[str, str] | None = None
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=5000).execute(stmt):
                if (row.source, row.record_id) != last:  # "active" sorts before "merged_into:…"
                    last = (row.source, row.record_id)
                    yield row.source, row.record_id, row.profile_id
