"""Messages fetched before a partition's first commit are fetched again after a rebalance.

faust drops what it fetched but had not handed to an agent and asks the consumer to seek back to
the committed offsets; aiokafka seeks only to a committed offset above 0, so without the fix in
``streams.faust_fixes`` a partition with nothing (or 0) committed keeps its position past the
dropped messages. Real broker, real aiokafka consumer in a consumer group.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped]
from aiokafka.structs import OffsetAndMetadata, TopicPartition  # type: ignore[import-untyped]

from kafka_adapter.admin import ensure_topics
from localinfra.kafka_broker import KafkaBroker
from streams.faust_fixes import seek_to_committed_or_beginning

pytestmark = pytest.mark.kafka


async def _fetched_past(bootstrap: str, topic: str, group: str, commit: int | None) -> tuple[int, int]:
    """Fetch all 10 messages in ``group``, optionally commit ``commit``; return the position after
    aiokafka's own ``seek_to_committed`` and after the fixed one."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for n in range(10):
            await producer.send_and_wait(topic, f"m{n}".encode(), partition=0)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        got = 0
        while got < 10:
            got += sum(len(m) for m in (await consumer.getmany(timeout_ms=2000)).values())
        if commit is not None:
            await consumer.commit({tp: OffsetAndMetadata(commit, "")})
        await consumer.seek_to_committed()
        plain = await consumer.position(tp)
        await seek_to_committed_or_beginning(consumer)
        fixed = await consumer.position(tp)
        return plain, fixed
    finally:
        await consumer.stop()


@pytest.mark.parametrize("commit", [None, 0, 4])
def test_a_seek_to_committed_goes_back_even_with_nothing_or_zero_committed(kafka_broker: KafkaBroker,
                                                                         commit: int | None) -> None:
    topic = f"seek-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_broker.bootstrap, [topic], partitions=1)
    plain, fixed = asyncio.run(_fetched_past(kafka_broker.bootstrap, topic, f"g-{topic}", commit))
    if commit:
        assert plain == fixed == commit  # aiokafka's own seek works when something above 0 is committed
    else:
        assert plain == 10  # the library's behaviour the fix is for: the position stays past them
        assert fixed == 0  # fixed: fetched again from the beginning (or from 0)


def test_the_workers_use_the_fixed_seek() -> None:
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    from streams.app import StreamWiring, build_app
    from tests.fakes import MemoryLedger

    build_app(StreamWiring(app_id="seek-fix", bootstrap="localhost:1", raw_topics=["raw"], records_topic="records",
                           deadletter_topic="dead", ledger=MemoryLedger()))
    assert getattr(AIOKafkaConsumerThread.seek_to_committed, "onceonly_fix", False)
