"""The store's contract, run on SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

from sqlalchemy import Engine

from schemas.source_record import SourceRecord
from store import positions
from store.ledger import Delivered, SourceRecordLedger


def _delivered(offset: int, record_id: str, payload: dict[str, str]) -> Delivered:
    record = SourceRecord.of(source="housing", record_id=record_id, payload=payload, mapping_version="1")
    return Delivered("raw.housing", 0, offset, record)


def test_ledger_writes_each_version_once(store_engine: Engine) -> None:
    ledger = SourceRecordLedger(store_engine)
    assert ledger.apply([_delivered(0, "A", {"x": "1"}), _delivered(1, "B", {"x": "1"})]) == 2
    assert ledger.count("housing") == 2


def test_a_redelivered_batch_changes_nothing(store_engine: Engine) -> None:
    ledger = SourceRecordLedger(store_engine)
    batch = [_delivered(0, "A", {"x": "1"}), _delivered(1, "B", {"x": "1"})]
    ledger.apply(batch)
    assert ledger.apply(batch) == 0
    assert ledger.count() == 2


def test_the_same_version_sent_twice_is_stored_once(store_engine: Engine) -> None:
    ledger = SourceRecordLedger(store_engine)
    ledger.apply([_delivered(0, "A", {"x": "1"})])
    # a connector re-sent the identical row (new event id, new offset, same content)
    assert ledger.apply([_delivered(1, "A", {"x": "1"})]) == 0
    assert ledger.apply([_delivered(2, "A", {"x": "2"})]) == 1
    assert ledger.count() == 2


def test_positions_are_kept_per_consumer_and_partition(store_engine: Engine) -> None:
    with store_engine.begin() as conn:
        positions.advance(conn, "c1", [("t", 0, 5), ("t", 0, 3), ("t", 1, 9)])
        positions.advance(conn, "c2", [("t", 0, 1)])
    with store_engine.connect() as conn:
        assert positions.applied_offsets(conn, "c1") == {("t", 0): 5, ("t", 1): 9}
        assert positions.applied_offsets(conn, "c2") == {("t", 0): 1}
