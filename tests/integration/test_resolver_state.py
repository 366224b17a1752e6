"""The resolver's SQL state and outbox, on SQLite and PostgreSQL: batches, redelivery, publishing
in order, and concurrent workers that agree with one worker."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import Engine

from connectors.spec import ConnectorSpec
from core.matching import Matcher, default_matcher
from core.profile import replay
from core.resolution import ResolverMemory
from core.standardise.stage import standardise_envelope
from localinfra.kafka_broker import KafkaBroker
from schemas.codec import decode
from schemas.profile_events import ConfirmMatch, ProfileEvent, ReviewRequested
from schemas.record_events import RecordStandardised
from schemas.source_record import SourceRecord
from simulators.district import generate_district, render_district
from store.engine import make_engine
from store.resolver_state import ResolverState
from tests.helpers import PROJECT

OBSERVED = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)


@cache
def district(residents: int, seed: int = 3) -> tuple[RecordStandardised, ...]:
    """A simulated district's department rows, standardised by the departments' mapping files."""
    specs = [ConnectorSpec.load(path) for path in sorted((PROJECT / "mappings").glob("*.yaml"))
             if not path.name.startswith("sample")]
    mappings = {spec.source: mapping for spec in specs if (mapping := spec.field_mapping()) is not None}
    record_id_columns = {spec.source: spec.record_id for spec in specs}
    items = []
    for rendered in render_district(generate_district(residents, seed=seed), seed=seed):
        if rendered.source not in mappings:
            continue
        values = {k: "" if v is None else str(v) for k, v in rendered.row.items()}
        record_id = "|".join(values.get(c, "") for c in record_id_columns[rendered.source])
        envelope = SourceRecord.of(source=rendered.source, record_id=record_id, payload=values,
                                   mapping_version="test", observed_at=OBSERVED)
        envelope = envelope.model_copy(update={"event_id": f"{envelope.identity}@{envelope.content_hash[:16]}"})
        item = standardise_envelope(envelope, mappings)
        if isinstance(item, RecordStandardised):
            items.append(item)
    return tuple(items)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return default_matcher()


def clusters(partition: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for key, profile_id in partition.items():
        groups.setdefault(profile_id, set()).add(key)
    return {frozenset(keys) for keys in groups.values()}


def batches(items: Sequence[RecordStandardised], size: int) -> list[Sequence[RecordStandardised]]:
    return [items[start:start + size] for start in range(0, len(items), size)]


class Topic:
    """A stand-in for the profile-events topic: what was sent, and what the broker acknowledged."""

    def __init__(self) -> None:
        self.pending: list[tuple[bytes, bytes]] = []
        self.acked: list[tuple[bytes, ProfileEvent]] = []
        self.lock = threading.Lock()

    def send(self, key: bytes, value: bytes) -> None:
        self.pending.append((key, value))

    def flush(self) -> None:
        with self.lock:
            for key, value in self.pending:
                event = decode(value)
                assert isinstance(event, ProfileEvent)
                self.acked.append((key, event))
            self.pending.clear()

    def versions_in_order(self) -> bool:
        """Each profile's events arrive as versions 1, 2, 3 … (duplicates of a resend allowed)."""
        last: dict[str, int] = {}
        for key, event in self.acked:
            assert key == event.profile_id.encode()
            seen = last.get(event.profile_id, 0)
            if event.version > seen + 1:
                return False
            last[event.profile_id] = max(seen, event.version)
        return True


def test_a_batch_resolves_into_the_outbox_and_publishes_each_profile_in_version_order(
    store_engine: Engine, matcher: Matcher
) -> None:
    items = district(120)
    state = ResolverState(store_engine, publish_chunk=100)
    emitted = sum(state.resolve_batch(batch, matcher) for batch in batches(items, 50))
    outbox = state.outbox()
    assert emitted == len(outbox) > len(items)  # every record links; some open profiles or ask for reviews
    assert [row.seq for row in outbox] == list(range(1, len(outbox) + 1))

    topic = Topic()
    assert state.publish_outbox(topic.send, topic.flush) == len(outbox)
    assert [e.event_id for _, e in topic.acked] == [row.event_id for row in outbox]
    assert topic.versions_in_order()
    assert state.outbox(unpublished_only=True) == []
    assert state.publish_outbox(topic.send, topic.flush) == 0

    # The topic's fold is the resolver's state, and equals resolving the same log in memory.
    folded = replay(e for _, e in topic.acked)
    for profile_id, profile in folded.items():
        stored = state.profile(profile_id)
        assert stored is not None and stored.profile == profile
    memory = ResolverMemory()
    for item in items:
        memory.resolve(item, matcher)
    assert state.partition() == memory.partition()


def test_a_failed_flush_marks_nothing_published_and_the_next_call_sends_it_again(
    store_engine: Engine, matcher: Matcher
) -> None:
    state = ResolverState(store_engine)
    state.resolve_batch(district(30), matcher)
    waiting = len(state.outbox(unpublished_only=True))

    def broker_down() -> None:
        raise ConnectionError("broker unreachable")

    topic = Topic()
    with pytest.raises(ConnectionError):
        state.publish_outbox(topic.send, broker_down)
    assert len(state.outbox(unpublished_only=True)) == waiting
    topic.pending.clear()  # what the failed call handed over never reached the topic
    assert state.publish_outbox(topic.send, topic.flush) == waiting
    assert topic.versions_in_order()


def test_resolving_the_same_items_again_changes_nothing(store_engine: Engine, matcher: Matcher) -> None:
    items = district(60)
    state = ResolverState(store_engine)
    for batch in batches(items, 40):
        state.resolve_batch(batch, matcher)
    partition, outbox = state.partition(), state.outbox()
    # A redelivered batch, a replay of the whole topic, and one batch holding an item twice.
    assert state.resolve_batch(items[:40], matcher) == 0
    assert sum(state.resolve_batch(batch, matcher) for batch in batches(items, 25)) == 0
    assert state.resolve_batch([items[5], items[5]], matcher) == 0
    assert state.partition() == partition and state.outbox() == outbox
    assert state.failures() == {}


def test_a_steward_confirm_is_applied_once_and_published_after_the_events_it_follows(
    store_engine: Engine, matcher: Matcher
) -> None:
    state = ResolverState(store_engine)
    state.resolve_batch(district(200), matcher)
    reviews = [row.event() for row in state.outbox() if row.event_type == "ReviewRequested"]
    assert reviews, "the seeded district draws reviews"
    review = reviews[0]
    assert isinstance(review, ReviewRequested)
    candidate = review.candidate_profile_ids[0]
    reviewed_key = f"{review.record.source}:{review.record.record_id}"
    candidate_key = next(key for key, profile_id in state.partition().items() if profile_id == candidate)
    assert state.partition()[reviewed_key] != state.partition()[candidate_key]
    command = ConfirmMatch(command_id="cmd-confirm-1", steward="s-1", issued_at=OBSERVED, review_id=review.review_id,
                           profile_id=candidate)
    events = state.handle_command(command)
    assert {type(e).__name__ for e in events} == {"ReviewResolved", "ProfilesMerged"}
    assert state.handle_command(command) == []  # the same command again
    assert state.partition()[reviewed_key] == state.partition()[candidate_key]
    topic = Topic()
    state.publish_outbox(topic.send, topic.flush)
    assert topic.versions_in_order()
    assert [e.event_id for _, e in topic.acked][-len(events):] == [e.event_id for e in events]


def test_two_workers_on_interleaved_halves_cluster_as_one_worker_does(store_engine: Engine, matcher: Matcher) -> None:
    items = district(250)
    alone = ResolverMemory()
    for item in items:
        alone.resolve(item, matcher)

    # one state object per worker, as in separate processes: only the database's locks (the
    # resolver's, and the publisher's own) keep them apart, not a lock inside one object
    state, second, timer = (ResolverState(store_engine, publish_chunk=150) for _ in range(3))
    topic = Topic()
    halves = (items[0::2], items[1::2])  # as two workers of one consumer group would share partitions
    errors: list[BaseException] = []
    done = threading.Event()

    def worker(own: ResolverState, half: Sequence[RecordStandardised]) -> None:
        try:
            for batch in batches(half, 37):
                own.resolve_batch(batch, matcher)
                own.publish_outbox(topic.send, topic.flush)
        except BaseException as exc:  # surfaced below, not lost in the thread
            errors.append(exc)

    def publisher() -> None:  # a third party publishing all along (a worker's timer)
        try:
            while not done.is_set():
                timer.publish_outbox(topic.send, topic.flush)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(own, half)) for own, half in zip((state, second), halves, strict=True)]
    extra = threading.Thread(target=publisher)
    for thread in (*threads, extra):
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    done.set()
    extra.join(timeout=60)
    assert not errors, errors
    state.publish_outbox(topic.send, topic.flush)

    assert clusters(state.partition()) == clusters(alone.partition())
    assert topic.versions_in_order()
    assert len({e.event_id for _, e in topic.acked}) == len(state.outbox()) == len(topic.acked)
    folded = replay(e for _, e in topic.acked)
    assert all(folded[pid] == state.profile(pid).profile for pid in folded)  # type: ignore[union-attr]


def test_a_worker_resumes_from_its_kept_state_only_while_nobody_else_wrote(store_engine: Engine,
                                                                          matcher: Matcher) -> None:
    """Each state object keeps its last batch's state for the next one; taking turns batch by batch,
    each must see the other's writes (a kept state older than the store is dropped), so the events
    and the clustering are one worker's."""
    items = district(200)
    alone = ResolverMemory()
    for item in items:
        alone.resolve(item, matcher)
    first, second = ResolverState(store_engine), ResolverState(store_engine)
    for n, batch in enumerate(batches(items, 23)):
        (first, second, first, first)[n % 4].resolve_batch(batch, matcher)  # runs of one worker, then turns
    assert clusters(first.partition()) == clusters(alone.partition())
    events = [row.event() for row in first.outbox()]
    assert [(e.profile_id, e.version) for e in events] == sorted({(e.profile_id, e.version) for e in events},
                                                                  key=[(e.profile_id, e.version) for e in events].index)
    folded = replay(events)
    assert all(folded[pid] == first.profile(pid).profile for pid in folded)  # type: ignore[union-attr]
    assert {pid: p.version for pid, p in folded.items()} == {pid: s.profile.version for pid, s in alone.profiles().items()}


@pytest.mark.kafka
def test_the_outbox_reaches_a_real_topic_keyed_by_profile_in_version_order(
    kafka_broker: KafkaBroker, tmp_path: Path, matcher: Matcher
) -> None:
    from kafka_adapter.admin import ensure_topics
    from streams.resolve import KafkaOutboxSender
    from tests.helpers import read_topic

    topic = f"t{abs(hash(tmp_path)) % 10**8}.profile-events"
    ensure_topics(kafka_broker.bootstrap, [topic], partitions=3)
    state = ResolverState(make_engine(f"sqlite:///{tmp_path / 'store.db'}"))
    sender = KafkaOutboxSender(kafka_broker.bootstrap, topic)
    try:
        for batch in batches(district(60), 50):
            state.resolve_batch(batch, matcher)
            state.publish_outbox(sender.send, sender.flush)
    finally:
        sender.close()
    events = read_topic(kafka_broker.bootstrap, topic)
    assert sorted(e.event_id for e in events) == sorted(row.event_id for row in state.outbox())
    versions: dict[str, list[int]] = {}
    for event in events:  # read partition by partition: each profile lives on one
        assert isinstance(event, ProfileEvent)
        versions.setdefault(event.profile_id, []).append(event.version)
    assert all(v == list(range(1, len(v) + 1)) for v in versions.values())
