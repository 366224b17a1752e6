"""Is a native row readable? The checks a connector makes before a row becomes an event.

The reason comes back as text for the dead letter; it never holds a raw ID number.

A row is refused when a cell is too large or holds a spreadsheet formula, when the standardiser
could not make a resident record of it (``CannotStandardise``), or when the standardiser would
warn about it with a kind the mapping rejects (``reject_warnings``). For the rejectable kinds
the standardiser can check on their own (codes and dates: the default list) only those checks
run (``core.standardise.first_warning``); any other kind needs the whole record standardised.
Both give the same answer for every row.
"""

from __future__ import annotations

from datetime import date

from core.standardise import CannotStandardise, FieldMapping, StandardiseError, standardise
from core.standardise.record import CHECKABLE_WARNINGS, first_warning
from connectors.rows import NativeRow
from connectors.spec import ConnectorSpec
from schemas.source_record import SourceRecord

PROBE_ID = "probe"  # the record id the standardiser's messages name (the real one may be a keyed hash)


def row_problem(spec: ConnectorSpec, mapping: FieldMapping | None, row: NativeRow, *,
                today: date | None = None) -> str | None:
    """Why this row cannot be taken in, or ``None`` when it can."""
    limit = spec.max_field_bytes
    for column, value in row.values.items():
        if value is None:
            continue
        text = value if isinstance(value, str) else str(value)
        # UTF-8 takes at most 4 bytes a character: only a long text needs encoding to be measured
        if len(text) * 4 > limit and len(text.encode("utf-8")) > limit:
            return f"field {column!r} is {len(text.encode('utf-8')):,} bytes (limit {limit:,})"
        if text.startswith("="):
            return f"formula in cell {column!r}"
    if mapping is None:
        return None
    kinds = frozenset(spec.reject_warnings)
    try:
        if kinds <= CHECKABLE_WARNINGS:
            return first_warning(row.values, mapping, kinds, source=spec.source, record_id=PROBE_ID, today=today)
        return _standardised_problem(spec, mapping, row, kinds, today)
    except CannotStandardise as exc:
        return f"cannot standardise: {exc}"
    except StandardiseError as exc:
        return f"cannot standardise: {exc}"


def _standardised_problem(spec: ConnectorSpec, mapping: FieldMapping, row: NativeRow, kinds: frozenset[str],
                          today: date | None) -> str | None:
    probe = SourceRecord.of(source=spec.source, record_id=PROBE_ID, payload=row.values, mapping_version=spec.version,
                            location=row.location)
    record = standardise(probe, mapping, today=today)
    for warning in record.warnings:
        if warning.split(":", 1)[0] in kinds:
            return warning
    return None
