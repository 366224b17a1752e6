"""Steward views of the pipeline: health (lag, connector runs) now and over time, the dead-letter
topic as read, publishing decisions."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from core.access import Principal, require
from services.quality import latest_pass_rate
from store.pipeline_samples import PipelineSamples, Sample
from store.profile_tables import profiles
from store.tables import connector_runs, consumer_positions

log = logging.getLogger(__name__)


class PipelineViews:
    """``kafka`` returns the cluster's address, or raises when there is none (the store still answers).
    The dead letters' use cases (listing them, audited; re-processing) are ``services.dead_letters``,
    which reads the topic through :meth:`read_dead_letters`."""

    def __init__(self, engine: Engine, kafka: Callable[[], str], *, deadletter_topic: str,
                 profile_events_topic: str, samples: PipelineSamples | None = None,
                 sample_seconds: float = 30.0) -> None:
        self.engine = engine
        self.kafka = kafka
        self.deadletter_topic = deadletter_topic
        self.profile_events_topic = profile_events_topic
        self.samples = samples if samples is not None else PipelineSamples(engine)
        self.sample_seconds = sample_seconds
        self._sampling = threading.Lock()

    def health(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            runs = conn.execute(
                select(connector_runs.c.source, func.count().label("runs"), func.sum(connector_runs.c.read).label("read"),
                       func.sum(connector_runs.c.events).label("events"),
                       func.sum(connector_runs.c.unchanged).label("unchanged"),
                       func.sum(connector_runs.c.dead_letters).label("dead_letters"),
                       func.max(connector_runs.c.finished_at).label("last_finished"))
                .group_by(connector_runs.c.source).order_by(connector_runs.c.source)).all()
            positions = conn.execute(select(consumer_positions)).all()
            # Grouped by the column itself: PostgreSQL refuses a GROUP BY on a bound comparison
            # ("status = $1") as not the selected expression.
            by_status: dict[bool, int] = {}
            for status, n in conn.execute(select(profiles.c.status, func.count()).group_by(profiles.c.status)):
                by_status[status == "active"] = by_status.get(status == "active", 0) + int(n)
        sources = [{"source": r.source, "runs": r.runs, "read": int(r.read or 0), "events": int(r.events or 0),
                    "unchanged": int(r.unchanged or 0), "dead_letters": int(r.dead_letters or 0),
                    "last_finished": r.last_finished.isoformat() if r.last_finished else None} for r in runs]
        ends, kafka_note = self._end_offsets({p.topic for p in positions} | {self.deadletter_topic})
        consumers: dict[tuple[str, str], dict[str, Any]] = {}
        for p in positions:
            entry = consumers.setdefault((p.consumer, p.topic), {"consumer": p.consumer, "topic": p.topic,
                                                                 "applied": 0, "lag": 0 if ends is not None else None,
                                                                 "partitions": []})
            lag = None if ends is None else max(ends.get((p.topic, p.partition), 0) - (p.offset + 1), 0)
            entry["applied"] += p.offset + 1
            entry["partitions"].append({"partition": p.partition, "applied": p.offset + 1, "lag": lag})
            if lag is not None:
                entry["lag"] += lag
        in_topic = None if ends is None else sum(o for (t, _), o in ends.items() if t == self.deadletter_topic)
        return {
            "profiles": {"active": int(by_status.get(True, 0)), "merged": int(by_status.get(False, 0))},
            "sources": sources,
            "consumers": sorted(consumers.values(), key=lambda c: (c["consumer"], c["topic"])),
            "dead_letters": {"per_source": {s["source"]: s["dead_letters"] for s in sources}, "in_topic": in_topic},
            "validation_pass_rate": latest_pass_rate(self.engine),
            "kafka": kafka_note,
        }

    # -- what a steward asks (运行状况: the API and the console) -------------------------------------
    def health_now(self, principal: Principal) -> dict[str, Any]:
        """The pipeline's health now, stored as a sample too when the last one is old."""
        require(principal, "health")
        reading = self.health()
        self.sample_if_due(reading)
        return reading

    def health_since(self, principal: Principal, since: datetime | None = None) -> tuple[datetime, list[dict[str, Any]]]:
        """The samples taken at or after ``since`` (default: the last 24 hours; a time without a zone is UTC)."""
        require(principal, "health")
        if since is None:
            since = datetime.now(UTC) - timedelta(hours=24)
        elif since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return since, self.history(since)

    # -- health over time ------------------------------------------------------------------------
    def sample(self, health: dict[str, Any] | None = None, now: datetime | None = None) -> Sample:
        """Store one sample of ``health`` (read now when not given), with records/s since the last one."""
        with self._sampling:
            health = health if health is not None else self.health()
            now = now or datetime.now(UTC)
            previous = self.samples.latest()
            return self.samples.add(health_sample(health, previous, now), now)

    def sample_if_due(self, health: dict[str, Any] | None = None) -> Sample | None:
        """A sample when the newest one is older than the interval (or there is none)."""
        latest = self.samples.latest()
        if latest is not None and datetime.now(UTC) - latest.taken_at < timedelta(seconds=self.sample_seconds):
            return None
        return self.sample(health)

    def latest(self) -> Sample | None:
        """The newest sample: what the 运行状况 page last drew, and what /metrics reports."""
        return self.samples.latest()

    def history(self, since: datetime) -> list[dict[str, Any]]:
        return [{"taken_at": s.taken_at.isoformat(), **s.sample} for s in self.samples.since(since)]

    def _end_offsets(self, topics: set[str]) -> tuple[dict[tuple[str, int], int] | None, str]:
        try:
            address = self.kafka()
        except Exception as exc:
            return None, f"no Kafka cluster reachable ({type(exc).__name__}): lag unknown"
        from kafka import TopicPartition

        from kafka_adapter import clients

        try:
            consumer = clients.consumer(address, client_id="onceonly-api-health", request_timeout_ms=5000)
        except Exception as exc:
            return None, f"Kafka at {address} did not answer ({type(exc).__name__}): lag unknown"
        try:
            tps = [TopicPartition(t, p) for t in sorted(topics) for p in sorted(consumer.partitions_for_topic(t) or ())]
            ends = consumer.end_offsets(tps) if tps else {}
            return {(tp.topic, tp.partition): off for tp, off in ends.items()}, f"ok ({address})"
        finally:
            consumer.close()

    def read_dead_letters(self) -> list[Any]:
        """Every dead letter now in the topic, decoded (``DeadLetter``), oldest first per partition."""
        from kafka_adapter.reader import read_log
        from services.queries import Unavailable

        try:
            address = self.kafka()
        except Exception as exc:
            raise Unavailable(f"dead letters live in Kafka and no cluster is reachable ({type(exc).__name__})") from None
        return [logged for batch in read_log(address, self.deadletter_topic, client_id="onceonly-api-deadletters")
                for logged in batch]

    def publish(self, send_outbox: Callable[[Callable[[bytes, bytes], None], Callable[[], None]], int]) -> int | None:
        """Publish the resolver's outbox now when Kafka is reachable; ``None`` leaves it to the workers."""
        try:
            address = self.kafka()
        except Exception:
            return None
        from streams.resolve import publish_once

        try:
            return publish_once(address, self.profile_events_topic, send_outbox, timeout_s=10)
        except Exception as exc:
            log.warning("publishing steward decisions failed: %s", type(exc).__name__)
            return None


CONSUMER_NAMES = {"ledger": "原始记录入账", "profiles": "画像投影"}


def health_sample(health: dict[str, Any], previous: Sample | None, now: datetime) -> dict[str, Any]:
    """What a sample keeps of a health reading; records/s per consumer since ``previous``.

    >>> from datetime import timedelta
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> h = {"consumers": [{"consumer": "ledger", "topic": "raw.x", "applied": 50, "lag": 5}], "profiles": {}}
    >>> first = Sample(t, health_sample(h, None, t))
    >>> h2 = {"consumers": [{"consumer": "ledger", "topic": "raw.x", "applied": 150, "lag": 0}], "profiles": {}}
    >>> health_sample(h2, first, t + timedelta(seconds=10))["records_per_s"]
    {'ledger': 10.0}
    """
    # per partition too: the query service's /metrics gauges are read from the newest sample
    consumers = [{"consumer": c["consumer"], "topic": c["topic"], "applied": c["applied"], "lag": c["lag"],
                  "partitions": sorted(c.get("partitions", []), key=lambda p: p["partition"])}
                 for c in health.get("consumers", [])]
    applied: dict[str, int] = {}
    lag: dict[str, int | None] = {}
    for c in consumers:
        applied[c["consumer"]] = applied.get(c["consumer"], 0) + int(c["applied"])
        known = lag.get(c["consumer"], 0)
        lag[c["consumer"]] = None if c["lag"] is None or known is None else known + int(c["lag"])
    rates: dict[str, float | None] = {}
    if previous is not None:
        seconds = (now - previous.taken_at).total_seconds()
        before = previous.sample.get("applied", {})
        for name, total in applied.items():
            if seconds > 0 and name in before:
                rates[name] = round(max(total - int(before[name]), 0) / seconds, 3)
    dead = health.get("dead_letters", {})
    return {
        "consumers": consumers,
        "applied": applied,
        "lag": lag,
        "records_per_s": rates,
        "dead_letters": {"per_source": dict(dead.get("per_source", {})), "in_topic": dead.get("in_topic")},
        "profiles": dict(health.get("profiles", {})),
        "validation_pass_rate": health.get("validation_pass_rate"),
    }


class HealthSampler:
    """Samples pipeline health every ``seconds`` in a daemon thread, until ``stop``."""

    def __init__(self, views: PipelineViews, seconds: float) -> None:
        self.views = views
        self.seconds = seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="onceonly-health-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.views.sample_if_due()
            except Exception as exc:
                log.warning("pipeline health sample failed: %s", type(exc).__name__)
            self._stop.wait(self.seconds)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
