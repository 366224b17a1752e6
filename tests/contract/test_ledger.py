"""The source-record ledger (``core.ports.Ledger``): one suite, run against the unit tests'
in-memory fake and the SQL ledger on real SQLite and real PostgreSQL, so the fake the agent tests
trust keeps the promises the store keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from core.ports import Delivered, Ledger
from schemas.source_record import RecordChange, SourceRecord
from store.ledger import SourceRecordLedger
from tests.fakes import MemoryLedger

T0 = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
RAW = "raw.housing"


@pytest.fixture
def ledger(backend: Engine | None) -> Ledger:
    return MemoryLedger() if backend is None else SourceRecordLedger(backend)


def version(record_id: str, payload: dict[str, str], *, minutes: int = 0, change: RecordChange = "upsert",
            source: str = "housing") -> SourceRecord:
    """One version of a department row, read ``minutes`` after T0 (a re-read: same content, new event id)."""
    return SourceRecord.of(source=source, record_id=record_id, payload=payload, mapping_version="1", change=change,
                           observed_at=T0 + timedelta(minutes=minutes), location=f"{source}.csv:{record_id}",
                           scope=f"{source}.csv")


def at(offset: int, record: SourceRecord, *, partition: int = 0, topic: str = RAW) -> Delivered:
    return Delivered(topic, partition, offset, record)


def as_kept(record: SourceRecord) -> SourceRecord:
    """What the ledger reads back: the envelope without its scope."""
    return record.model_copy(update={"scope": ""})


def state(ledger: Ledger, *records: SourceRecord) -> tuple[int, list[list[SourceRecord]], int | None, int | None]:
    return (ledger.count(), [ledger.versions(r.source, r.record_id) for r in records], ledger.position(RAW, 0),
            ledger.position(RAW, 1))


class TestLedger:
    def test_nothing_applied_keeps_nothing(self, ledger: Ledger) -> None:
        assert ledger.count() == 0 and ledger.count("housing") == 0
        assert ledger.versions("housing", "FG-1") == []
        assert ledger.position(RAW, 0) is None
        assert ledger.apply([]) == 0 and ledger.position(RAW, 0) is None

    def test_apply_returns_how_many_versions_were_new_and_they_read_back_as_sent(self, ledger: Ledger) -> None:
        a, b = version("FG-1", {"姓名": "王芳", "房号": "3-201"}), version("FG-2", {"姓名": "李强"})
        register = version("GA-1", {"姓名": "王芳"}, source="public_security")
        assert ledger.apply([at(0, a), at(1, b), at(2, register)]) == 3
        assert ledger.count() == 3 and ledger.count("housing") == 2 and ledger.count("public_security") == 1
        assert ledger.count("civil_affairs") == 0
        assert ledger.versions("housing", "FG-1") == [as_kept(a)]
        assert ledger.versions("public_security", "GA-1") == [as_kept(register)]
        assert ledger.versions("public_security", "FG-1") == []  # a record is its source's: same id elsewhere is another

    def test_a_redelivered_batch_changes_nothing_and_returns_0(self, ledger: Ledger) -> None:
        a, b = version("FG-1", {"x": "1"}), version("FG-2", {"x": "1"})
        batch = [at(0, a), at(1, b), at(0, version("FG-3", {"x": "1"}), partition=1)]
        assert ledger.apply(batch) == 3
        assert ledger.apply([at(2, version("FG-1", {"x": "2"}, minutes=1))]) == 1
        before = state(ledger, a, b)
        assert ledger.apply(batch) == 0  # after a later batch (a rebalance replays from the last commit)
        assert ledger.apply(batch[1:]) == 0  # part of it again
        assert state(ledger, a, b) == before  # the versions, and the positions too

    def test_a_version_re_sent_at_a_new_offset_is_kept_once_and_a_changed_one_is_new(self, ledger: Ledger) -> None:
        first = version("FG-1", {"x": "1"})
        assert ledger.apply([at(0, first)]) == 1
        re_read = version("FG-1", {"x": "1"}, minutes=5)  # the connector read the unchanged row again
        assert re_read.event_id != first.event_id
        assert ledger.apply([at(1, re_read)]) == 0
        changed = version("FG-1", {"x": "2"}, minutes=10)
        # the same version twice in one batch counts once
        assert ledger.apply([at(2, changed), at(3, version("FG-1", {"x": "2"}, minutes=11))]) == 1
        assert ledger.versions("housing", "FG-1") == [as_kept(first), as_kept(changed)]
        assert ledger.count() == 2

    def test_versions_of_one_record_keep_the_order_they_were_applied_in(self, ledger: Ledger) -> None:
        versions = [version("FG-1", {"房号": f"3-{n}"}, minutes=n) for n in (101, 205, 302, 404, 518)]
        ids = [v.event_id for v in versions]
        assert ids != sorted(ids) and ids != sorted(ids, reverse=True)  # applied order is not the ids' order
        hashes = [v.content_hash for v in versions]
        assert hashes != sorted(hashes) and hashes != sorted(hashes, reverse=True)
        assert ledger.apply([at(0, versions[0]), at(1, versions[1]), at(2, versions[2])]) == 3
        assert ledger.apply([at(3, versions[3]), at(4, version("FG-2", {"x": "1"})), at(5, versions[4])]) == 3
        assert [v.event_id for v in ledger.versions("housing", "FG-1")] == ids

    def test_an_end_is_kept_as_a_version_of_its_own(self, ledger: Ledger) -> None:
        alive = version("FG-1", {"x": "1"})
        ended = version("FG-1", {}, minutes=30, change="end")
        assert ledger.apply([at(0, alive)]) == 1
        assert ledger.apply([at(1, ended)]) == 1
        assert ledger.apply([at(2, version("FG-1", {}, minutes=31, change="end"))]) == 0  # the end re-sent
        assert [(v.change, v.event_id) for v in ledger.versions("housing", "FG-1")] == [
            ("upsert", alive.event_id), ("end", ended.event_id)]
        assert ledger.count("housing") == 2

    def test_the_highest_offset_applied_is_tracked_per_topic_and_partition(self, ledger: Ledger) -> None:
        assert ledger.apply([at(4, version("FG-1", {"x": "1"})), at(7, version("FG-2", {"x": "1"})),
                             at(5, version("FG-3", {"x": "1"})), at(2, version("FG-4", {"x": "1"}), partition=1),
                             at(9, version("GA-1", {"x": "1"}, source="public_security"), topic="raw.public_security")]) == 5
        assert (ledger.position(RAW, 0), ledger.position(RAW, 1)) == (7, 2)
        assert ledger.position("raw.public_security", 0) == 9 and ledger.position("raw.public_security", 1) is None
        assert ledger.position("raw.civil_affairs", 0) is None

    def test_a_message_at_or_below_the_position_counts_as_applied_already(self, ledger: Ledger) -> None:
        assert ledger.apply([at(5, version("FG-1", {"x": "1"}))]) == 1
        late = version("FG-2", {"x": "1"})
        # offsets 3 and 5 of partition 0 were applied: a new record there is taken as seen, not kept
        assert ledger.apply([at(3, late)]) == 0
        assert ledger.apply([at(5, version("FG-3", {"x": "1"}))]) == 0
        assert ledger.versions("housing", "FG-2") == [] and ledger.count() == 1
        assert ledger.position(RAW, 0) == 5  # an older offset never moves the position back
        assert ledger.apply([at(3, late, partition=1)]) == 1  # offset 3 of another partition is new
        assert ledger.apply([at(6, version("FG-3", {"x": "1"}))]) == 1
        assert (ledger.position(RAW, 0), ledger.position(RAW, 1)) == (6, 3)
