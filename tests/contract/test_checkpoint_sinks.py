"""The audit chain's checkpoint sinks (``store.audit_checkpoints.CheckpointSink``): one suite, run
against the tests' in-memory fake, the checkpoint file and the checkpoints topic on a real Kafka
broker. ``verify`` trusts whatever a sink reads back, so every sink must keep the same promises."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.audit_checkpoint_topic import CheckpointTopic
from localinfra.kafka_broker import KafkaBroker
from store.audit_checkpoints import Checkpoint, CheckpointFile, CheckpointSink, sign_checkpoint
from tests.fakes import MemoryCheckpointSink

KEY = b"contract-audit-key"
AT = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)


@dataclass
class Place:
    """Where a sink under test keeps checkpoints: ``open()`` gives another sink on the same place
    (another process's checkpointer, or verify)."""

    open: Callable[[], CheckpointSink]
    opened: list[CheckpointSink] = field(default_factory=list)

    def sink(self) -> CheckpointSink:
        sink = self.open()
        self.opened.append(sink)
        return sink


@pytest.fixture(params=["memory", "file", pytest.param("kafka", marks=pytest.mark.kafka)])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Place]:
    if request.param == "memory":
        kept: list[Checkpoint] = []
        place = Place(lambda: MemoryCheckpointSink(kept))
    elif request.param == "file":
        place = Place(lambda: CheckpointFile(tmp_path / "audit" / "checkpoints.jsonl"))
    else:
        broker: KafkaBroker = request.getfixturevalue("kafka_broker")
        topic = f"t{uuid.uuid4().hex[:12]}.audit-checkpoints"
        place = Place(lambda: CheckpointTopic(lambda: broker.bootstrap, topic))
    yield place
    for sink in place.opened:
        sink.close()


def checkpoint(seq: int, *, writer: str = "host-a:101") -> Checkpoint:
    return sign_checkpoint(KEY, seq, f"{seq:064x}", 0, writer=writer, at=AT + timedelta(seconds=seq))


class TestCheckpointSink:
    def test_nothing_written_reads_as_nothing(self, place: Place) -> None:
        assert place.sink().read() == []

    def test_what_is_written_is_read_back_as_written_and_still_signed(self, place: Place) -> None:
        sink = place.sink()
        written = [checkpoint(seq) for seq in (3, 7, 12)]
        for c in written:
            sink.write(c)
        read = sink.read()
        assert read[-1] == written[-1].to_json()  # the newest, byte for byte
        parsed = [Checkpoint.from_json(line) for line in read]
        assert all(c.signed_by(KEY) and not c.signed_by(b"another key") for c in parsed)
        assert [c for c in written if c in parsed] == parsed  # nothing made up, the order kept

    def test_another_sink_on_the_same_place_reads_what_one_wrote(self, place: Place) -> None:
        place.sink().write(checkpoint(5))
        assert [Checkpoint.from_json(line) for line in place.sink().read()] == [checkpoint(5)]

    def test_each_writers_newest_checkpoint_is_kept_and_their_order_too(self, place: Place) -> None:
        first, second = place.sink(), place.sink()  # two processes' checkpointers
        for seq in (1, 2, 3):
            first.write(checkpoint(seq, writer="host-a:101"))
            second.write(checkpoint(seq * 10, writer="host-b:202"))
        parsed = [Checkpoint.from_json(line) for line in place.sink().read()]
        for writer, newest in (("host-a:101", 3), ("host-b:202", 30)):
            own = [c.seq for c in parsed if c.writer == writer]
            assert own and own[-1] == newest and own == sorted(own)

    def test_a_sink_has_a_name_to_report_it_by(self, place: Place) -> None:
        sink = place.sink()
        assert isinstance(sink.name, str) and sink.name.strip()
