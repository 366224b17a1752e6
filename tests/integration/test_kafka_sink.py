"""The connectors' sink on the real broker: what ``flush`` returns is what the topic holds, a
key's records keep their order across many batches, and a broker that goes away and comes back
mid-page costs a wait, not a record."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition
from pydantic import BaseModel

from connectors.kafka_sink import Acked, KafkaSink, murmur2
from kafka_adapter.admin import ensure_topics
from localinfra.kafka_broker import KafkaBroker

pytestmark = pytest.mark.kafka


class Numbered(BaseModel):
    key: str
    seq: int
    text: str


def _messages(bootstrap: str, topic: str) -> Iterator[tuple[int, int, str, dict[str, object]]]:
    """(partition, offset, key, data) of every message on ``topic``."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for tp, records in consumer.poll(timeout_ms=2000).items():
                for r in records:
                    yield tp.partition, r.offset, r.key.decode(), json.loads(r.value)["data"]
    finally:
        consumer.close()


def test_flush_returns_where_each_record_landed_and_a_keys_records_keep_their_order(
        kafka_broker: KafkaBroker) -> None:
    topic = "sink-order"
    ensure_topics(kafka_broker.bootstrap, [topic], partitions=3)
    keys = [f"public_security:{n}" for n in range(7)]
    # ~2 MB: dozens of batches per partition, some closed while the page is still being sent
    with KafkaSink(kafka_broker.bootstrap) as sink:
        for seq in range(3500):
            key = keys[seq % len(keys)]
            sink.send(topic, key, Numbered(key=key, seq=seq, text="记录" * 250))
        acked = sink.flush(timeout=120)

    found = list(_messages(kafka_broker.bootstrap, topic))
    assert len(acked) == len(found) == 3500
    assert {(a.partition, a.offset) for a in acked} == {(p, o) for p, o, _, _ in found}
    assert all(isinstance(a, Acked) and a.topic == topic for a in acked)
    seqs: dict[str, list[int]] = defaultdict(list)
    for partition, _, key, data in sorted(found, key=lambda m: (m[0], m[1])):
        assert partition == (murmur2(key.encode()) & 0x7FFFFFFF) % 3  # Kafka's default partitioner
        assert data["key"] == key
        seqs[key].append(int(str(data["seq"])))
    assert {k: v == sorted(v) and len(v) == 500 for k, v in seqs.items()} == {k: True for k in keys}


def test_a_broker_that_restarts_mid_page_gets_every_record_once(tmp_path: Path) -> None:
    topic = "sink-restart"
    with KafkaBroker.started(tmp_path / "kafka") as broker:
        ensure_topics(broker.bootstrap, [topic], partitions=2)
        with KafkaSink(broker.bootstrap) as sink:
            for seq in range(500):
                sink.send(topic, f"k{seq}", Numbered(key=f"k{seq}", seq=seq, text="x"))
            assert len(sink.flush(timeout=60)) == 500
            broker.stop()
            for seq in range(500, 1000):  # sent while the broker is away: held and retried
                sink.send(topic, f"k{seq}", Numbered(key=f"k{seq}", seq=seq, text="x"))
            broker.start(timeout=120)
            assert len(sink.flush(timeout=120)) == 500
        seqs = sorted(int(str(data["seq"])) for _, _, _, data in _messages(broker.bootstrap, topic))
    assert seqs == list(range(1000))
