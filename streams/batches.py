"""What the batching agents share: the batch size, source-record decoding, message locations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from core.ports import Delivered
from schemas.source_record import DeadLetter, SourceRecord
from streams.poison import decode_each

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
