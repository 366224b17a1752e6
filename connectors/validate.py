"""Is a native row readable? The checks a connector makes before a row becomes an event.

The reason comes back as text for the dead letter; it never holds a raw ID number.

A row is refused only when it cannot be identified or read: a cell too large, a cell holding a
spreadsheet formula or DDE payload (:func:`formula_in`), or a row the standardiser cannot make a
resident record of (``CannotStandardise``: no name and no identity document). A row without a
record id or a line that cannot be decoded or parsed is refused by the reader before it gets
here. A field that cannot be read (an unknown code, an impossible date) keeps the row: the
standardiser leaves it empty and keeps the raw value in the record's warnings.

A mapping can still ask to refuse rows the standardiser would warn about (``reject_warnings``,
empty by default). For the kinds the standardiser can check on their own (codes and dates) only
those checks run (``core.standardise.first_warning``); any other kind needs the whole record
standardised. Both give the same answer for every row.
"""

from __future__ import annotations

import re
from datetime import date

from connectors.rows import NativeRow
from connectors.spec import ConnectorSpec
from core.standardise import CannotStandardise, FieldMapping, StandardiseError, standardise
from core.standardise.record import CHECKABLE_WARNINGS, first_warning
from schemas.source_record import SourceRecord

PROBE_ID = "probe"  # the record id the standardiser's messages name (the real one may be a keyed hash)

# A spreadsheet runs a cell starting with = + - or @ as a formula. "=" alone says formula; after
# + - @ only formula text does (a function call, a DDE link "cmd|"), so that "+86 138…",
# "-", "-1" and "@qq.com" stay ordinary values.
_FORMULA_AFTER_SIGN = re.compile(r"^[+\-@].*?(?:[A-Za-z_][A-Za-z0-9_.]*\s*\(|\|)", re.ASCII | re.DOTALL)
_FORMULA_STARTS = frozenset("=+-@\t\r\n")


def formula_in(text: str) -> bool:
    """Whether a cell holds a spreadsheet formula or DDE payload (CSV injection).

    >>> [formula_in(t) for t in ("=1+1", "+cmd|' /C calc'!A0", "@SUM(A1:A2)", "-2+3+cmd|x", "+86 13812345678", "-")]
    [True, True, True, True, False, False]
    """
    start = text.lstrip("\t\r\n")  # a tab or line break before the sign still starts a formula
    if start.startswith("="):
        return True
    return bool(_FORMULA_AFTER_SIGN.match(start))


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
        if text[:1] in _FORMULA_STARTS and formula_in(text):
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
