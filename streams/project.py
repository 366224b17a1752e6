"""The project agent: profile-events → the SQL profile store (a projection: replayable, idempotent)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

import faust

from core.ports import DeliveredEvent, Projection
from metrics.definitions import WorkerMetrics
from schemas.profile_events import ProfileEvent
from streams.batches import BATCH_SIZE, BATCH_WITHIN_S, Dead, apply_delivered, highwater


def add_project_agent(app: faust.App, *, projection: Projection, profile_events_topic: str, partitions: int,
                      dead: Dead, metrics: WorkerMetrics) -> Any:
    """Register the ``project`` agent on ``app``; return it."""
    project_apply = metrics.timed("project", projection.apply)
    profile_events = app.topic(profile_events_topic, key_type=bytes, value_type=bytes, partitions=partitions)

    ends = highwater(app)

    @app.agent(profile_events, name="project")
    async def project_profiles(stream: faust.StreamT[bytes]) -> AsyncIterator[int]:
        """profile-events → the SQL profile store (a projection: replayable, idempotent)."""
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN_S):  # type: ignore[attr-defined]
            decoded, applied = await apply_delivered(events, stage="project", kind=ProfileEvent, wrap=DeliveredEvent,
                                                     apply=project_apply, store=projection, dead=dead,
                                                     metrics=metrics, ends=ends)
            if applied:  # a redelivered batch changes nothing and says nothing about freshness
                metrics.projected(_observed(decoded))
            yield applied

    return project_profiles


def _observed(events: Iterable[Any]) -> list[datetime]:
    """When the connectors read the records these events carry (events without a record: none)."""
    return [record.observed_at for e in events if (record := getattr(e, "record", None)) is not None]
