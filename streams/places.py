"""The places agent: places → the gazetteer (standard addresses, stewards' corrections)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import faust
from pydantic import BaseModel

from core.ports import DeliveredPlaceEvent, Gazetteer
from metrics.definitions import WorkerMetrics
from streams.batches import BATCH_SIZE, BATCH_WITHIN_S, Dead, apply_delivered, highwater


def add_places_agent(app: faust.App, *, places: faust.TopicT, gazetteer: Gazetteer, dead: Dead,
                     metrics: WorkerMetrics) -> Any:
    """Register the ``places`` agent on ``app``; return it."""
    places_apply = metrics.timed("places", gazetteer.apply)

    ends = highwater(app)

    @app.agent(places, name="places")
    async def project_places(stream: faust.StreamT[bytes]) -> AsyncIterator[int]:
        """places → the gazetteer (standard addresses, stewards' corrections); the profiles
        located through a key whose assignment moved are re-derived."""
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN_S):  # type: ignore[attr-defined]
            _, applied = await apply_delivered(events, stage="places", kind=BaseModel, wrap=DeliveredPlaceEvent,
                                               apply=places_apply, store=gazetteer, dead=dead, metrics=metrics,
                                               ends=ends)
            yield applied

    return project_places
