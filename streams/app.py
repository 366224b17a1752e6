"""The faust application and its agents, built from settings by one function.

Agents decode what Kafka delivered, call the core or a store, and write the result. Every agent
is idempotent: it tracks the offsets it has applied beside its effects, so a redelivered message
(at-least-once delivery) changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import faust
from pydantic import ValidationError

from core.privacy import redact_id_numbers
from schemas.codec import UnknownEventType, decode, encode
from schemas.source_record import DeadLetter, SourceRecord
from store.ledger import Delivered, SourceRecordLedger

log = logging.getLogger(__name__)

BATCH_SIZE = 500
BATCH_WITHIN_S = 0.2


def build_app(*, app_id: str, bootstrap: str, raw_topics: Sequence[str], deadletter_topic: str,
              ledger: SourceRecordLedger, partitions: int = 4) -> faust.App:
    app = faust.App(
        app_id,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        topic_partitions=partitions,
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_every=200,
    )
    raw = app.topic(*raw_topics, key_type=bytes, value_type=bytes, partitions=partitions)
    deadletters = app.topic(deadletter_topic, key_type=bytes, value_type=bytes, partitions=partitions)

    @app.agent(raw, name="ledger")
    async def land_source_records(stream: faust.StreamT[bytes]) -> AsyncIterator[int]:
        """Land every source-record version in the SQL ledger (raw.* → source_records)."""
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN_S):
            batch, rejected = decode_batch(events)
            for letter in rejected:
                await deadletters.send(key=letter.source.encode(), value=encode(letter))
            inserted = await asyncio.to_thread(ledger.apply, batch)
            yield inserted

    app.conf.onceonly_agents = {"ledger": land_source_records}  # type: ignore[attr-defined]
    return app


def decode_batch(events: Sequence[Any]) -> tuple[list[Delivered], list[DeadLetter]]:
    """Split delivered Kafka events into readable source records and dead letters."""
    batch: list[Delivered] = []
    rejected: list[DeadLetter] = []
    for event in events:
        msg = event.message
        try:
            record = decode(event.value)
            if not isinstance(record, SourceRecord):
                raise UnknownEventType(f"expected SourceRecord, got {type(record).__name__}")
        except (ValueError, ValidationError, KeyError, TypeError) as exc:
            rejected.append(
                DeadLetter(
                    source=msg.topic.rsplit(".", 1)[-1],
                    location=f"{msg.topic}[{msg.partition}]@{msg.offset}",
                    reason=f"undecodable source record: {type(exc).__name__}",
                    stage="standardise",
                    raw_excerpt=_excerpt(event.value),
                )
            )
            continue
        batch.append(Delivered(msg.topic, msg.partition, msg.offset, record))
    return batch, rejected


def _excerpt(value: Any) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return redact_id_numbers(text[:200])
