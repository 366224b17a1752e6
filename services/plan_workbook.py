"""The collection plan as a workbook (一表通): written pre-filled, so community workers are asked only
for the gaps (known values masked as the profile view masks them), and read back when a worker
returns it filled. A resident asked for a door check (入户核实, 住址有冲突) has the door-check columns
as gaps (现住地址（入户核实）, 核实方式 with a 入户核实 choice, 走访日期); other residents leave those
cells blank and grey: nothing is asked of them there.

The planning itself is pure (``core.planner``); the use cases are ``services.planning``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.access import is_sensitive, mask_value
from core.door_check import VERIFICATION_FIELD
from core.planner import CollectionPlan
from core.privacy import redact

__all__ = ["DOOR_CHECK_ROW", "FORM_SHEET", "VERIFICATION_CHOICES", "Cells", "FilledForm", "UnreadableWorkbook", "export_xlsx", "read_workbook", "shown",
           "workbook_bytes"]

KNOWN_FILL = "E2EFDA"  # pale green: filled from the hub, do not ask again
GAP_FILL = "FFF2CC"  # pale yellow: the worker asks this
NOT_ASKED_FILL = "EDEDED"  # grey: a door-check column of a resident not asked for one
FORM_SHEET = "form"
DOOR_CHECK_ROW = "door_check"  # summary row naming the columns the form gained for door checks
VERIFICATION_CHOICES = ("入户核实", "电话核实")  # 核实方式 as the community mapping reads it (at_door, by_phone)


class UnreadableWorkbook(ValueError):
    """The uploaded file is not a plan workbook this hub wrote."""


def shown(field: str, value: str) -> str:
    """What the pre-filled form shows to a reader who did not unmask: ID numbers, phones and
    sensitive attributes masked as the profile view masks them (the worker needs to know the
    fact is known, not the fact). Any other value is redacted as free text: an ID number or a phone
    typed into a remark is not written to a workbook in clear."""
    if not is_sensitive(field):
        return redact(value)
    parts = value.split(";") if field == "phones" else [value]
    return ";".join(mask_value(field, part) for part in parts)


Cells = Mapping[str, Mapping[str, str]]  # profile id → field → the text the form shows


def workbook_bytes(collection: CollectionPlan, cells: Cells | None = None) -> bytes:
    """The pre-filled workbook (see :func:`export_xlsx`) as bytes, for a download."""
    buffer = io.BytesIO()
    _workbook(collection, cells).save(buffer)
    return buffer.getvalue()


def export_xlsx(collection: CollectionPlan, path: Path, cells: Cells | None = None) -> Path:
    """Sheet 1: one row per resident, known fields filled (green), gaps empty for the worker
    (yellow). Sheet 2: where each known value came from. Sheet 3: the share of re-collection
    avoided. ``cells`` gives the text shown for known values (default: :func:`shown`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _workbook(collection, cells).save(path)
    return path


def _workbook(collection: CollectionPlan, cells: Cells | None) -> Any:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    form = collection.form
    text: Callable[[str, str], str | None]
    if cells is None:
        by_resident = {r.profile_id: r for r in collection.residents}

        def text(profile_id: str, name: str) -> str | None:
            known = by_resident[profile_id].known.get(name)
            return shown(name, known.value) if known else None
    else:
        def text(profile_id: str, name: str) -> str | None:
            return cells.get(profile_id, {}).get(name)

    book = Workbook()
    sheet = book.active
    sheet.title = FORM_SHEET
    sheet.append(["profile_id", *(form.label(f) for f in form.fields)])
    sheet.append(["", *form.fields])  # the canonical field under each heading, for the return trip
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    fills = {"known": PatternFill("solid", fgColor=KNOWN_FILL), "gap": PatternFill("solid", fgColor=GAP_FILL),
             "not_asked": PatternFill("solid", fgColor=NOT_ASKED_FILL)}
    for resident in collection.residents:
        sheet.append([resident.profile_id, *(text(resident.profile_id, f) if f in resident.known else None
                                             for f in form.fields)])
        for column, name in enumerate(form.fields, start=2):
            kind = "known" if name in resident.known else "gap" if name in resident.missing else "not_asked"
            sheet.cell(row=sheet.max_row, column=column).fill = fills[kind]
    if VERIFICATION_FIELD in form.fields and collection.residents:
        letter = get_column_letter(form.fields.index(VERIFICATION_FIELD) + 2)
        choices = DataValidation(type="list", formula1='"' + ",".join(VERIFICATION_CHOICES) + '"', allow_blank=True)
        choices.add(f"{letter}3:{letter}{sheet.max_row}")
        sheet.add_data_validation(choices)
    sources = book.create_sheet("sources")
    sources.append(["profile_id", "field", "source", "record_id", "observed_at"])
    for resident in collection.residents:
        for name, known in resident.known.items():
            sources.append([resident.profile_id, name, known.source, known.record_id,
                            known.observed_at.isoformat()])
    summary = book.create_sheet("summary")
    summary.append(["form", form.title])
    summary.append(["form_name", form.name])
    summary.append(["residents", len(collection.residents)])
    summary.append(["fields requested", collection.requested])
    summary.append(["already known", collection.known])
    summary.append(["re-collection avoided", round(collection.share_known, 4)])
    if form.door_check:
        summary.append([DOOR_CHECK_ROW, ";".join(form.door_check)])
    return book


@dataclass(frozen=True)
class FilledForm:
    """A plan workbook as it came back: the form's fields and, per data row, its cells."""

    form_name: str
    fields: tuple[str, ...]
    rows: list[tuple[int, str | None, dict[str, object]]]  # (sheet row, profile id, field → cell)
    door_check: tuple[str, ...] = ()  # the columns the form gained for door checks (入户核实)


def read_workbook(data: bytes, *, max_rows: int = 5_000) -> FilledForm:
    """Read a returned plan workbook; :class:`UnreadableWorkbook` says plainly what is wrong."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError, InvalidFileException …
        raise UnreadableWorkbook(f"not an .xlsx workbook ({type(exc).__name__})") from None
    try:
        if FORM_SHEET not in book.sheetnames:
            raise UnreadableWorkbook(f"no sheet {FORM_SHEET!r}: upload the workbook the planner wrote")
        sheet = book[FORM_SHEET]
        lines = sheet.iter_rows(values_only=True)
        next(lines, None)  # the form's own headings
        fields_row = next(lines, None)
        fields = tuple(str(c).strip() for c in (fields_row or ())[1:] if c is not None and str(c).strip())
        if not fields_row or str(fields_row[0] or "").strip() or not fields:
            raise UnreadableWorkbook("row 2 must name the canonical field under each heading, as the planner wrote it")
        form_name = "uploaded"
        door_check: tuple[str, ...] = ()
        if "summary" in book.sheetnames:
            for key, value, *_ in book["summary"].iter_rows(values_only=True):
                if key == "form_name" and value:
                    form_name = str(value)
                elif key == DOOR_CHECK_ROW and value:
                    door_check = tuple(f.strip() for f in str(value).split(";") if f.strip())
        rows: list[tuple[int, str | None, dict[str, object]]] = []
        for number, line in enumerate(lines, start=3):
            values = list(line) + [None] * (len(fields) + 1 - len(line))
            profile_id = str(values[0]).strip() if values[0] is not None and str(values[0]).strip() else None
            cells = {f: values[i] for i, f in enumerate(fields, start=1)}
            if profile_id is None and all(v is None or not str(v).strip() for v in cells.values()):
                continue
            rows.append((number, profile_id, cells))
            if len(rows) > max_rows:
                raise UnreadableWorkbook(f"more than {max_rows:,} rows: split the workbook")
        return FilledForm(form_name=form_name, fields=fields, rows=rows, door_check=door_check)
    finally:
        book.close()
