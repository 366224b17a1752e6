"""Every metric the hub exposes, defined once: the stream workers' (:class:`WorkerMetrics`), the
query service's (:class:`ServiceMetrics`), and the pipeline-health gauges translated from a health
sample (:func:`health_families`). Each process builds its own registry, so tests and several apps in
one process never share counters.

Only counts, durations and names the hub itself chose appear as labels (stages, sources, topics,
route templates, event types, closed reason classes): never a resident's data, a record id or a raw
path. Dashboards (``deploy/grafana``) query these names; a unit test checks they exist here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Literal, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

T = TypeVar("T")
Stage = Literal["ledger", "standardise", "resolve", "project", "places"]
ReasonClass = Literal["undecodable", "poison", "no_mapping", "unstandardisable", "other"]

# From milliseconds (a stage keeping up) to hours (a worker that was down, a backlog after a bulk load).
DELAY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)
APPLY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def reason_class(reason: str) -> ReasonClass:
    """A dead letter's reason as one of a few classes (the reason itself holds offsets and details).

    >>> reason_class("undecodable message: ValidationError")
    'undecodable'
    >>> reason_class("project failed on this message: VersionGap: p-9")
    'poison'
    """
    if reason.startswith("undecodable message"):
        return "undecodable"
    if "failed on this message" in reason:
        return "poison"
    if reason.startswith("no mapping file"):
        return "no_mapping"
    if reason.startswith("cannot standardise"):
        return "unstandardisable"
    return "other"


class WorkerMetrics:
    """A stream worker's metrics: what each stage read and produced, how far behind it is, what it
    set aside, what the matcher decided, how long the store took and how fresh the profiles are."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.records_in = Counter("onceonly_stage_records_in", "Messages a stage read from its topic", ["stage"],
                                  registry=r)
        self.records_out = Counter("onceonly_stage_records_out", "What a stage produced: records sent on, events "
                                   "emitted, rows applied to the store", ["stage"], registry=r)
        self.dead_letters = Counter("onceonly_dead_letters", "Messages a stage set aside to the dead-letter topic",
                                    ["stage", "source", "reason_class"], registry=r)
        self.lag = Gauge("onceonly_stage_lag_messages", "Messages between what a stage last read and the partition's "
                         "end, when it read it (this worker's partitions)", ["stage", "topic", "partition"], registry=r)
        self.matcher_events = Counter("onceonly_matcher_events", "Events the resolver emitted, by type "
                                      "(RecordLinked, ProfileCreated, ReviewRequested, ProfilesMerged, …)", ["event"],
                                      registry=r)
        self.stage_delay = Histogram("onceonly_stage_delay_seconds", "From a message's Kafka timestamp to its stage "
                                     "reading it", ["stage"], buckets=DELAY_BUCKETS, registry=r)
        self.freshness = Histogram("onceonly_freshness_seconds", "End to end: from the connector reading a row "
                                   "(its observed_at) to the profile store holding it", buckets=DELAY_BUCKETS,
                                   registry=r)
        self.apply_seconds = Histogram("onceonly_store_apply_seconds", "How long one batch took to apply to the store "
                                       "(ledger, resolver state, profile projection, gazetteer)", ["stage"],
                                       buckets=APPLY_BUCKETS, registry=r)

    def read(self, stage: Stage, events: Sequence[Any], highwater: Callable[[Any], int | None]) -> None:
        """Count a batch of faust events a stage read; its delay per message and its lag per partition.

        ``highwater(tp)`` is the partition's end offset as the consumer last saw it (None: unknown).
        """
        if not events:
            return
        self.records_in.labels(stage).inc(len(events))
        now = time.time()
        last: dict[Any, int] = {}
        delay = self.stage_delay.labels(stage)
        for event in events:
            message = event.message
            if message.timestamp:
                delay.observe(max(now - float(message.timestamp), 0.0))
            last[message.tp] = max(last.get(message.tp, -1), int(message.offset))
        for tp, offset in last.items():
            try:
                end = highwater(tp)
            except Exception:  # noqa: S112 - lag is a nicety: a consumer in a rebalance has no answer
                continue
            if end is not None:
                self.lag.labels(stage, tp.topic, str(tp.partition)).set(max(int(end) - offset - 1, 0))

    def wrote(self, stage: Stage, count: int) -> None:
        self.records_out.labels(stage).inc(count)

    def set_aside(self, stage: str, source: str, reason: str) -> None:
        self.dead_letters.labels(stage, source, reason_class(reason)).inc()

    def emitted(self, events: Iterable[Any]) -> None:
        for event in events:
            self.matcher_events.labels(type(event).__name__).inc()

    def projected(self, observed: Iterable[datetime]) -> None:
        """The profile store now holds records the connectors read at ``observed``."""
        now = time.time()
        for at in observed:
            self.freshness.observe(max(now - at.timestamp(), 0.0))

    def timed(self, stage: Stage, apply: Callable[[T], int]) -> Callable[[T], int]:
        """``apply`` that records how long each call took (failed calls too: a slow failure is slow)."""
        histogram = self.apply_seconds.labels(stage)

        def measured(batch: T) -> int:
            start = time.perf_counter()
            try:
                return apply(batch)
            finally:
                histogram.observe(time.perf_counter() - start)

        return measured


class ServiceMetrics:
    """The query service's metrics: request latency per route template, audit-append latency."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.requests = Histogram("onceonly_http_request_duration_seconds", "Query-service requests by route "
                                  "template (never the raw path), method and status", ["route", "method", "status"],
                                  buckets=REQUEST_BUCKETS, registry=self.registry)
        self.audit_append = Histogram("onceonly_audit_append_seconds", "From an audit entry queued to its group "
                                      "committed (a read answers only after)", buckets=APPLY_BUCKETS,
                                      registry=self.registry)


# The gauges the query service derives from its newest pipeline-health sample (services.pipeline), the
# numbers the steward's 运行状况 page shows: name → help.
HEALTH_GAUGES = {
    "onceonly_consumer_lag_messages": "Messages not yet applied, per store consumer, topic and partition "
                                      "(the 运行状况 page's 积压)",
    "onceonly_consumer_applied_messages": "Messages applied, per store consumer, topic and partition",
    "onceonly_consumer_records_per_second": "Records applied per second between the last two health samples",
    "onceonly_dead_letters_in_topic": "Messages in the dead-letter topic",
    "onceonly_connector_dead_letters": "Rows the connectors set aside, per source (all runs)",
    "onceonly_profiles": "Profiles in the store, by status",
    "onceonly_validation_pass_rate": "Share of expectations the latest validation passed",
    "onceonly_health_sample_timestamp_seconds": "When the health sample these gauges come from was taken",
}


def health_families(sample: dict[str, Any], taken_at: datetime) -> Iterator[Metric]:
    """The health gauges of one pipeline-health sample (:func:`services.pipeline.health_sample`)."""
    lag = GaugeMetricFamily("onceonly_consumer_lag_messages", HEALTH_GAUGES["onceonly_consumer_lag_messages"],
                            labels=["consumer", "topic", "partition"])
    applied = GaugeMetricFamily("onceonly_consumer_applied_messages",
                                HEALTH_GAUGES["onceonly_consumer_applied_messages"],
                                labels=["consumer", "topic", "partition"])
    for consumer in sample.get("consumers", []):
        for part in consumer.get("partitions", []):
            labels = [str(consumer["consumer"]), str(consumer["topic"]), str(part["partition"])]
            applied.add_metric(labels, float(part["applied"]))
            if part.get("lag") is not None:  # unknown while Kafka does not answer: no sample, not 0
                lag.add_metric(labels, float(part["lag"]))
    rates = GaugeMetricFamily("onceonly_consumer_records_per_second",
                              HEALTH_GAUGES["onceonly_consumer_records_per_second"], labels=["consumer"])
    for name, rate in sample.get("records_per_s", {}).items():
        if rate is not None:
            rates.add_metric([str(name)], float(rate))
    dead = sample.get("dead_letters", {})
    in_topic = GaugeMetricFamily("onceonly_dead_letters_in_topic", HEALTH_GAUGES["onceonly_dead_letters_in_topic"])
    if dead.get("in_topic") is not None:
        in_topic.add_metric([], float(dead["in_topic"]))
    per_source = GaugeMetricFamily("onceonly_connector_dead_letters", HEALTH_GAUGES["onceonly_connector_dead_letters"],
                                   labels=["source"])
    for source, count in dead.get("per_source", {}).items():
        per_source.add_metric([str(source)], float(count))
    profiles = GaugeMetricFamily("onceonly_profiles", HEALTH_GAUGES["onceonly_profiles"], labels=["status"])
    for status, count in sample.get("profiles", {}).items():
        profiles.add_metric([str(status)], float(count))
    pass_rate = GaugeMetricFamily("onceonly_validation_pass_rate", HEALTH_GAUGES["onceonly_validation_pass_rate"])
    if sample.get("validation_pass_rate") is not None:
        pass_rate.add_metric([], float(sample["validation_pass_rate"]))
    taken = GaugeMetricFamily("onceonly_health_sample_timestamp_seconds",
                              HEALTH_GAUGES["onceonly_health_sample_timestamp_seconds"])
    taken.add_metric([], taken_at.timestamp())
    yield from (lag, applied, rates, in_topic, per_source, profiles, pass_rate, taken)
