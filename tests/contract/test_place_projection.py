"""The gazetteer as a projection of the places topic (``core.ports.Gazetteer``): one suite, run
against the unit tests' in-memory fake and the SQL projection on real SQLite and real PostgreSQL,
so a fake standing in for the gazetteer assigns keys, skips and tracks positions as the store does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel
from sqlalchemy import Engine

from core.places import Assignment, record_facts
from core.ports import DeliveredPlaceEvent, Gazetteer
from core.standardise.addresses import parse_address
from schemas.place_events import PlaceAssignmentCorrected
from schemas.record_events import RecordStandardised
from schemas.resident import ResidentRecord
from store.place_projection import PlaceProjection
from tests.fakes import MemoryGazetteer

TOPIC = "places"
T0 = datetime(2026, 12, 1, tzinfo=UTC)
BUILDING = "秦虹路12号秦虹小区3幢"


@pytest.fixture
def gazetteer(backend: Engine | None) -> Gazetteer:
    return MemoryGazetteer() if backend is None else PlaceProjection(backend)


def row(record_id: str, community: str, grid: str, address: str = BUILDING, *, end: bool = False) -> RecordStandardised:
    """A grid centre's standard-address row (or its end)."""
    record = ResidentRecord(source="grid_centre", record_id=record_id, observed_at=T0,
                            addresses={"residential": parse_address(address)},
                            attributes={"community": community, "grid": grid})
    return RecordStandardised(event_id=f"gc-{record_id}-{community}-{end}", source="grid_centre", record_id=record_id,
                              change="end" if end else "upsert", content_hash=f"h-{community}-{grid}",
                              observed_at=T0, record=None if end else record)


def correction(key: str, community: str | None, grid: str | None = None, n: int = 0) -> PlaceAssignmentCorrected:
    return PlaceAssignmentCorrected(event_id=f"c-{key}-{community}-{n}", place_key=key, community=community, grid=grid,
                                    steward="s", occurred_at=T0)


def keys_of(address: str = BUILDING) -> list[str]:
    record = row("x", "甲社区", "第1网格", address).record
    assert record is not None
    return sorted({f.place_key for f in record_facts(record, origin="standard_address")})


def at(offset: int, event: BaseModel, partition: int = 0) -> DeliveredPlaceEvent:
    return DeliveredPlaceEvent(TOPIC, partition, offset, event)


def communities(gazetteer: Gazetteer, keys: list[str]) -> dict[str, str]:
    return {k: a.community for k, a in gazetteer.assignments(keys).items()}


class TestGazetteer:
    def test_nothing_applied_assigns_nothing_and_the_store_answers(self, gazetteer: Gazetteer) -> None:
        keys = keys_of()
        assert len(keys) >= 2  # the building, its compound, its door number...
        assert gazetteer.assignments(keys) == {}
        assert gazetteer.healthy() is True
        assert gazetteer.apply([]) == 0 and gazetteer.assignments(keys) == {}

    def test_a_standard_row_assigns_its_keys_and_its_next_version_replaces_it(self, gazetteer: Gazetteer) -> None:
        keys = keys_of()
        assert gazetteer.apply([at(0, row("A1", "秦虹社区", "第2网格"))]) == 1
        assert gazetteer.assignments(keys + ["c:elsewhere#1"]) == {
            k: Assignment("秦虹社区", "第2网格", "standard_address") for k in keys}
        # the row's next version moves the building: its facts replace the old ones (no disagreement left behind)
        assert gazetteer.apply([at(1, row("A1", "扇骨里社区", "第1网格"))]) == 1
        assert gazetteer.assignments(keys) == {k: Assignment("扇骨里社区", "第1网格", "standard_address") for k in keys}
        # a second row on the same building that disagrees: both stand, the key is flagged
        assert gazetteer.apply([at(2, row("A2", "秦虹社区", "第2网格"))]) == 1
        assert all(a.disagreement for a in gazetteer.assignments(keys).values())
        # the row's end withdraws its facts: the other row alone assigns the keys
        assert gazetteer.apply([at(3, row("A1", "扇骨里社区", "第1网格", end=True))]) == 1
        assert gazetteer.assignments(keys) == {k: Assignment("秦虹社区", "第2网格", "standard_address") for k in keys}
        assert gazetteer.apply([at(4, row("A2", "秦虹社区", "第2网格", end=True))]) == 1
        assert gazetteer.assignments(keys) == {}

    def test_a_stewards_correction_wins_replaces_the_last_and_can_be_withdrawn(self, gazetteer: Gazetteer) -> None:
        keys = keys_of()
        building = "c:秦虹#3"  # the compound's building: one key of the row's four
        assert building in keys and len(keys) > 1
        standard = Assignment("秦虹社区", "第2网格", "standard_address")
        assert gazetteer.apply([at(0, row("A1", "秦虹社区", "第2网格")),
                                at(1, correction(building, "扇骨里社区", "第1网格"))]) == 2
        assert gazetteer.assignments(keys) == {**{k: standard for k in keys},
                                               building: Assignment("扇骨里社区", "第1网格", "steward")}
        assert gazetteer.apply([at(2, correction(building, "中和村社区", "第3网格"))]) == 1
        assert gazetteer.assignments([building]) == {building: Assignment("中和村社区", "第3网格", "steward")}
        assert gazetteer.apply([at(3, correction(building, None))]) == 1  # withdrawn: the file holds the key again
        assert gazetteer.assignments(keys) == {k: standard for k in keys}
        # a correction of a key no file speaks of assigns it alone; withdrawn, nothing is left
        assert gazetteer.apply([at(4, correction("c:无名小区#9", "秦虹社区"))]) == 1
        assert communities(gazetteer, ["c:无名小区#9"]) == {"c:无名小区#9": "秦虹社区"}
        assert gazetteer.apply([at(5, correction("c:无名小区#9", None))]) == 1
        assert gazetteer.assignments(["c:无名小区#9"]) == {}

    def test_apply_counts_the_new_messages_and_a_redelivery_is_not_applied_again(self, gazetteer: Gazetteer) -> None:
        first = [at(0, correction("c:甲#1", "甲社区")), at(1, correction("c:甲#1", "乙社区", n=1)),
                 at(2, correction("c:丙#1", "丙社区"))]
        assert gazetteer.apply(first) == 3
        assert communities(gazetteer, ["c:甲#1", "c:丙#1"]) == {"c:甲#1": "乙社区", "c:丙#1": "丙社区"}
        # redelivered: offset 0 again would undo offset 1's correction, were it applied
        assert gazetteer.apply(first[:1]) == 0 and gazetteer.apply(first) == 0
        assert communities(gazetteer, ["c:甲#1", "c:丙#1"]) == {"c:甲#1": "乙社区", "c:丙#1": "丙社区"}
        # part redelivered, part new: only the new count, and only they take effect
        assert gazetteer.apply([at(2, correction("c:丙#1", "丁社区")), at(3, correction("c:戊#1", "戊社区"))]) == 1
        assert communities(gazetteer, ["c:丙#1", "c:戊#1"]) == {"c:丙#1": "丙社区", "c:戊#1": "戊社区"}

    def test_a_redelivery_beside_new_messages_never_moves_its_partition_back(self, gazetteer: Gazetteer) -> None:
        assert gazetteer.apply([at(o, correction(f"c:甲#{o}", "甲社区")) for o in range(3)]) == 3
        # partition 0's offset 1 again (a rebalance), beside partition 1's first message
        assert gazetteer.apply([at(1, correction("c:甲#1", "乙社区")), at(0, correction("c:乙#1", "乙社区"), 1)]) == 1
        assert communities(gazetteer, ["c:甲#1", "c:乙#1"]) == {"c:甲#1": "甲社区", "c:乙#1": "乙社区"}
        # partition 0 still stands at 2: offset 2 is applied already, offset 3 is new
        assert gazetteer.apply([at(2, correction("c:甲#2", "乙社区"))]) == 0
        assert communities(gazetteer, ["c:甲#2"]) == {"c:甲#2": "甲社区"}
        assert gazetteer.apply([at(3, correction("c:甲#2", "乙社区"))]) == 1
        assert communities(gazetteer, ["c:甲#2"]) == {"c:甲#2": "乙社区"}

    def test_each_partition_keeps_its_own_position(self, gazetteer: Gazetteer) -> None:
        assert gazetteer.apply([at(o, correction(f"c:甲#{o}", "甲社区")) for o in range(5)]) == 5
        # partition 1 has applied nothing: its offsets 0..1 are new, though partition 0 is past them
        assert gazetteer.apply([at(o, correction(f"c:乙#{o}", "乙社区"), 1) for o in range(2)]) == 2
        assert gazetteer.apply([at(1, correction("c:乙#1", "丙社区"), 1)]) == 0
        assert gazetteer.apply([at(4, correction("c:乙#4", "乙社区"), 1)]) == 1  # partition 0's 4 is not partition 1's
        assert communities(gazetteer, ["c:乙#0", "c:乙#1", "c:乙#4"]) == {"c:乙#0": "乙社区", "c:乙#1": "乙社区",
                                                                       "c:乙#4": "乙社区"}

    def test_skipped_messages_are_not_applied_count_as_handled_and_an_older_skip_never_moves_back(
        self, gazetteer: Gazetteer
    ) -> None:
        batch = [at(o, correction(f"c:甲#{o}", "甲社区")) for o in range(3)]
        gazetteer.skip(batch)
        assert gazetteer.assignments([f"c:甲#{o}" for o in range(3)]) == {}  # skipped, not applied
        gazetteer.skip(batch[:1])  # an older skip (a redelivered poison message)
        assert gazetteer.apply(batch) == 0 and gazetteer.apply(batch[2:]) == 0
        assert gazetteer.assignments([f"c:甲#{o}" for o in range(3)]) == {}
        assert gazetteer.apply([at(3, correction("c:甲#3", "甲社区"))]) == 1
        assert gazetteer.apply([at(o, correction(f"c:乙#{o}", "乙社区"), 1) for o in range(3)]) == 3  # its own offsets
        assert communities(gazetteer, ["c:甲#3", "c:乙#0", "c:乙#2"]) == {"c:甲#3": "甲社区", "c:乙#0": "乙社区",
                                                                       "c:乙#2": "乙社区"}
