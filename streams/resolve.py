"""The resolve agent: ``records`` → the resolver's state and outbox → ``profile-events``.

Thin: it decodes a batch, hands it to :meth:`store.resolver_state.ResolverState.resolve_batch`
in a thread (one transaction, under the resolver's global lock), then publishes the outbox
(:meth:`~store.resolver_state.ResolverState.publish_outbox`: send in outbox order, flush, mark
published). A timer publishes too, so events a crashed worker left in the outbox go out
without waiting for new records. Redelivered records make no events (the state remembers every
input it handled); a resent event carries its id and version, and consumers drop what they have.

Several workers in one consumer group share the ``records`` partitions; the state's lock makes
their decisions one sequence, so each profile's versions reach the topic in order.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

import faust

from core.matching import Matcher
from metrics.definitions import WorkerMetrics
from schemas.codec import encode
from schemas.record_events import MatcherSwitched, RecordStandardised
from schemas.source_record import DeadLetter
from store.matcher_parameters import MatcherVersions, UnusableVersion
from store.resolver_state import ResolverState
from streams.batches import BATCH_SIZE, BATCH_WITHIN_S, highwater
from streams.poison import decode_each
from streams.retry import until_applied

log = logging.getLogger(__name__)

__all__ = ["MATCHER_KEY", "KafkaOutboxSender", "OutboxSender", "add_resolve_agent", "publish_once"]

PUBLISH_EVERY_S = 5.0
ANNOUNCE_EVERY_S = 10.0  # how often the agent looks for a newer stored matcher version to announce
MATCHER_KEY = b"matcher-switch"  # the Kafka key of switch records on the records topic


class OutboxSender(Protocol):
    """Where the outbox publisher sends: ``flush`` returns once the broker acknowledged all."""

    def send(self, key: bytes, value: bytes) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class KafkaOutboxSender:
    """A kafka-python producer for the outbox: acks=all, idempotent (no reordering on retry).

    ``flush`` waits for every send and raises the first failure, so the publisher never marks
    as published what the broker did not take. Created on first use, in the publishing thread.
    """

    def __init__(self, bootstrap: str, topic: str, *, timeout_s: float = 30.0) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.timeout_s = timeout_s
        self._producer: Any = None
        self._futures: list[Any] = []
        self._lock = threading.Lock()

    def send(self, key: bytes, value: bytes) -> None:
        with self._lock:
            if self._producer is None:
                from kafka_adapter import clients

                self._producer = clients.producer(self.bootstrap, client_id="onceonly-resolver-outbox", acks="all",
                                                  enable_idempotence=True, linger_ms=5)
            self._futures.append(self._producer.send(self.topic, key=key, value=value))

    def flush(self) -> None:
        with self._lock:
            futures, self._futures = self._futures, []
            if self._producer is None or not futures:
                return
            self._producer.flush(timeout=self.timeout_s)
            for future in futures:
                future.get(timeout=self.timeout_s)  # raises the KafkaError of a failed send

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.close(timeout=self.timeout_s)
                self._producer = None


def publish_once(bootstrap: str, topic: str, send_outbox: Callable[[Callable[[bytes, bytes], None], Callable[[], None]], int],
                 *, timeout_s: float = 30.0) -> int:
    """Publish the resolver's outbox now with a producer of its own (a steward's decision outside
    a worker); raises when the broker does not acknowledge (the events stay in the outbox)."""
    sender = KafkaOutboxSender(bootstrap, topic, timeout_s=timeout_s)
    try:
        return send_outbox(sender.send, sender.flush)
    finally:
        sender.close()


def add_resolve_agent(
    app: faust.App,
    *,
    records_topic: str,
    records_partitions: int | None = None,
    profile_events_topic: str,
    state: ResolverState,
    matcher: Matcher | MatcherVersions,
    sender: OutboxSender | None = None,
    batch_size: int = BATCH_SIZE,
    within_s: float = BATCH_WITHIN_S,
    publish_every_s: float = PUBLISH_EVERY_S,
    announce_every_s: float = ANNOUNCE_EVERY_S,
    dead: Callable[[list[DeadLetter]], Awaitable[None]] | None = None,
    metrics: WorkerMetrics | None = None,
) -> Any:
    """Register the ``resolve`` agent (and its outbox and announcement timers) on ``app``; return the agent.

    ``matcher``: one matcher for good (tests), or the stored parameter versions: then the agent
    resolves with the version of the last ``MatcherSwitched`` it read on the records topic (kept in
    the resolver's state; the default parameters before any), and announces a newer stored version
    on the topic itself (``announce_every_s``), so every switch has its place in the log.
    ``sender`` defaults to a :class:`KafkaOutboxSender` on the app's broker.
    """
    records = app.topic(records_topic, key_type=bytes, value_type=bytes, partitions=records_partitions)
    outbox = sender or KafkaOutboxSender(_bootstrap(app), profile_events_topic)
    measured = metrics if metrics is not None else WorkerMetrics()
    versions = matcher if isinstance(matcher, MatcherVersions) else None
    in_use: list[str | None] = []  # the version resolving uses, read from the state once

    def current() -> Matcher:
        if versions is None:
            assert isinstance(matcher, Matcher)
            return matcher
        if not in_use:
            in_use.append(state.matcher_version())
        try:
            return versions.get(in_use[0])
        except UnusableVersion:  # stored before an upgrade changed the settings: the default parameters
            return versions.get(None)

    def switch(to: MatcherSwitched) -> None:
        if versions is None:
            log.warning("resolve: %s ignored: this worker resolves with one matcher", to.event_id)
            return
        try:
            versions.get(to.version)
        except UnusableVersion as exc:
            state.switch_matcher(to, usable=False, reason=str(exc))
            return
        if state.switch_matcher(to):
            in_use[:] = [to.version]
            log.warning("resolve: switched to matcher parameters %s at this point of the records topic", to.version)

    def resolve_and_publish(items: Sequence[RecordStandardised | MatcherSwitched]) -> int:
        emitted = 0
        for run in _runs(items):  # records between switches, each switch where the topic has it
            if isinstance(run, MatcherSwitched):
                switch(run)
            else:
                emitted += state.resolve_batch(run, current(), on_emitted=measured.emitted)
        state.publish_outbox(outbox.send, outbox.flush)
        return emitted

    resolve_timed = measured.timed("resolve", resolve_and_publish)

    ends = highwater(app)

    @app.agent(records, name="resolve")
    async def resolve_records(stream: faust.StreamT[bytes]) -> AsyncIterator[int]:
        """records → resolver state + outbox → profile-events."""
        async for events in stream.take_events(batch_size, within=within_s):  # type: ignore[attr-defined]
            measured.read("resolve", events, ends)
            decoded, rejected = decode_each(events, (RecordStandardised, MatcherSwitched), "resolve")
            if rejected and dead is not None:
                await dead(rejected)
            items = [item for _, item in decoded if isinstance(item, (RecordStandardised, MatcherSwitched))]
            emitted = await until_applied("resolve", partial(resolve_timed, items))
            measured.wrote("resolve", emitted)
            yield emitted

    @app.timer(interval=publish_every_s, name="resolve_outbox")  # type: ignore[untyped-decorator]
    async def publish_outbox() -> None:
        try:
            sent = await asyncio.to_thread(state.publish_outbox, outbox.send, outbox.flush)
        except Exception as exc:
            log.warning("resolve: outbox publish failed, will retry: %s", type(exc).__name__)
            return
        if sent:
            log.info("resolve: published %d events left in the outbox", sent)

    if versions is not None:
        @app.timer(interval=announce_every_s, name="matcher_announce")  # type: ignore[untyped-decorator]
        async def announce_newer_matcher() -> None:
            """A version stored since (``onceonly train`` announces its own; parameters stored by other
            means are announced here): a switch record at the end of the records topic."""
            try:
                latest = await asyncio.to_thread(versions.latest_version)
                known = in_use[0] if in_use else await asyncio.to_thread(state.matcher_version)
            except Exception as exc:
                log.warning("resolve: matcher versions not read, will retry: %s", type(exc).__name__)
                return
            if latest is not None and latest != known:
                switch_record = MatcherSwitched.to(latest, datetime.now(UTC))
                await records.send(key=MATCHER_KEY, value=encode(switch_record))

    def close_sender(_app: Any, *args: Any, **kwargs: Any) -> None:
        outbox.close()

    app.on_before_shutdown.connect(close_sender)  # type: ignore[arg-type]

    return resolve_records


def _runs(items: Sequence[RecordStandardised | MatcherSwitched]
          ) -> list[list[RecordStandardised] | MatcherSwitched]:
    """The batch in order: runs of records, and each switch alone between them."""
    out: list[list[RecordStandardised] | MatcherSwitched] = []
    for item in items:
        if isinstance(item, MatcherSwitched):
            out.append(item)
        elif out and isinstance(out[-1], list):
            out[-1].append(item)
        else:
            out.append([item])
    return out


def _bootstrap(app: faust.App) -> str:
    return ",".join(f"{url.host}:{url.port}" for url in app.conf.broker)
