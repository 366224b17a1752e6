"""The standardise agent: raw.* → records (or places, for gazetteer sources) in canonical form, or dead letters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import faust

from core.standardise import FieldMapping
from core.standardise.stage import standardise_envelope
from metrics.definitions import WorkerMetrics
from schemas.codec import encode
from schemas.source_record import DeadLetter
from streams.batches import BATCH_SIZE, BATCH_WITHIN_S, Dead, decode_batch, highwater


def add_standardise_agent(app: faust.App, *, raw: faust.TopicT, records: faust.TopicT, places: faust.TopicT,
                          mappings: Mapping[str, FieldMapping], gazetteer_sources: frozenset[str], dead: Dead,
                          metrics: WorkerMetrics) -> Any:
    """Register the ``standardise`` agent on ``app``; return it. Records of ``gazetteer_sources``
    (standard addresses) go to ``places``, all others to ``records``."""

    ends = highwater(app)

    async def standardise_records(stream: faust.StreamT[bytes]) -> AsyncIterator[int]:
        """raw.* → records: each source-record version in canonical form, or a dead letter."""
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN_S):  # type: ignore[attr-defined]
            metrics.read("standardise", events, ends)
            batch, rejected = decode_batch(events)
            out: list[tuple[faust.TopicT, bytes, bytes]] = []
            for delivered in batch:
                result = standardise_envelope(delivered.record, mappings)
                if isinstance(result, DeadLetter):
                    rejected.append(result)
                    continue
                to = places if delivered.record.source in gazetteer_sources else records  # standard addresses
                out.append((to, delivered.record.identity.encode(), encode(result)))
            await send_acknowledged(app, out)
            await dead(rejected)
            metrics.wrote("standardise", len(out))
            yield len(batch)

    return app.agent(raw, name="standardise")(standardise_records)


async def send_acknowledged(app: faust.App, messages: Sequence[tuple[faust.TopicT, bytes, bytes]]) -> None:
    """Send a batch through the app's producer and return once the broker acknowledged all of it.

    The agent's events are acknowledged (so their offsets committed) only after this returns, so
    nothing is committed before what it produced is on the broker. One ``producer.send`` per
    message instead of ``Topic.send``: faust's per-message bookkeeping (a ``FutureMessage``, its
    buffer and callbacks) cost ~190 µs a message here, as much as consuming it
    (``bench.passthrough``: faust-forward vs faust-forward-batched).
    """
    if not messages:
        return
    producer = app.producer
    pending = [await producer.send(topic.get_topic_name(), key, value, None, None, None)
               for topic, key, value in messages]
    await asyncio.gather(*pending)
