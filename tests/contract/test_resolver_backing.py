"""The resolver's backing store (``core.resolution.Backing``): one suite, run against the unit
tests' in-memory fake and the SQL adapter on real SQLite and real PostgreSQL, so the fake the
unit tests trust behaves as the store does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine

from core.matching import Matcher, default_matcher
from core.resolution import Backing, ProfileState, ResolverChanges, ResolverMemory
from schemas.profile_events import (
    ProfileCreated,
    ProfileEvent,
    ProfilesMerged,
    ProfileSplit,
    ReviewRequested,
    UndoMerge,
)
from schemas.record_events import RecordStandardised
from store.engine import write_transaction
from store.resolver_state import SqlBacking
from tests.fakes import MemoryBacking
from tests.unit.test_resolution_records import FG, GA, MZ, SB, SB_BRIDGE, T0, TWIN_1, TWIN_2, arrived


@dataclass
class Store:
    """A backing store under test: ``session()`` opens it (on SQL: one committed transaction)."""

    session: Callable[[], AbstractContextManager[Backing]]


def _memory_store() -> Store:
    backing = MemoryBacking()

    @contextmanager
    def session() -> Iterator[Backing]:
        yield backing

    return Store(session)


def _sql_store(engine: Engine) -> Store:
    @contextmanager
    def session() -> Iterator[Backing]:
        with write_transaction(engine) as conn:
            yield SqlBacking(conn)

    return Store(session)


@pytest.fixture
def store(backend: Engine | None) -> Store:
    return _memory_store() if backend is None else _sql_store(backend)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return default_matcher()


def resolved(matcher: Matcher, *items: RecordStandardised) -> tuple[ResolverMemory, list[ProfileEvent]]:
    """A resolver without a backing after ``items``: its changes are everything it holds."""
    memory = ResolverMemory()
    events: list[ProfileEvent] = []
    for item in items:
        events += memory.resolve(item, matcher)
    return memory, events


def clusters(partition: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for key, profile_id in partition.items():
        groups.setdefault(profile_id, set()).add(key)
    return {frozenset(keys) for keys in groups.values()}


class TestResolverBacking:
    def test_what_is_saved_is_loaded_back_in_a_later_session(self, store: Store, matcher: Matcher) -> None:
        memory, events = resolved(matcher, arrived(GA), arrived(SB), arrived(FG))
        changes = memory.changes()
        assert changes.links and changes.profiles and changes.block_sizes and changes.review_holders  # something of each
        with store.session() as backing:
            backing.save(changes, events)
        with store.session() as backing:
            assert backing.load_links(list(changes.links)) == changes.links
            assert backing.load_profiles(list(changes.profiles)) == changes.profiles
            assert backing.load_block_sizes(list(changes.block_sizes)) == changes.block_sizes
            assert backing.load_review_holders(list(changes.review_holders)) == changes.review_holders
            members = backing.load_block_members(list(changes.block_sizes))
        expected: dict[str, list[str]] = {}
        for (block, record), present in sorted(changes.block_members.items()):
            if present:
                expected.setdefault(block, []).append(record)
        assert {block: list(keys) for block, keys in members.items()} == expected

    def test_bulk_loads_return_exactly_the_keys_asked_for_that_exist(self, store: Store, matcher: Matcher) -> None:
        memory, events = resolved(matcher, arrived(GA), arrived(FG), arrived(TWIN_1))
        changes = memory.changes()
        with store.session() as backing:
            backing.save(changes, events)
        link, *_ = sorted(changes.links)
        profile, *_ = sorted(changes.profiles)
        block, *_ = sorted(changes.block_sizes)
        review, *_ = sorted(changes.review_holders)
        with store.session() as backing:
            assert set(backing.load_links([link, "public_security:GA-404"])) == {link}
            assert set(backing.load_profiles([profile, "p-missing"])) == {profile}
            assert set(backing.load_block_sizes([block, "no-such-block"])) == {block}
            assert set(backing.load_block_members([block, "no-such-block"])) == {block}
            assert set(backing.load_review_holders([review, "r-missing"])) == {review}
            assert backing.load_links([]) == {} and backing.load_profiles([]) == {}
            assert backing.load_block_sizes([]) == {} and backing.load_block_members([]) == {}
            assert backing.load_review_holders([]) == {}

    def test_nothing_saved_loads_nothing(self, store: Store) -> None:
        with store.session() as backing:
            assert backing.load_links(["public_security:GA-1"]) == {}
            assert backing.load_profiles(["p-1"]) == {}
            assert backing.load_block_sizes(["name:张"]) == {}
            assert backing.load_block_members(["name:张"]) == {}
            assert backing.load_review_holders(["r-1"]) == {}
            assert backing.load_merge_event("evt-1") is None

    def test_a_none_holder_or_an_absent_member_deletes(self, store: Store, matcher: Matcher) -> None:
        memory, events = resolved(matcher, arrived(GA), arrived(FG))
        changes = memory.changes()
        [review] = [e for e in events if isinstance(e, ReviewRequested)]
        with store.session() as backing:
            backing.save(changes, events)
        block, record = next(pair for pair, present in sorted(changes.block_members.items()) if present)
        with store.session() as backing:
            assert record in backing.load_block_members([block])[block]
            left = changes.block_sizes[block] - 1
            backing.save(ResolverChanges(block_sizes={block: left}, block_members={(block, record): False},
                                         review_holders={review.review_id: None}), [])
        with store.session() as backing:
            assert backing.load_review_holders([review.review_id]) == {}
            assert record not in backing.load_block_members([block]).get(block, [])
            assert backing.load_block_sizes([block]).get(block, 0) == left
            # the other reviews, blocks and members are untouched
            others = {rid: pid for rid, pid in changes.review_holders.items() if rid != review.review_id and pid}
            assert backing.load_review_holders(list(others)) == others

    def test_members_come_in_record_key_order_and_an_added_member_is_added_once(self, store: Store) -> None:
        keys = ["social_security:SB-9", "housing:FG-10", "public_security:GA-2", "housing:FG-9"]
        with store.session() as backing:
            backing.save(ResolverChanges(block_sizes={"b": 4}, block_members={("b", k): True for k in keys}), [])
        with store.session() as backing:
            backing.save(ResolverChanges(block_members={("b", keys[0]): True}), [])  # again: no second row
        with store.session() as backing:
            assert list(backing.load_block_members(["b"])["b"]) == sorted(keys)

    def test_a_profile_keeps_the_creation_sequence_it_was_first_saved_with(self, store: Store, matcher: Matcher) -> None:
        memory, events = resolved(matcher, arrived(GA))
        [created] = [e for e in events if isinstance(e, ProfileCreated)]
        first = memory.changes().profiles[created.profile_id]
        with store.session() as backing:
            backing.save(memory.changes(), events)
        later, more = resolved(matcher, arrived(GA), arrived(SB))
        newer = later.changes().profiles[created.profile_id]
        assert newer.profile.version > first.profile.version
        with store.session() as backing:
            backing.save(ResolverChanges(profiles={created.profile_id: ProfileState(newer.profile, 1000)}), [])
        with store.session() as backing:
            assert backing.load_profiles([created.profile_id]) == {
                created.profile_id: ProfileState(newer.profile, first.created_seq)}

    def test_a_saved_merge_event_is_found_by_its_id_and_other_events_are_not(self, store: Store,
                                                                              matcher: Matcher) -> None:
        memory, events = resolved(matcher, arrived(GA), arrived(FG), arrived(SB_BRIDGE))
        merges = [e for e in events if isinstance(e, ProfilesMerged)]
        assert merges  # the bridge joined housing's profile to the register's
        with store.session() as backing:
            backing.save(memory.changes(), events)
        with store.session() as backing:
            for merge in merges:
                assert backing.load_merge_event(merge.event_id) == merge
            others = [e for e in events if not isinstance(e, ProfilesMerged)]
            assert all(backing.load_merge_event(e.event_id) is None for e in others)
            assert backing.load_merge_event("evt-never") is None

    def test_a_merge_saved_in_one_session_is_undone_over_the_store_in_the_next(self, store: Store,
                                                                            matcher: Matcher) -> None:
        memory, events = resolved(matcher, arrived(GA), arrived(FG), arrived(SB_BRIDGE))
        with store.session() as backing:
            backing.save(memory.changes(), events)
        merge = next(e for e in events if isinstance(e, ProfilesMerged))
        survivor, merged_away = merge.survivor, next(e.profile_id for e in events
                                                     if isinstance(e, ProfilesMerged) and e.profile_id != merge.survivor)
        created = max(state.created_seq for state in memory.profiles().values())
        with store.session() as backing:
            fresh = ResolverMemory(backing, next_seq=created + 1)
            undo = UndoMerge(command_id="cmd-undo", steward="steward-7", issued_at=T0, merge_event_id=merge.event_id,
                             survivor=survivor, merged_away=merged_away, reason="two people")
            split = fresh.handle(undo)
            backing.save(fresh.changes(), split)
        assert [type(e) for e in split] == [ProfileSplit, ProfileSplit]
        with store.session() as backing:
            links = backing.load_links(list(memory.partition()))
        assert links[FG.source + ":" + FG.record_id].profile_id == merged_away
        assert links[GA.source + ":" + GA.record_id].profile_id == survivor

    def test_batches_over_the_store_cluster_as_one_resolver_and_block_sizes_count_members(
        self, store: Store, matcher: Matcher
    ) -> None:
        items = [arrived(r) for r in (GA, FG, TWIN_1, SB, MZ, TWIN_2, SB_BRIDGE)]
        alone, _ = resolved(matcher, *items)
        next_seq = 1
        for batch in (items[:3], items[3:5], items[5:]):  # a fresh resolver per batch: all it knows is loaded
            with store.session() as backing:
                memory = ResolverMemory(backing, next_seq=next_seq)
                memory.prefetch(batch, matcher)
                events: list[ProfileEvent] = []
                for item in batch:
                    events += memory.resolve(item, matcher)
                backing.save(memory.changes(), events)
                next_seq = memory.next_seq
        with store.session() as backing:
            links = backing.load_links([item.key for item in items])
            blocks = sorted({block for row in links.values() for block in row.block_keys})
            sizes = backing.load_block_sizes(blocks)
            members = backing.load_block_members(blocks)
        assert clusters({key: row.profile_id for key, row in links.items()}) == clusters(alone.partition())
        assert set(sizes) == set(blocks) and all(sizes[b] == len(members[b]) > 0 for b in blocks)
        assert all(b in links[key].block_keys for b in blocks for key in members[b])
