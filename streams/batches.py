"""What the batching agents share: the batch size, source-record decoding, message locations,
and the batch body of the agents that apply a topic to a store (project, places)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from pydantic import BaseModel

from core.ports import Delivered
from metrics.definitions import WorkerMetrics
from schemas.source_record import DeadLetter, SourceRecord
from streams.poison import Stage, apply_or_set_aside, decode_each

BATCH_SIZE = 500
BATCH_WITHIN_S = 0.02  # after a batch, wait this long for more: batches grow with the load, not with a timer

Dead = Callable[[list[DeadLetter]], Awaitable[None]]
"""Sends dead letters to the dead-letter topic (``build_app``'s ``dead``)."""


def decode_batch(events: Sequence[Any]) -> tuple[list[Delivered], list[DeadLetter]]:
    """Split delivered Kafka events into readable source records and dead letters."""
    decoded, rejected = decode_each(events, SourceRecord, "standardise")
    return [Delivered(m.topic, m.partition, m.offset, record) for m, record in decoded], rejected


def highwater(app: Any) -> Callable[[Any], int | None]:
    """The end of a partition as this worker's consumer last saw it (the lag metrics' reference)."""
    return lambda tp: app.consumer.highwater(tp)


def located(delivered: Any) -> str:
    return f"{delivered.topic}[{delivered.partition}]@{delivered.offset}"


class _Store(Protocol):
    """What a store an agent applies a topic to answers besides ``apply`` (``core.ports.Projection``,
    ``core.ports.Gazetteer``)."""

    def healthy(self) -> bool: ...

    def skip(self, delivered: Sequence[Any]) -> None: ...


async def apply_delivered(events: Sequence[Any], *, stage: Stage, kind: type[BaseModel] | tuple[type[BaseModel], ...],
                          wrap: Callable[[str, int, int, Any], Any], apply: Callable[[Sequence[Any]], int],
                          store: _Store, dead: Dead, metrics: WorkerMetrics,
                          ends: Callable[[Any], int | None]) -> tuple[list[Any], int]:
    """One batch of an agent that applies its topic to a store: count it read, decode each message
    (dead-letter what is not ``kind``), wrap each with its location (``wrap(topic, partition,
    offset, message)``), apply the batch or set its poison messages aside, count what took effect.
    Returns the decoded messages and how many took effect."""
    metrics.read(stage, events, ends)
    decoded, rejected = decode_each(events, kind, stage)
    await dead(rejected)
    batch = [wrap(m.topic, m.partition, m.offset, message) for m, message in decoded]
    applied = await apply_or_set_aside(stage, batch, apply, locate=located, dead=dead, healthy=store.healthy,
                                       skip=store.skip)
    metrics.wrote(stage, applied)
    return [message for _, message in decoded], applied
