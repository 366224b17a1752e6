"""The audit chain's checkpoints in a Kafka topic: the second outside anchor beside the file.

One record per checkpoint, keyed by the process that wrote it, the value the signed checkpoint's
JSON (no resident data: sequence number, hash, times). The topic is compacted, so it keeps at
least each writer's newest checkpoint for as long as the cluster lives (the newest one is what
``verify`` needs: it pins every entry before it); it is never deleted by age.
"""

from __future__ import annotations

from collections.abc import Callable

from kafka import KafkaProducer, TopicPartition

from kafka_adapter import clients
from store.audit_checkpoints import Checkpoint, CheckpointSink

__all__ = ["CheckpointTopic"]


class CheckpointTopic(CheckpointSink):
    def __init__(self, address: Callable[[], str | None], topic: str, *, timeout: float = 10.0) -> None:
        # Called when needed, None when no broker is configured or running (then the file alone
        # keeps checkpoints): the local broker may start after the service.
        self.address = address
        self.topic = topic
        self.timeout = timeout
        self.name = f"Kafka topic {topic}"
        self._producer: KafkaProducer | None = None

    def write(self, checkpoint: Checkpoint) -> None:
        if self._producer is None:
            address = self.address()
            if address is None:
                return
            self._producer = clients.producer(address, client_id="onceonly-audit-checkpoints",
                                              acks="all", retries=5, max_block_ms=int(self.timeout * 1000),
                                              request_timeout_ms=int(self.timeout * 1000))
        sent = self._producer.send(self.topic, key=checkpoint.writer.encode("utf-8"),
                                   value=checkpoint.to_json().encode("utf-8"))
        sent.get(timeout=self.timeout)  # on the checkpointer's thread: acknowledged, or an error it logs

    def read(self) -> list[str]:
        address = self.address()
        if address is None:
            raise LookupError("no broker configured")
        consumer = clients.consumer(address, client_id="onceonly-audit-verify")
        try:
            tps = [TopicPartition(self.topic, p) for p in sorted(consumer.partitions_for_topic(self.topic) or ())]
            if not tps:
                return []
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            ends = consumer.end_offsets(tps)
            found: list[str] = []
            remaining = {tp for tp in tps if ends[tp] > 0}
            while remaining:
                for tp, messages in consumer.poll(timeout_ms=1000).items():
                    found += [m.value.decode("utf-8", "replace") for m in messages if m.offset < ends[tp]]
                remaining = {tp for tp in remaining if consumer.position(tp) < ends[tp]}
            return found
        finally:
            consumer.close()

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=self.timeout)
            self._producer = None
