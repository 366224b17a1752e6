"""The faust application and its wiring: which agents a worker runs, on which topics.

Each agent has a module of its own (``ledger``, ``standardise``, ``resolve``, ``project``,
``places``, and the ``objections`` sweep timer), registered here by its ``add_*`` function.
Agents decode what Kafka delivered, call the core or a store, and write the result. Every agent
is idempotent: effects in the store are tracked with the offsets applied beside them, and events
it emits have ids derived from their cause, so a redelivered message (at-least-once) is harmless.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import faust

from core.ports import Gazetteer, Ledger, Projection
from core.standardise import FieldMapping
from kafka_adapter.security import faust_credentials
from metrics.definitions import WorkerMetrics
from schemas.codec import encode
from schemas.source_record import DeadLetter
from streams.faust_fixes import install as install_faust_fixes
from streams.ledger import add_ledger_agent
from streams.objections import add_objections_sweep
from streams.places import add_places_agent
from streams.project import add_project_agent
from streams.standardise import add_standardise_agent

AGENTS = ("ledger", "standardise", "resolve", "project", "places", "objections")
"""The agents a worker can run (``objections`` is the sweep timer). A worker runs all of them by
default; a deployment can give the resolver a process of its own (``onceonly worker --agents
resolve`` beside ``--agents ledger,standardise,project,places,objections``): all workers share one
consumer group, and faust assigns each topic's partitions among the workers that subscribe to it,
so the two agents reading the raw topics (ledger, standardise) always run in the same workers."""


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

    async def dead(letters: Sequence[DeadLetter]) -> None:
        for letter in letters:
            await deadletters.send(key=f"{letter.source}:{letter.location}".encode(), value=encode(letter))
            metrics.set_aside(letter.stage, letter.source, letter.reason)

    ledger_apply = metrics.timed("ledger", wiring.ledger.apply)  # here: every worker exports the ledger's series

    agents: dict[str, Any] = {}

    if runs("ledger"):
        agents["ledger"] = add_ledger_agent(app, raw=raw, ledger_apply=ledger_apply, metrics=metrics)
    if runs("standardise"):
        agents["standardise"] = add_standardise_agent(
            app, raw=raw, records=records, places=places, mappings=wiring.mappings,
            gazetteer_sources=wiring.gazetteer_sources, dead=dead, metrics=metrics)

    if wiring.projection is not None and runs("project"):
        agents["project"] = add_project_agent(
            app, projection=wiring.projection, profile_events_topic=wiring.profile_events_topic,
            partitions=wiring.partitions, dead=dead, metrics=metrics)

    if wiring.gazetteer is not None and runs("places"):
        agents["places"] = add_places_agent(app, places=places, gazetteer=wiring.gazetteer, dead=dead,
                                            metrics=metrics)

    if wiring.resolver is not None and wiring.matcher is not None and runs("resolve"):
        from streams.resolve import add_resolve_agent

        agents["resolve"] = add_resolve_agent(
            app, records_topic=wiring.records_topic, records_partitions=wiring.records_partitions,
            profile_events_topic=wiring.profile_events_topic,
            state=wiring.resolver, matcher=wiring.matcher, dead=dead, metrics=metrics)

    if wiring.objections is not None and runs("objections"):
        add_objections_sweep(app, objections=wiring.objections, interval_s=wiring.objections_sweep_s)

    app.conf.onceonly_agents = agents
    app.conf.onceonly_metrics = metrics
    return app
