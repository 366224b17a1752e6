"""The standardise stage as one pure function: a source-record envelope in, a canonical record
(or a dead letter saying why not) out. The faust agent only decodes, calls this and sends."""

from __future__ import annotations

from collections.abc import Mapping

from core.standardise.errors import StandardiseError
from core.standardise.record import FieldMapping, standardise
from schemas.record_events import RecordStandardised
from schemas.source_record import DeadLetter, SourceRecord


def standardise_envelope(envelope: SourceRecord,
                         mappings: Mapping[str, FieldMapping]) -> RecordStandardised | DeadLetter:
    if envelope.change == "end":
        return RecordStandardised(event_id=envelope.event_id, source=envelope.source, record_id=envelope.record_id,
                                  change="end", content_hash=envelope.content_hash, observed_at=envelope.observed_at)
    mapping = mappings.get(envelope.source)
    if mapping is None:
        return _dead(envelope, f"no mapping file for source {envelope.source!r}")
    try:
        record = standardise(envelope, mapping)
    except StandardiseError as exc:  # messages are masked by the core
        return _dead(envelope, f"cannot standardise: {exc}")
    return RecordStandardised(event_id=envelope.event_id, source=envelope.source, record_id=envelope.record_id,
                              change="upsert", content_hash=envelope.content_hash, observed_at=envelope.observed_at,
                              record=record)


def _dead(envelope: SourceRecord, reason: str) -> DeadLetter:
    return DeadLetter(source=envelope.source, location=envelope.location or envelope.identity, reason=reason,
                      stage="standardise", record_id=envelope.record_id)
