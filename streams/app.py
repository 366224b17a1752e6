"""The faust application and its agents, built from one wiring object.

Agents decode what Kafka delivered, call the core or a store, and write the result. Every agent
is idempotent: effects in the store are tracked with the offsets applied beside them, and events
it emits have ids derived from their cause, so a redelivered message (at-least-once) is harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import faust
from pydantic import BaseModel

from core.ports import Delivered, DeliveredEvent, DeliveredPlaceEvent, Gazetteer, Ledger, Projection
from core.standardise import FieldMapping
from core.standardise.stage import standardise_envelope
from kafka_adapter.security import faust_credentials
from metrics.definitions import WorkerMetrics
from schemas.codec import encode
from schemas.profile_events import ProfileEvent
from schemas.source_record import DeadLetter, SourceRecord
from streams.faust_fixes import install as install_faust_fixes
from streams.poison import apply_or_set_aside, decode_each
from streams.retry import until_applied

log = logging.getLogger(__name__)

AGENTS = ("ledger", "standardise", "resolve", "project", "places", "objections")
"""The agents a worker can run (``objections`` is the sweep timer). A worker runs all of them by
default; a deployment can give the resolver a process of its own (``onceonly worker --agents
resolve`` beside ``--agents ledger,standardise,project,places,objections``): all workers share one
consumer group, and faust assigns each topic's partitions among the workers that subscribe to it,
so the two agents reading the raw topics (ledger, standardise) always run in the same workers."""

BATCH_SIZE = 500
BATCH_WITHIN_S = 0.02  # after a batch, wait this long for more: batches grow with the load, not with a timer


@dataclass
class StreamWiring:
    """Everything the agents need, built by ``onceonly.bootstrap`` (or a test)."""

    app_id: str
    bootstrap: str
    raw_topics: Sequence[str]
    records_topic: str
    deadletter_topic: str
    ledger: Ledger
    profile_events_topic: str = "profile-events"
    projection: Projection | None = None
    resolver: Any = None  # store.resolver_state.ResolverState
    matcher: Any = None  # store.matcher_parameters.MatcherVersions (switched on the records topic), or one Matcher
    mappings: Mapping[str, FieldMapping] = field(default_factory=dict)
    partitions: int = 4
    records_partitions: int = 1  # one: the records topic's order is the resolution order (one resolver at a time)
    places_topic: str = "places"
    gazetteer: Gazetteer | None = None  # store.place_projection.PlaceProjection
    gazetteer_sources: frozenset[str] = frozenset()  # sources holding standard addresses, not residents
    datadir: str | None = None  # faust's own folder (default: "<app id>-data" in the working directory)
    objections: Any = None  # services.objections.ObjectionService: swept on a timer
    objections_sweep_s: float = 30.0
    metrics: WorkerMetrics | None = None  # this process's; ``onceonly worker`` serves them on ONCEONLY_METRICS_PORT
    agents: frozenset[str] = frozenset()  # the agents this worker runs (see AGENTS); empty: all of them


def faust_app(app_id: str, bootstrap: str, *, partitions: int, datadir: str | None = None) -> faust.App:
    """A faust app with the hub's settings (the workers', and the passthrough bench's ceiling)."""
    install_faust_fixes()  # messages fetched before a partition's first commit survive a rebalance
    return faust.App(
        app_id,
        broker=f"kafka://{bootstrap}",
        broker_credentials=faust_credentials(bootstrap),  # SASL/SCRAM over TLS when configured
        store="memory://",
        topic_partitions=partitions,
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        datadir=datadir or "{conf.name}-data",  # faust's own default when none is given
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_every=200,
        # On a rebalance faust waits for in-flight events to be acked before giving partitions up;
        # with batching agents that stalls a joining worker ~60 s. Every agent is idempotent
        # (tracked offsets, derived event ids), so redelivery after a rebalance is harmless.
        stream_wait_empty=False,
    )


def build_app(wiring: StreamWiring) -> faust.App:
    app = faust_app(wiring.app_id, wiring.bootstrap, partitions=wiring.partitions, datadir=wiring.datadir)
    raw = app.topic(*wiring.raw_topics, key_type=bytes, value_type=bytes, partitions=wiring.partitions)
    records = app.topic(wiring.records_topic, key_type=bytes, value_type=bytes, partitions=wiring.records_partitions)
    deadletters = app.topic(wiring.deadletter_topic, key_type=bytes, value_type=bytes, partitions=wiring.partitions)
    places = app.topic(wiring.places_topic, key_type=bytes, value_type=bytes, partitions=wiring.partitions)
    metrics = wiring.metrics if wiring.metrics is not None else WorkerMetrics()
    unknown = wiring.agents - set(AGENTS)
    if unknown:
        raise ValueError(f"unknown agents {sorted(unknown)}: choose among {', '.join(AGENTS)}")
    if wiring.agents and len(wiring.agents & {"ledger", "standardise"}) == 1:
        # Both read the raw topics: faust shares a topic's partitions among the workers that read it, so
        # a worker with one of them would leave its partitions unread by the other.
        raise ValueError("ledger and standardise read the same topics: run them in the same workers")

    def runs(agent: str) -> bool:
        return not wiring.agents or agent in wiring.agents

    def highwater(tp: Any) -> int | None:
        return app.consumer.highwater(tp)

    async def dead(letters: Sequence[DeadLetter]) -> None:
        for letter in letters:
            await deadletters.send(key=f"{letter.source}:{letter.location}".encode(), value=encode(letter))
            metrics.set_aside(letter.stage, letter.source, letter.reason)

    ledger_apply = metrics.timed("ledger", wiring.ledger.apply)

    agents: dict[str, Any] = {}

    async def land_source_records(stream: faust.StreamT[bytes]) -> AsyncIterator[int]:
        """Land every source-record version in the SQL ledger (raw.* → source_records)."""
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN_S):  # type: ignore[attr-defined]
            metrics.read("ledger", events, highwater)
            batch, _ = decode_batch(events)  # the standardise agent dead-letters what is unreadable
            landed = await until_applied("ledger", partial(ledger_apply, batch))
            metrics.wrote("ledger", landed)
            yield landed

    async def standardise_records(stream: faust.StreamT[bytes]) -> AsyncIterator[int]:
        """raw.* → records: each source-record version in canonical form, or a dead letter."""
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN_S):  # type: ignore[attr-defined]
            metrics.read("standardise", events, highwater)
            batch, rejected = decode_batch(events)
            out: list[tuple[faust.TopicT, bytes, bytes]] = []
            for delivered in batch:
                result = standardise_envelope(delivered.record, wiring.mappings)
                if isinstance(result, DeadLetter):
                    rejected.append(result)
                    continue
                to = places if delivered.record.source in wiring.gazetteer_sources else records  # standard addresses
                out.append((to, delivered.record.identity.encode(), encode(result)))
            await send_acknowledged(app, out)
            await dead(rejected)
            metrics.wrote("standardise", len(out))
            yield len(batch)

    if runs("ledger"):
        agents["ledger"] = app.agent(raw, name="ledger")(land_source_records)
    if runs("standardise"):
        agents["standardise"] = app.agent(raw, name="standardise")(standardise_records)

    if wiring.projection is not None and runs("project"):
        projection = wiring.projection
        project_apply = metrics.timed("project", projection.apply)
        profile_events = app.topic(wiring.profile_events_topic, key_type=bytes, value_type=bytes,
                                   partitions=wiring.partitions)

        @app.agent(profile_events, name="project")
        async def project_profiles(stream: faust.StreamT[bytes]) -> AsyncIterator[int]:
            """profile-events → the SQL profile store (a projection: replayable, idempotent)."""
            async for events in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN_S):  # type: ignore[attr-defined]
                metrics.read("project", events, highwater)
                decoded, rejected = decode_each(events, ProfileEvent, "project")
                await dead(rejected)
                batch = [DeliveredEvent(m.topic, m.partition, m.offset, e) for m, e in decoded]
                applied = await apply_or_set_aside("project", batch, project_apply, locate=_located, dead=dead,
                                                   healthy=projection.healthy, skip=projection.skip)
                metrics.wrote("project", applied)
                if applied:  # a redelivered batch changes nothing and says nothing about freshness
                    metrics.projected(_observed(e for _, e in decoded))
                yield applied

        agents["project"] = project_profiles

    if wiring.gazetteer is not None and runs("places"):
        gazetteer = wiring.gazetteer
        places_apply = metrics.timed("places", gazetteer.apply)

        @app.agent(places, name="places")
        async def project_places(stream: faust.StreamT[bytes]) -> AsyncIterator[int]:
            """places → the gazetteer (standard addresses, stewards' corrections); the profiles
            located through a key whose assignment moved are re-derived."""
            async for events in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN_S):  # type: ignore[attr-defined]
                metrics.read("places", events, highwater)
                decoded, rejected = decode_each(events, BaseModel, "places")
                await dead(rejected)
                batch = [DeliveredPlaceEvent(m.topic, m.partition, m.offset, e) for m, e in decoded]
                applied = await apply_or_set_aside("places", batch, places_apply, locate=_located, dead=dead,
                                                   healthy=gazetteer.healthy, skip=gazetteer.skip)
                metrics.wrote("places", applied)
                yield applied

        agents["places"] = project_places

    if wiring.resolver is not None and wiring.matcher is not None and runs("resolve"):
        from streams.resolve import add_resolve_agent

        agents["resolve"] = add_resolve_agent(
            app, records_topic=wiring.records_topic, records_partitions=wiring.records_partitions,
            profile_events_topic=wiring.profile_events_topic,
            state=wiring.resolver, matcher=wiring.matcher, dead=dead, metrics=metrics)

    if wiring.objections is not None and runs("objections"):
        objections = wiring.objections

        @app.timer(interval=wiring.objections_sweep_s, name="objections_sweep")  # type: ignore[untyped-decorator]
        async def sweep_objections() -> None:
            """Close objections whose disputed value the source corrected; escalate the overdue."""
            try:
                swept = await asyncio.to_thread(objections.sweep)
            except Exception as exc:  # the broker or the store is away: the next tick tries again
                log.warning("objections: sweep failed, will retry: %s", type(exc).__name__)
                return
            if swept.closed or swept.escalated:
                log.info("objections: %d closed after a correction at source, %d escalated", swept.closed,
                         swept.escalated)

    app.conf.onceonly_agents = agents
    app.conf.onceonly_metrics = metrics
    return app


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


def _located(delivered: Any) -> str:
    return f"{delivered.topic}[{delivered.partition}]@{delivered.offset}"


def _observed(events: Iterable[Any]) -> list[datetime]:
    """When the connectors read the records these events carry (events without a record: none)."""
    return [record.observed_at for e in events if (record := getattr(e, "record", None)) is not None]


def decode_batch(events: Sequence[Any]) -> tuple[list[Delivered], list[DeadLetter]]:
    """Split delivered Kafka events into readable source records and dead letters."""
    decoded, rejected = decode_each(events, SourceRecord, "standardise")
    return [Delivered(m.topic, m.partition, m.offset, record) for m, record in decoded], rejected

