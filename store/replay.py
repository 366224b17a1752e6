"""Rebuilding the profile store from the log into an empty store: the places topic (the grid
centre's standard addresses, stewards' corrections), then profile-events.

The projection writes each profile with its read side (where the resident lives, grid, search-hit
columns, search terms), so a replay rebuilds the gazetteer and the search index too: nothing is
kept that the log cannot give back. The order of the two topics does not matter for the result
(a key's assignment is a function of its facts, and every move re-derives its profiles); places
first only saves re-derivations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from schemas.profile_events import ProfileEvent
from store.place_projection import DeliveredPlaceEvent, PlaceProjection
from store.profile_projection import DeliveredEvent, ProfileProjection
from streams.log import read_log


@dataclass(frozen=True)
class Rebuilt:
    events: int
    checksum: str  # ProfileProjection.store_checksum of the rebuilt store


def replay_places_into(projection: PlaceProjection, bootstrap: str, topic: str) -> int:
    read = 0
    for logged in read_log(bootstrap, topic, client_id="onceonly-replay"):
        projection.apply([DeliveredPlaceEvent(m.topic, m.partition, m.offset, m.event) for m in logged])
        read += len(logged)
    return read


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


def rebuild(engine: Engine, *, id_hash_key: str, bootstrap: str, profile_events_topic: str, places_topic: str,
            progress: Callable[[int], None] | None = None) -> Rebuilt:
    """Replay both topics into the empty store behind ``engine``; its checksum to compare."""
    places = replay_places_into(PlaceProjection(engine), bootstrap, places_topic)
    rebuilt = ProfileProjection(engine, id_hash_key=id_hash_key)
    events = replay_into(rebuilt, bootstrap, profile_events_topic, progress=progress)
    return Rebuilt(events=events + places, checksum=rebuilt.store_checksum())
