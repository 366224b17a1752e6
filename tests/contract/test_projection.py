"""The profile store as a projection (``core.ports.Projection``): one suite, run against the unit
tests' in-memory fake and the SQL projection on real SQLite and real PostgreSQL, so a fake
standing in for the store folds, skips and tracks positions as the store does."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from core.matching import Matcher, default_matcher
from core.ports import DeliveredEvent, Projection
from core.profile import Profile, ProfileError, replay
from core.resolution import ResolverMemory
from schemas.profile_events import ProfileEvent, ProfilesMerged
from store.profile_projection import ProfileProjection
from tests.fakes import MemoryProjection
from tests.unit.test_resolution_records import FG, GA, MZ, SB, SB_BRIDGE, arrived

TOPIC = "profile-events"


@pytest.fixture
def projection(backend: Engine | None) -> Projection:
    return MemoryProjection() if backend is None else ProfileProjection(backend, id_hash_key="contract-key")


@pytest.fixture(scope="module")
def events() -> list[ProfileEvent]:
    """What the resolver emits for five records: profiles created, records linked, a review, a merge."""
    matcher: Matcher = default_matcher()
    memory = ResolverMemory()
    emitted: list[ProfileEvent] = []
    for item in (arrived(GA), arrived(FG), arrived(MZ), arrived(SB), arrived(SB_BRIDGE)):
        emitted += memory.resolve(item, matcher)
    assert any(isinstance(e, ProfilesMerged) for e in emitted) and len({e.profile_id for e in emitted}) > 1
    return emitted


def delivered(events: list[ProfileEvent], first: int = 0, *, partition: int = 0) -> list[DeliveredEvent]:
    return [DeliveredEvent(TOPIC, partition, first + n, e) for n, e in enumerate(events)]


def by_id(projection: Projection) -> dict[str, Profile]:
    return {p.profile_id: p for p in projection.profiles()}


class TestProjection:
    def test_nothing_applied_holds_no_profiles_and_the_store_answers(self, projection: Projection) -> None:
        assert by_id(projection) == {}
        assert projection.healthy() is True
        assert projection.apply([]) == 0 and by_id(projection) == {}

    def test_the_profiles_are_the_fold_of_the_events_applied(self, projection: Projection,
                                                             events: list[ProfileEvent]) -> None:
        half = len(events) // 2
        took = projection.apply(delivered(events[:half]))
        took += projection.apply(delivered(events[half:], half))
        assert took == len(events)
        assert by_id(projection) == replay(events)
        assert any(p.merged_into for p in projection.profiles())  # the merged-away profile is kept, marked

    def test_a_redelivered_batch_changes_nothing_even_after_later_ones(self, projection: Projection,
                                                                       events: list[ProfileEvent]) -> None:
        half = len(events) // 2
        first, rest = delivered(events[:half]), delivered(events[half:], half)
        projection.apply(first)
        projection.apply(rest)
        before = by_id(projection)
        assert projection.apply(rest) == 0 and projection.apply(first) == 0  # the older batch last
        assert by_id(projection) == before
        # the position stayed at the last offset: a message at or below it counts as applied already
        twin = events[0].model_copy(update={"profile_id": "p-late", "event_id": "evt-late"})  # another profile's first
        assert projection.apply([DeliveredEvent(TOPIC, 0, len(events) - 1, twin)]) == 0
        assert "p-late" not in by_id(projection)
        assert projection.apply([DeliveredEvent(TOPIC, 0, len(events), twin)]) == 1
        assert "p-late" in by_id(projection)

    def test_an_event_at_a_version_its_profile_reached_takes_no_effect_from_a_new_offset(
        self, projection: Projection, events: list[ProfileEvent]
    ) -> None:
        assert projection.apply(delivered(events)) == len(events)
        before = by_id(projection)
        # the outbox published again (a crash before its mark): the same events at new offsets
        assert projection.apply(delivered(events, len(events))) == 0
        assert projection.apply(delivered(events, 0, partition=1)) == 0
        assert by_id(projection) == before

    def test_a_batch_that_cannot_be_folded_keeps_nothing(self, projection: Projection,
                                                         events: list[ProfileEvent]) -> None:
        created = events[0]
        assert created.version == 1
        gap = created.model_copy(update={"event_id": "evt-gap", "version": 3})  # version 2 never came
        with pytest.raises(ProfileError):
            projection.apply([DeliveredEvent(TOPIC, 0, 0, created), DeliveredEvent(TOPIC, 0, 1, gap)])
        assert by_id(projection) == {}
        assert projection.apply([DeliveredEvent(TOPIC, 0, 0, created)]) == 1  # offset 0 was not taken as applied

    def test_skipped_messages_count_as_handled_and_an_older_skip_never_moves_a_position_back(
        self, projection: Projection, events: list[ProfileEvent]
    ) -> None:
        projection.skip(delivered(events[:3]))
        projection.skip(delivered(events[:1]))
        assert projection.apply(delivered(events[:3])) == 0 and by_id(projection) == {}
        assert projection.apply(delivered(events[:3], partition=1)) == 3  # another partition's offsets are its own
        assert by_id(projection) == replay(events[:3])
