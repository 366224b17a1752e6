"""The gazetteer in memory (the real one: ``store.place_projection.PlaceProjection``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from core.places import Assignment, PlaceFact, assign, record_facts
from core.ports import DeliveredPlaceEvent, Gazetteer
from schemas.place_events import PlaceAssignmentCorrected
from schemas.record_events import RecordStandardised
from tests.fakes.positions import MemoryPositions

__all__ = ["MemoryGazetteer"]

STEWARD_SOURCE = "steward"  # as store.places.STEWARD_SOURCE


class MemoryGazetteer(MemoryPositions, Gazetteer):
    """The facts in a dict by the record that stated them (a steward's correction by its key), the
    positions in another; assignments are computed from the facts when read. Holds no profiles, so
    it re-derives none. A batch is worked out on copies and kept only when all of it applied."""

    def __init__(self) -> None:
        super().__init__()
        self.facts: dict[tuple[str, str], dict[str, PlaceFact]] = {}  # (source, record id) → key → fact
        self.corrections: dict[str, PlaceFact] = {}  # key → the steward's fact

    def apply(self, batch: Sequence[DeliveredPlaceEvent]) -> int:
        fresh = self._new(batch)
        facts = dict(self.facts)
        corrections = dict(self.corrections)
        for d in fresh:
            event = d.event
            if isinstance(event, RecordStandardised):
                stated = record_facts(event.record, origin="standard_address") if event.record else ()
                facts[(event.source, event.record_id)] = {f.place_key: f for f in stated}
            elif isinstance(event, PlaceAssignmentCorrected):
                if event.community:
                    corrections[event.place_key] = PlaceFact(event.place_key, "steward", STEWARD_SOURCE, "",
                                                             event.community, event.grid)
                else:
                    corrections.pop(event.place_key, None)
        self.facts = {rec: held for rec, held in facts.items() if held}
        self.corrections = corrections
        self._advance(fresh)
        return len(fresh)

    def healthy(self) -> bool:
        return True

    def skip(self, delivered: Sequence[Any]) -> None:
        self._advance(self._new(delivered))

    def assignments(self, keys: Iterable[str]) -> dict[str, Assignment]:
        found: dict[str, Assignment] = {}
        for key in set(keys):
            of_key = [f for held in self.facts.values() if (f := held.get(key)) is not None]
            if key in self.corrections:
                of_key.append(self.corrections[key])
            if (assignment := assign(of_key)) is not None:
                found[key] = assignment
        return found
