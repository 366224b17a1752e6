"""The gazetteer projection's consumer positions never move back: a batch holding a redelivered
message of one partition beside new messages of another advances only the new ones' partition
(found by the ledger's and profile projection's contract suites, where the same bug was; real SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from schemas.place_events import PlaceAssignmentCorrected
from store import positions
from store.engine import make_engine
from store.place_projection import DeliveredPlaceEvent, PlaceProjection

TOPIC = "onceonly.places"


def _correction(n: int) -> PlaceAssignmentCorrected:
    return PlaceAssignmentCorrected(event_id=f"c-{n}", place_key=f"road:秦虹路|{n}", community="秦虹社区", grid="第1网格",
                                    steward="s", occurred_at=datetime(2026, 12, 1, tzinfo=UTC))


def test_a_redelivered_message_beside_new_ones_does_not_move_its_partition_back(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    projection = PlaceProjection(engine)
    projection.apply([DeliveredPlaceEvent(TOPIC, 0, offset, _correction(offset)) for offset in range(3)])
    # partition 0's offset 1 again (a redelivery after a rebalance), with partition 1's first message
    projection.apply([DeliveredPlaceEvent(TOPIC, 0, 1, _correction(1)), DeliveredPlaceEvent(TOPIC, 1, 0, _correction(10))])
    with engine.connect() as conn:
        assert positions.applied_offsets(conn, PlaceProjection.CONSUMER) == {(TOPIC, 0): 2, (TOPIC, 1): 0}
    engine.dispose()
