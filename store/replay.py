"""Rebuilding the profile store from the log into an empty store: the places topic (the grid
centre's standard addresses, stewards' corrections), then profile-events.

The projection writes each profile with its read side (where the resident lives, grid, search-hit
columns, search terms), so a replay rebuilds the gazetteer and the search index too: nothing is
kept that the log cannot give back. The order of the two topics does not matter for the result
(a key's assignment is a function of its facts, and every move re-derives its profiles); places
first only saves re-derivations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import Engine

from kafka_adapter.reader import read_log
from schemas.profile_events import ProfileEvent
from store import positions
from store.place_projection import DeliveredPlaceEvent, PlaceProjection
from store.profile_projection import DeliveredEvent, ProfileProjection


@dataclass(frozen=True)
class Rebuilt:
    events: int
    checksum: str  # ProfileProjection.store_checksum of the rebuilt store


Upto = Mapping[str, Mapping[int, int]]  # topic → partition → the last offset to replay


def replay_places_into(projection: PlaceProjection, bootstrap: str, topic: str,
                       upto: Mapping[int, int] | None = None) -> int:
    read = 0
    for logged in read_log(bootstrap, topic, client_id="onceonly-replay", upto=upto):
        projection.apply([DeliveredPlaceEvent(m.topic, m.partition, m.offset, m.event) for m in logged])
        read += len(logged)
    return read


def replay_into(projection: ProfileProjection, bootstrap: str, topic: str,
                progress: Callable[[int], None] | None = None, upto: Mapping[int, int] | None = None) -> int:
    """Fold every event now in ``topic`` (or up to ``upto``) into ``projection``; how many were read."""
    read = 0
    for logged in read_log(bootstrap, topic, client_id="onceonly-replay", upto=upto):
        batch = [DeliveredEvent(m.topic, m.partition, m.offset, m.event) for m in logged
                 if isinstance(m.event, ProfileEvent)]
        projection.apply(batch)
        read += len(batch)
        if progress is not None:
            progress(read)
    return read


def applied_upto(engine: Engine, *, profile_events_topic: str, places_topic: str) -> dict[str, dict[int, int]]:
    """How far the store behind ``engine`` has applied both topics: a replay that stops there can
    be compared with it while events are still on their way (or no worker is running)."""
    with engine.connect() as conn:
        out: dict[str, dict[int, int]] = {profile_events_topic: {}, places_topic: {}}
        for consumer, topic in ((ProfileProjection.CONSUMER, profile_events_topic), (PlaceProjection.CONSUMER, places_topic)):
            out[topic] = {p: o for (t, p), o in positions.applied_offsets(conn, consumer).items() if t == topic}
    return out


def rebuild(engine: Engine, *, id_hash_key: str, bootstrap: str, profile_events_topic: str, places_topic: str,
            progress: Callable[[int], None] | None = None, upto: Upto | None = None) -> Rebuilt:
    """Replay both topics (all of them, or up to ``upto``) into the empty store behind ``engine``;
    its checksum to compare."""
    places = replay_places_into(PlaceProjection(engine), bootstrap, places_topic,
                                upto.get(places_topic, {}) if upto is not None else None)
    rebuilt = ProfileProjection(engine, id_hash_key=id_hash_key)
    events = replay_into(rebuilt, bootstrap, profile_events_topic, progress=progress,
                         upto=upto.get(profile_events_topic, {}) if upto is not None else None)
    return Rebuilt(events=events + places, checksum=rebuilt.store_checksum())
