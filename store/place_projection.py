"""Projecting the places topic into the gazetteer: the grid centre's standard-address rows
(upserts and ends) and stewards' corrections, idempotently, with the consumed offsets in the
same transaction. Every profile whose place a key whose assignment moved can change is re-derived
(store.places.PlaceIndex.rederive)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Engine

from core.places import Assignment, record_facts
from core.ports import DeliveredPlaceEvent as DeliveredPlaceEvent  # defined with the port; imported from here too
from core.ports import Gazetteer
from schemas.place_events import PlaceAssignmentCorrected
from schemas.record_events import RecordStandardised
from store import positions
from store.engine import write_transaction
from store.places import PlaceIndex
from store.positions import TrackedConsumer

__all__ = ["DeliveredPlaceEvent", "PlaceProjection"]


class PlaceProjection(TrackedConsumer, Gazetteer):
    """The gazetteer in SQL (``core.ports.Gazetteer``). ``index.rederived_changed`` counts the
    profiles whose place the batches applied changed."""

    CONSUMER = "places"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.index = PlaceIndex()

    def apply(self, batch: Sequence[DeliveredPlaceEvent]) -> int:
        """Apply a batch; return how many messages were new (the profiles whose place changed:
        ``index.rederived_changed``)."""
        with write_transaction(self.engine) as conn:
            seen = positions.applied_offsets(conn, self.CONSUMER)
            fresh = [d for d in batch if positions.is_new(seen, d.topic, d.partition, d.offset)]
            if not fresh:
                return 0
            self.index.lock(conn)
            changed: set[str] = set()
            for delivered in fresh:
                event = delivered.event
                if isinstance(event, RecordStandardised):
                    facts = record_facts(event.record, origin="standard_address") if event.record else ()
                    changed |= self.index.replace_facts(conn, event.source, event.record_id, facts)
                elif isinstance(event, PlaceAssignmentCorrected):
                    changed |= self.index.correct(conn, event.place_key, event.community, event.grid)
            moved = self.index.reassign(conn, changed)
            self.index.rederive(conn, moved)
            # only the new messages: a redelivered part of the batch must not move its partition back
            positions.advance(conn, self.CONSUMER, [(d.topic, d.partition, d.offset) for d in fresh])
        return len(fresh)

    def assignments(self, keys: Iterable[str]) -> dict[str, Assignment]:
        with self.engine.connect() as conn:
            return self.index.assignments(conn, keys)
