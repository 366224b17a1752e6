"""A fix for a way faust and aiokafka together lose messages on a rebalance.

On every rebalance faust drops the messages it had fetched but not yet handed to an agent
(``flow_control.clear()``), then asks the consumer to seek each partition back to its committed
offset so they are fetched again. aiokafka's ``seek_to_committed`` only seeks when the committed
offset is greater than zero: a partition with no committed offset yet (a new consumer group, a
new topic, the first seconds of a worker; faust commits every 200 messages or 2.8 s) or with
offset 0 committed keeps its fetch position, past the dropped messages, and they are never
handled. With two workers starting together, a profile's first events went missing this way and
its later versions were refused as a version gap.

:func:`install` makes faust's aiokafka consumer seek those partitions too: to the beginning
when nothing is committed (the workers' ``auto_offset_reset`` is ``earliest``), to 0 when 0 is.
Messages handled before the rebalance come again; every agent is idempotent.
"""

from __future__ import annotations

from typing import Any

__all__ = ["install", "seek_to_committed_or_beginning"]


async def seek_to_committed_or_beginning(consumer: Any) -> dict[Any, int | None]:
    """``consumer.seek_to_committed()`` (an ``aiokafka.AIOKafkaConsumer``), also for partitions
    whose committed offset is none or 0; returns the committed offsets, as it does."""
    committed: dict[Any, int | None] = await consumer.seek_to_committed()
    for tp, offset in committed.items():
        if offset == 0:
            consumer.seek(tp, 0)
    uncommitted = [tp for tp, offset in committed.items() if offset is None]
    if uncommitted:
        await consumer.seek_to_beginning(*uncommitted)
    return committed


def install() -> None:
    """Patch faust's aiokafka consumer thread (once per process)."""
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    if getattr(AIOKafkaConsumerThread.seek_to_committed, "onceonly_fix", False):
        return

    async def seek_to_committed(self: Any) -> Any:
        return await self.call_thread(seek_to_committed_or_beginning, self._ensure_consumer())

    seek_to_committed.onceonly_fix = True  # type: ignore[attr-defined]
    AIOKafkaConsumerThread.seek_to_committed = seek_to_committed  # type: ignore[method-assign]
