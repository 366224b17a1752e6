"""The loop every connector shares: native rows → envelopes → Kafka, bad rows → dead letters."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from connectors.kafka_sink import KafkaSink
from connectors.rows import NativeRow, UnreadableRow
from connectors.spec import ConnectorSpec
from core.privacy import redact_id_numbers
from schemas.source_record import DeadLetter, SourceRecord


@dataclass
class RunCounts:
    """What one connector run did; ``read == events + unchanged + dead_letters`` always."""

    read: int = 0
    events: int = 0
    unchanged: int = 0
    dead_letters: int = 0

    @property
    def balanced(self) -> bool:
        return self.read == self.events + self.unchanged + self.dead_letters


def record_id_of(spec: ConnectorSpec, row: NativeRow) -> str | None:
    parts = [str(row.values.get(col) or "").strip() for col in spec.record_id]
    if not all(parts):
        return None
    return "|".join(parts)


def pull(spec: ConnectorSpec, rows: Iterable[NativeRow | UnreadableRow], sink: KafkaSink, *,
         raw_topic: str, deadletter_topic: str) -> RunCounts:
    counts = RunCounts()
    for row in rows:
        counts.read += 1
        if isinstance(row, UnreadableRow):
            _dead(sink, deadletter_topic, spec.source, row.location, row.reason)
            counts.dead_letters += 1
            continue
        record_id = record_id_of(spec, row)
        if record_id is None:
            _dead(sink, deadletter_topic, spec.source, row.location, f"missing record id ({', '.join(spec.record_id)})")
            counts.dead_letters += 1
            continue
        record = SourceRecord.of(source=spec.source, record_id=record_id, payload=row.values,
                                 mapping_version=spec.version, location=row.location)
        sink.send(raw_topic, record.identity, record)
        counts.events += 1
    sink.flush()
    return counts


def _dead(sink: KafkaSink, topic: str, source: str, location: str, reason: str) -> None:
    letter = DeadLetter(source=source, location=location, reason=redact_id_numbers(reason), stage="connector")
    sink.send(topic, f"{source}:{location}", letter)
