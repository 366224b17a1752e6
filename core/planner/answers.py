"""The way back (采集回流): what a community worker wrote into a plan's gaps becomes one visit record
of the community source (社区 入户走访), in the community mapping's own columns, so that it is
standardised, resolved and published like any other record.

Only the gaps count: a cell of a field the hub already knows is not taken (the hub keeps its
authoritative value; a correction goes through the source that holds it). The visit names whom it
is about with the profile's own identity on file (name, sex, address, phones, community, grid),
the way a worker writes a visit down at the door, so the resolver links it to that resident.

A door check (入户核实, asked of a resident whose place is contested) answers 核实方式: that visit names
no community or grid on file (the hub's current guess, which the records disagree on); the address
the worker wrote places the resident, on the day of the visit (走访日期, else the day the answers
came back), and the door-check rule of ``core.places`` applies.

Pure: the adapter reads the workbook and the profiles and hands the rows to the ingest loop.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time

from core.door_check import VERIFICATION_FIELD, VISITED_ON_FIELD
from core.planner.fields import read_field
from core.planner.plan import FormTemplate, ResidentPlan
from core.profile.model import Profile
from core.standardise import FieldMapping

__all__ = ["CollectedAnswers", "collected_answers", "mapping_target", "visit_row"]

# Identity on file that a visit record carries so that the resolver finds the resident.
_IDENTITY = ("name", "sex", "residential_address", "phones", "attributes.community", "attributes.grid")
# Where the hub now places the resident: not written on a door check, which is there to settle it.
_PLACE = ("attributes.community", "attributes.grid")


@dataclass(frozen=True)
class CollectedAnswers:
    """One resident's filled gaps (canonical field → what the worker wrote)."""

    profile_id: str
    answers: Mapping[str, str]
    ignored: tuple[str, ...]  # changed cells of fields the hub already knew: not taken


def collected_answers(resident: ResidentPlan, cells: Mapping[str, object],
                      shown: Mapping[str, str] | None = None) -> CollectedAnswers:
    """The non-blank cells of ``resident``'s gaps. Cells of known fields are not taken; those that
    differ from what the form showed (``shown``: field → the pre-filled text) are listed as ignored."""
    answers: dict[str, str] = {}
    ignored: list[str] = []
    for name, cell in cells.items():
        text = _text(cell)
        if text is None:
            continue
        if name in resident.missing:
            answers[name] = text
        elif name in resident.known and (shown is None or shown.get(name) != text):
            ignored.append(name)
    return CollectedAnswers(profile_id=resident.profile_id, answers=answers, ignored=tuple(ignored))


def mapping_target(field: str) -> str:
    """The mapping-file target of a canonical field: ``residential_address`` → ``addresses.residential``."""
    if field.endswith("_address"):
        return "addresses." + field.removesuffix("_address")
    return field


def visit_row(collected: CollectedAnswers, profile: Profile, form: FormTemplate, mapping: FieldMapping,
              record_id_column: str, *, answered_on: date | None = None) -> tuple[dict[str, str], tuple[str, ...]]:
    """The native row of the visit (columns as the community mapping names them), and the answered
    fields the community source does not carry (e.g. ID numbers: never collected at the door).

    A door check (the worker answered 核实方式) carries no community or grid on file, and its
    走访日期 is ``answered_on`` when the worker left it blank.

    The record id is derived from the resident, the form and the answers: sending the same
    answers again is the same record (collected once); other answers are another visit.
    """
    row: dict[str, str] = {}
    not_carried: list[str] = []
    door_check = VERIFICATION_FIELD in collected.answers
    for field in _IDENTITY:
        if door_check and field in _PLACE:
            continue
        value = _on_file(profile, field)
        column = _column(mapping, field)
        if value is not None and column is not None and field not in collected.answers:
            row[column] = _native(mapping, field, value)
    for field, text in collected.answers.items():
        column = _column(mapping, field)
        if column is None:
            not_carried.append(field)
        else:
            row[column] = text
    visited = _column(mapping, VISITED_ON_FIELD)
    if door_check and answered_on is not None and visited is not None and not row.get(visited):
        row[visited] = answered_on.isoformat()
    digest = hashlib.sha256("\x1f".join([form.name, collected.profile_id, *(
        f"{f}={collected.answers[f]}" for f in sorted(collected.answers) if f not in not_carried)]).encode("utf-8"))
    row[record_id_column] = f"JH-{collected.profile_id}-{digest.hexdigest()[:12]}"
    return row, tuple(not_carried)


def _on_file(profile: Profile, field: str) -> str | None:
    if field == "residential_address":
        known = read_field(profile.golden, "residential_address") or read_field(profile.golden, "registered_address")
    elif field == "attributes.community":
        known = read_field(profile.golden, field)
        if known is None:
            for name in ("residential_address", "registered_address"):
                address = getattr(profile.golden, name)
                if address is not None and address.value.community:
                    return str(address.value.community)
    else:
        known = read_field(profile.golden, field)
    return known.value if known else None


def _column(mapping: FieldMapping, field: str) -> str | None:
    columns = mapping.columns(mapping_target(field))
    return columns[0] if columns else None


def _native(mapping: FieldMapping, field: str, value: str) -> str:
    """A canonical value written back as the source writes it (``male`` → ``男``), when its code
    table says how."""
    table = mapping.codes.get(mapping_target(field)) or {}
    for native, canonical in table.items():
        if canonical == value:
            return native
    return value


def _text(cell: object) -> str | None:
    if cell is None:
        return None
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    if isinstance(cell, datetime) and cell.time() == time():
        cell = cell.date()  # a date the spreadsheet turned into a date cell
    if isinstance(cell, date | datetime):
        return cell.isoformat()
    text = str(cell).strip()
    return text or None
