"""The mapping workbench (映射检查): what a mapping file makes of a department's file, before
anything reaches Kafka.

:func:`check_rows` reads native rows through the mapping exactly as a connector and the standardise
stage would (``connectors.validate.row_problem``, ``core.standardise.standardise``) and reports, per
canonical field, how often it is filled and how often it can be read; native and standardised values
side by side for a few rows; the value counts of every coded column with the values outside its
code table; the rows a connector would refuse and why; and how many rows carry each kind of match
evidence. ID numbers and phone numbers are shown masked. Nothing is sent, nothing is stored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from connectors.csv_files import read_csv, read_xlsx
from connectors.rows import NativeRow, Row, UnreadableRow
from connectors.spec import ConnectorSpec
from connectors.validate import row_problem
from core.access import Principal, require
from core.privacy import mask_id_number, mask_phone, redact
from core.standardise import FieldMapping, StandardiseError, standardise
from core.standardise._text import as_text
from core.standardise.record import ID_KIND_NAMES
from schemas.resident import ResidentRecord
from schemas.source_record import SourceRecord
from services.ports import Auditor

__all__ = ["CODED_TARGETS", "FieldFigures", "MappingCheck", "MappingCheckService", "check_file", "check_rows",
           "read_rows"]

# Targets the standardiser reads through a code table of its own (GB/T 2261.1, GB 3304 …) or the
# mapping's; a mapped attribute is coded when the mapping gives it a table.
CODED_TARGETS = ("sex", "id_kind", "relation_to_head", "ethnicity", "marital_status", "nationality")
EVIDENCE = ("valid_id_number", "name_and_birth_date", "phone", "dwelling")
TOP_VALUES = 30  # value counts shown per coded column (the rest summed)
PURPOSE = "映射检查"


@dataclass(frozen=True)
class FieldFigures:
    target: str
    columns: tuple[str, ...]
    filled: int  # rows (not refused) whose columns give a value
    parsed: int  # of those, rows whose value the standardiser could read

    def as_dict(self, rows: int) -> dict[str, Any]:
        return {"target": self.target, "columns": list(self.columns), "filled": self.filled, "parsed": self.parsed,
                "fill_rate": _rate(self.filled, rows), "parse_rate": _rate(self.parsed, self.filled)}


@dataclass
class MappingCheck:
    source: str
    version: str
    rows: int = 0  # rows read (refused ones included)
    accepted: int = 0
    fields: list[FieldFigures] = field(default_factory=list)
    sample: list[dict[str, Any]] = field(default_factory=list)  # location + {target: [native, standardised]}
    values: dict[str, Counter[str]] = field(default_factory=dict)  # coded target → native value counts
    outside: dict[str, Counter[str]] = field(default_factory=dict)  # coded target → values outside its table
    refused: list[tuple[str, str]] = field(default_factory=list)  # (location, reason)
    evidence: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)  # warning kinds of accepted rows

    def field_figures(self, target: str) -> FieldFigures:
        return next(f for f in self.fields if f.target == target)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "version": self.version, "rows": self.rows, "accepted": self.accepted,
            "refused_count": len(self.refused),
            "fields": [f.as_dict(self.accepted) for f in self.fields],
            "sample": self.sample,
            "coded": {t: {"values": dict(c.most_common(TOP_VALUES)), "distinct": len(c),
                          "outside_code_table": dict(self.outside.get(t, Counter()).most_common(TOP_VALUES))}
                      for t, c in self.values.items()},
            "refused": [{"location": loc, "reason": reason} for loc, reason in self.refused],
            "evidence": {kind: self.evidence[kind] for kind in EVIDENCE},
            "warnings": dict(self.warnings.most_common()),
        }


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def read_rows(spec: ConnectorSpec, path: Path) -> Iterable[Row]:
    """A department file's rows as the connector reads them (CSV in the mapping's encoding, or XLSX)."""
    if path.suffix.lower() == ".xlsx":
        return read_xlsx(path, spec.expected_columns)
    encoding = str(spec.transport.get("encodings", {}).get(path.name, spec.encoding))
    return read_csv(path, encoding, spec.expected_columns)


def check_file(spec: ConnectorSpec, path: Path, *, sample: int = 5, today: date | None = None) -> MappingCheck:
    return check_rows(spec, read_rows(spec, path), sample=sample, today=today)


def check_rows(spec: ConnectorSpec, rows: Iterable[Row], *, sample: int = 5, today: date | None = None) -> MappingCheck:
    """What ``spec`` makes of ``rows``: see the module docstring."""
    mapping = spec.field_mapping()
    if mapping is None:
        raise ValueError(f"{spec.source}: the mapping has no standardise section to check")
    out = MappingCheck(spec.source, spec.version)
    filled: Counter[str] = Counter()
    parsed: Counter[str] = Counter()
    coded = [t for t in mapping.fields if t in CODED_TARGETS or t in mapping.codes]
    out.values = {t: Counter() for t in coded}
    for row in rows:
        out.rows += 1
        if isinstance(row, UnreadableRow):
            out.refused.append((row.location, redact(row.reason)))
            continue
        problem = _refusal(spec, mapping, row, today)
        if problem is not None:
            out.refused.append((row.location, problem))
            continue
        payload = {k: v for k, v in row.values.items() if k not in spec.ignore_columns}
        try:
            record = standardise(SourceRecord.of(source=spec.source, record_id=row.location, payload=payload,
                                                 mapping_version=spec.version, location=row.location),
                                 mapping, today=today)
        except StandardiseError as exc:  # row_problem says so first; kept for a mapping with reject_warnings
            out.refused.append((row.location, redact(f"cannot standardise: {exc}")))
            continue
        out.accepted += 1
        out.warnings.update(w.split(":", 1)[0] for w in record.warnings)
        side_by_side: dict[str, list[str | None]] = {}
        for target in mapping.fields:
            native = _native(mapping, target, payload)
            if native is None:
                continue
            filled[target] += 1
            standardised = _standardised(mapping, record, target, native)
            outside = _outside(mapping, record, target, native)
            if standardised is not None and not outside:
                parsed[target] += 1
            if target in out.values:
                out.values[target][native] += 1
                if outside:
                    out.outside.setdefault(target, Counter())[native] += 1
            side_by_side[target] = [redact(native), None if standardised is None else redact(standardised)]
        if len(out.sample) < sample:
            out.sample.append({"location": row.location, "fields": side_by_side})
        out.evidence.update(_evidence(record))
    out.fields = [FieldFigures(t, cols, filled[t], parsed[t]) for t, cols in mapping.fields.items()]
    return out


def _refusal(spec: ConnectorSpec, mapping: FieldMapping, row: NativeRow, today: date | None) -> str | None:
    """Why the connector would refuse the row (``connectors.pull``: record id first, then the checks)."""
    if not all(str(row.values.get(col) or "").strip() for col in spec.record_id):
        return "missing record id (" + ", ".join(spec.record_id) + ")"
    deleted = spec.deleted_when
    if deleted is not None and str(row.values.get(deleted.column, "")).strip() in deleted.values:
        return None  # an end marker: nothing to check (and nothing to standardise, see below)
    problem = row_problem(spec, mapping, row, today=today)
    return redact(problem) if problem is not None else None


def _native(mapping: FieldMapping, target: str, payload: dict[str, Any]) -> str | None:
    """The native text the standardiser reads for ``target`` (the first non-blank column, or the
    composed value), or ``None`` when the row does not fill it."""
    if not mapping.applies(target, payload):
        return None
    recipe = mapping.composed.get(target)
    if recipe is not None:
        return recipe.value(payload)
    for column in mapping.columns(target):
        text = as_text(payload.get(column))
        if text is not None:
            return text
    return None


def _standardised(mapping: FieldMapping, record: ResidentRecord, target: str, native: str) -> str | None:
    """The canonical value the record holds for ``target``, as text (ID numbers and phones masked)."""
    prefix, _, key = target.partition(".")
    if prefix == "addresses":
        address = record.addresses.get(key)  # type: ignore[call-overload]
        if address is None:
            return None
        parts = (address.community, address.road, address.number, address.compound, address.building,
                 address.unit, address.room)
        return " / ".join(p for p in parts if p) or None
    if prefix == "attributes":
        return record.attributes.get(key)
    if prefix == "other_ids":
        values = [o.value for o in record.other_ids if o.kind == key]
        return redact(values[0]) if values else None
    if target == "id_number":
        if record.id_number:
            return mask_id_number(record.id_number)
        return redact(record.other_ids[0].value) if record.other_ids else None
    if target == "id_kind":  # not kept on the record: read as the standardiser reads it
        value = mapping.codes.get("id_kind", {}).get(native, native)
        return ID_KIND_NAMES.get(value) or ID_KIND_NAMES.get(value.casefold())
    if target == "phones":
        return ", ".join(mask_phone(p) for p in record.phones) or None
    if target == "sex":
        return None if record.sex == "unknown" else record.sex
    if target == "birth_date":
        return record.birth_date.isoformat() if record.birth_date else record.birth_month
    found = getattr(record, target, None)
    return None if found is None else str(found)


def _outside(mapping: FieldMapping, record: ResidentRecord, target: str, native: str) -> bool:
    """Whether the row's value of a coded ``target`` lies outside its code table."""
    if target.startswith("attributes."):
        table = mapping.codes.get(target) or {}
        return bool(table) and native not in table and native.casefold() not in {k.casefold() for k in table}
    return any(w.startswith((f"{target}_unknown", f"{target}_group")) for w in record.warnings)


def _evidence(record: ResidentRecord) -> list[str]:
    """The kinds of match evidence the record carries (``core.matching`` compares these)."""
    kinds = []
    if record.id_number:
        kinds.append("valid_id_number")
    if record.name and (record.birth_date or record.birth_month):
        kinds.append("name_and_birth_date")
    if record.phones:
        kinds.append("phone")
    if any(a.dwelling_key for a in record.addresses.values()):
        kinds.append("dwelling")
    return kinds


class MappingCheckService:
    """The workbench behind the CLI and the steward console: audited, nothing sent."""

    def __init__(self, audit: Auditor) -> None:
        self.audit = audit

    def check(self, principal: Principal, spec: ConnectorSpec, path: Path, *, sample: int = 5) -> MappingCheck:
        require(principal, "dead_letters")  # the steward who keeps the mappings
        result = check_file(spec, path, sample=sample)
        # The sample shows native values of a department's file: who looked is kept.
        self.audit.append(principal, "mapping_check", f"{PURPOSE}（{spec.source}）", [],
                          [f"source={spec.source}", f"rows={result.rows}"])
        return result
