"""Rebuilding the profile store from the log: read profile-events from the start into an empty store."""

from __future__ import annotations

from collections.abc import Callable

from kafka import KafkaConsumer, TopicPartition

from schemas.codec import decode
from schemas.profile_events import ProfileEvent
from store.profile_projection import DeliveredEvent, ProfileProjection

BATCH = 1000


def replay_into(projection: ProfileProjection, bootstrap: str, topic: str,
                progress: Callable[[int], None] | None = None) -> int:
    """Fold every event now in ``topic`` into ``projection``; return how many were read."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             client_id="onceonly-replay", max_poll_records=BATCH)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            return 0
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        remaining = {tp for tp in tps if ends[tp] > 0}
        read = 0
        while remaining:
            batch: list[DeliveredEvent] = []
            for tp, messages in consumer.poll(timeout_ms=1000).items():
                for m in messages:
                    if m.offset < ends[tp]:
                        event = decode(m.value)
                        if isinstance(event, ProfileEvent):
                            batch.append(DeliveredEvent(m.topic, m.partition, m.offset, event))
            if batch:
                projection.apply(batch)
                read += len(batch)
                if progress is not None:
                    progress(read)
            remaining = {tp for tp in remaining if consumer.position(tp) < ends[tp]}
        return read
    finally:
        consumer.close()
