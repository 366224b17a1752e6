"""The standardise stage as one pure function: a source-record envelope in, a canonical record
(or a dead letter saying why not) out. The faust agent only decodes, calls this and sends."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from core.standardise.errors import StandardiseError
from core.standardise.record import FieldMapping, standardise
from schemas.record_events import RecordStandardised
from schemas.resident import ResidentRecord
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


def standardised_hash(record: ResidentRecord) -> str:
    """SHA-256 of a record's standardised form: two readings of a row under two mappings give the
    same hash exactly when they give the same canonical record."""
    form = record.model_dump(mode="json")
    return hashlib.sha256(json.dumps(form, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def restandardise_envelope(envelope: SourceRecord, mapping: FieldMapping,
                           before: ResidentRecord | None) -> RecordStandardised | DeadLetter | None:
    """A source-record version read again under a fixed mapping (``onceonly restandardise``).

    ``None`` when its standardised form is ``before`` (what the records topic holds for it): only
    a record the fix changes makes an event. That event's id derives from the version it reads and
    its new form, so sending it twice is harmless (the resolver keeps the ids it has applied), and
    its content hash from the raw hash and the new form's, so the resolver, which compares content
    hashes, takes it as a new version of the same record (``RecordUpdated``) — and a later fix
    that changes the form again makes one more.
    """
    result = standardise_envelope(envelope, {envelope.source: mapping})
    if not isinstance(result, RecordStandardised) or result.record is None:
        return result
    form = standardised_hash(result.record)
    if before is not None and standardised_hash(before) == form:
        return None
    return result.model_copy(update={
        "event_id": hashlib.sha256(f"restandardised\x1f{envelope.event_id}\x1f{form}".encode()).hexdigest()[:32],
        "content_hash": hashlib.sha256(f"{envelope.content_hash}\x1f{form}".encode()).hexdigest(),
        "source_event_id": envelope.event_id,
    })
