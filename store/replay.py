"""Rebuilding the profile store from the log: read profile-events from the start into an empty store.

The projection writes each profile with its read side (grid, search-hit columns, search terms), so
a replay rebuilds the search index too: nothing is kept that the log cannot give back.
"""

from __future__ import annotations

from collections.abc import Callable

from schemas.profile_events import ProfileEvent
from store.profile_projection import DeliveredEvent, ProfileProjection
from streams.log import read_log


def replay_into(projection: ProfileProjection, bootstrap: str, topic: str,
                progress: Callable[[int], None] | None = None) -> int:
    """Fold every event now in ``topic`` into ``projection``; return how many were read."""
    read = 0
    for logged in read_log(bootstrap, topic, client_id="onceonly-replay"):
        batch = [DeliveredEvent(m.topic, m.partition, m.offset, m.event) for m in logged
                 if isinstance(m.event, ProfileEvent)]
        projection.apply(batch)
        read += len(batch)
        if progress is not None:
            progress(read)
    return read
