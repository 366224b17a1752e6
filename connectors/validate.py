"""Is a native row readable? The checks a connector makes before a row becomes an event.

The reason comes back as text for the dead letter; it never holds a raw ID number.
"""

from __future__ import annotations

from core.standardise import CannotStandardise, FieldMapping, StandardiseError, standardise
from connectors.rows import NativeRow
from connectors.spec import ConnectorSpec
from schemas.source_record import SourceRecord


def row_problem(spec: ConnectorSpec, mapping: FieldMapping | None, row: NativeRow) -> str | None:
    """Why this row cannot be taken in, or ``None`` when it can."""
    for column, value in row.values.items():
        if value is None:
            continue
        text = value if isinstance(value, str) else str(value)
        if len(text.encode("utf-8")) > spec.max_field_bytes:
            return f"field {column!r} is {len(text.encode('utf-8')):,} bytes (limit {spec.max_field_bytes:,})"
        if text.startswith("="):
            return f"formula in cell {column!r}"
    if mapping is None:
        return None
    probe = SourceRecord.of(source=spec.source, record_id="probe", payload=row.values, mapping_version=spec.version,
                            location=row.location)
    try:
        record = standardise(probe, mapping)
    except CannotStandardise as exc:
        return f"cannot standardise: {exc}"
    except StandardiseError as exc:
        return f"cannot standardise: {exc}"
    for warning in record.warnings:
        kind = warning.split(":", 1)[0]
        if kind in spec.reject_warnings:
            return warning
    return None
