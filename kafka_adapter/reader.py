"""Reading a topic from its beginning to its current end, outside a faust worker (replay, training)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from kafka import TopicPartition
from pydantic import BaseModel

from kafka_adapter import clients
from schemas.codec import decode

BATCH = 1000


@dataclass(frozen=True)
class Logged:
    topic: str
    partition: int
    offset: int
    event: BaseModel


def read_log(bootstrap: str, topic: str, *, client_id: str = "onceonly-log-reader",
             upto: Mapping[int, int] | None = None) -> Iterator[list[Logged]]:
    """Batches of every message now in ``topic``, decoded; stops at the end offsets seen at start,
    or with ``upto`` (partition → last offset wanted) at those offsets: what a consumer whose
    applied positions they are has seen (a partition not in ``upto`` gives nothing)."""
    consumer = clients.consumer(bootstrap, client_id=client_id, max_poll_records=BATCH)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            return
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        if upto is not None:
            ends = {tp: min(end, upto.get(tp.partition, -1) + 1) for tp, end in ends.items()}
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            batch = [
                Logged(m.topic, m.partition, m.offset, decode(m.value))
                for tp, messages in consumer.poll(timeout_ms=1000).items()
                for m in messages if m.offset < ends[tp]
            ]
            if batch:
                yield batch
            remaining = {tp for tp in remaining if consumer.position(tp) < ends[tp]}
    finally:
        consumer.close()
