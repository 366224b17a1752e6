"""Steward views of the pipeline: health (lag, connector runs), dead letters, publishing decisions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, func, select

from core.privacy import redact_id_numbers
from store.profile_tables import profiles
from store.tables import connector_runs, consumer_positions

log = logging.getLogger(__name__)


class PipelineViews:
    """``kafka`` returns the cluster's address, or raises when there is none (the store still answers)."""

    def __init__(self, engine: Engine, kafka: Callable[[], str], *, deadletter_topic: str,
                 profile_events_topic: str) -> None:
        self.engine = engine
        self.kafka = kafka
        self.deadletter_topic = deadletter_topic
        self.profile_events_topic = profile_events_topic

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
            by_status = dict(conn.execute(select(profiles.c.status == "active", func.count())
                                          .group_by(profiles.c.status == "active")).all())
        sources = [{"source": r.source, "runs": r.runs, "read": int(r.read or 0), "events": int(r.events or 0),
                    "unchanged": int(r.unchanged or 0), "dead_letters": int(r.dead_letters or 0),
                    "last_finished": r.last_finished.isoformat() if r.last_finished else None} for r in runs]
        ends, kafka_note = self._end_offsets({p.topic for p in positions})
        consumers: dict[tuple[str, str], dict[str, Any]] = {}
        for p in positions:
            entry = consumers.setdefault((p.consumer, p.topic), {"consumer": p.consumer, "topic": p.topic,
                                                                 "applied": 0, "lag": 0 if ends is not None else None})
            entry["applied"] += p.offset + 1
            if ends is not None:
                entry["lag"] += max(ends.get((p.topic, p.partition), 0) - (p.offset + 1), 0)
        return {
            "profiles": {"active": int(by_status.get(True, 0)), "merged": int(by_status.get(False, 0))},
            "sources": sources,
            "consumers": sorted(consumers.values(), key=lambda c: (c["consumer"], c["topic"])),
            "kafka": kafka_note,
        }

    def _end_offsets(self, topics: set[str]) -> tuple[dict[tuple[str, int], int] | None, str]:
        try:
            address = self.kafka()
        except Exception as exc:  # noqa: BLE001 - no broker: lag unknown, the rest still answers
            return None, f"no Kafka cluster reachable ({type(exc).__name__}): lag unknown"
        from kafka import KafkaConsumer, TopicPartition  # type: ignore[import-untyped]

        try:
            consumer = KafkaConsumer(bootstrap_servers=address, group_id=None, client_id="onceonly-api-health",
                                     request_timeout_ms=5000)
        except Exception as exc:  # noqa: BLE001
            return None, f"Kafka at {address} did not answer ({type(exc).__name__}): lag unknown"
        try:
            tps = [TopicPartition(t, p) for t in sorted(topics) for p in sorted(consumer.partitions_for_topic(t) or ())]
            ends = consumer.end_offsets(tps) if tps else {}
            return {(tp.topic, tp.partition): off for tp, off in ends.items()}, f"ok ({address})"
        finally:
            consumer.close()

    def dead_letters(self, *, source: str | None = None, limit: int = 100) -> dict[str, Any]:
        """The newest dead letters (source, location, reason), ID-number-like text masked."""
        from streams.log import read_log

        from api.queries import Unavailable

        try:
            address = self.kafka()
        except Exception as exc:  # noqa: BLE001
            raise Unavailable(f"dead letters live in Kafka and no cluster is reachable ({type(exc).__name__})") from None
        letters: list[dict[str, Any]] = []
        counts: dict[str, int] = {}
        for batch in read_log(address, self.deadletter_topic, client_id="onceonly-api-deadletters"):
            for logged in batch:
                letter = logged.event
                src = getattr(letter, "source", "?")
                counts[src] = counts.get(src, 0) + 1
                if source and src != source:
                    continue
                letters.append({
                    "event_id": getattr(letter, "event_id", ""), "source": src,
                    "stage": getattr(letter, "stage", ""), "location": redact_id_numbers(getattr(letter, "location", "")),
                    "reason": redact_id_numbers(getattr(letter, "reason", "")),
                    "record_id": redact_id_numbers(getattr(letter, "record_id", None) or ""),
                    "raw_excerpt": redact_id_numbers(getattr(letter, "raw_excerpt", "")),
                    "observed_at": str(getattr(letter, "observed_at", "")),
                    "partition": logged.partition, "offset": logged.offset,
                })
        letters.sort(key=lambda d: d["observed_at"], reverse=True)
        return {"per_source": counts, "total": sum(counts.values()), "letters": letters[:limit]}

    def publish(self, send_outbox: Callable[[Callable[[bytes, bytes], None], Callable[[], None]], int]) -> int | None:
        """Publish the resolver's outbox now when Kafka is reachable; ``None`` leaves it to the workers."""
        try:
            address = self.kafka()
        except Exception:  # noqa: BLE001 - the stream workers' publisher sends it later
            return None
        from streams.resolve import KafkaOutboxSender

        sender = KafkaOutboxSender(address, self.profile_events_topic, timeout_s=10)
        try:
            return send_outbox(sender.send, sender.flush)
        except Exception as exc:  # noqa: BLE001 - still in the outbox: the workers publish it
            log.warning("publishing steward decisions failed: %s", type(exc).__name__)
            return None
        finally:
            sender.close()
