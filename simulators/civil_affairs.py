"""The civil affairs (民政) ledger drop folder: the files sub-district clerks export for the hub.

The department has no API: clerks export the assistance ledger (救助台账) from Excel into a
shared folder, one file per street (所属街道) or per programme (救助类别), as GB18030 CSV (what
Excel writes on a Chinese Windows), "CSV UTF-8" (with a BOM) or ``.xlsx``. They later edit a
row, drop a row, re-export a file with new people, and make the usual mistakes; each of those
is one function here, so connector tests change the folder the way a clerk would.

Example::

    ledger = write_ledger(tmp_path / "inbox", ledger_rows(30), fmt="gb18030")
    changed = ledger.change_row()          # a new phone number in one file
    gone = ledger.remove_row()             # a row deleted, 序号 renumbered
    bad = ledger.inject_bad_rows()         # how many rows the hub must refuse
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from simulators.district import COLUMNS
from simulators.sample_rows import sample_rows

__all__ = ["LedgerFolder", "LedgerFormat", "SplitBy", "ledger_rows", "write_ledger"]

LedgerFormat = Literal["gb18030", "utf-8-sig", "xlsx"]
SplitBy = Literal["所属街道", "救助类别"]
Row = dict[str, str]

HEADER: tuple[str, ...] = COLUMNS["civil_affairs"]
RECORD_ID = "档案编号"
# Bytes no GB18030 or UTF-8 decoder accepts (0x80 and 0xFF lead no valid sequence in either).
UNDECODABLE = b"\x80\xff\x80\xff"
BIG_CELL = "补" * 700_000  # 2.1 MB in UTF-8
FORMULA = '=HYPERLINK("http://example.invalid/ledger","点击查看")'


def ledger_rows(n_rows: int, seed: int = 1) -> list[Row]:
    """The first ``n_rows`` rows of a district's assistance ledger (same seed, same rows)."""
    return sample_rows("civil_affairs", n_rows, seed)


@dataclass
class LedgerFolder:
    """A drop folder and what the clerks last exported into it (file name → rows, in order)."""

    folder: Path
    fmt: LedgerFormat
    files: dict[str, list[Row]] = field(default_factory=dict)

    @property
    def suffix(self) -> str:
        return ".xlsx" if self.fmt == "xlsx" else ".csv"

    # -- what clerks do ----------------------------------------------------------------------------
    def write(self, name: str) -> Path:
        """(Re-)export one file: 序号 is the row position, so it renumbers."""
        rows = self.files[name]
        for position, row in enumerate(rows, start=1):
            row["序号"] = str(position)
        return _write(self.folder / name, self.fmt, HEADER, rows)

    def change_row(self, record_id: str | None = None, column: str = "联系电话") -> str:
        """Edit one row (a new phone number by default) and re-export its file; return its record id."""
        name, row = self._find(record_id)
        digits = int(hashlib.sha256((row[RECORD_ID] + row[column]).encode()).hexdigest(), 16) % 10**8
        row[column] = f"139{digits:08d}" if column == "联系电话" else row[column] + "（已更正）"
        self.write(name)
        return row[RECORD_ID]

    def remove_row(self, record_id: str | None = None) -> str:
        """Delete one row from its file and re-export it; return the record id."""
        name, row = self._find(record_id)
        self.files[name].remove(row)
        self.write(name)
        return row[RECORD_ID]

    def add_file_version(self, new_rows: Iterable[Row], name: str | None = None) -> Path:
        """Re-export a file (the first by default) with newly enrolled residents appended."""
        name = name or next(iter(self.files))
        self.files[name].extend(dict(r) for r in new_rows)
        return self.write(name)

    def inject_bad_rows(self) -> int:
        """Drop the mistakes a hub must refuse row by row; return how many rows it must refuse.

        In the ledger's own format: a row without 档案编号, an unknown 性别 code (the ledger has no
        birth date column to put in the future), a 2 MB cell, a formula (a real formula cell in
        XLSX), and a re-designed template whose header renamed 身份证号. Plus undecodable bytes:
        a line of a CSV file (in a separate GB18030 file next to a workbook) and, for XLSX, a
        workbook that is not a zip at all.
        """
        template = dict(next(iter(self.files.values()))[0])
        bad = [
            {**template, RECORD_ID: ""},
            {**template, RECORD_ID: "QHMZ-BAD-SEX", "性别": "3"},
            {**template, RECORD_ID: "QHMZ-BAD-BIG", "备注": BIG_CELL},
            {**template, RECORD_ID: "QHMZ-BAD-FORMULA", "家庭住址": FORMULA},
        ]
        for i, row in enumerate(bad, start=1):
            row["序号"] = str(i)
        refused = len(bad)
        bad_file = _write(self.folder / f"补录_问题行{self.suffix}", self.fmt, HEADER, bad)
        renamed = tuple("公民身份号码" if c == "身份证号" else c for c in HEADER)
        moved = [{("公民身份号码" if k == "身份证号" else k): v for k, v in r.items()}
                 for r in (dict(template, **{RECORD_ID: f"QHMZ-NEW-{i}"}) for i in (1, 2))]
        _write(self.folder / f"新模板{self.suffix}", self.fmt, renamed, moved)
        refused += len(moved)
        if self.fmt == "xlsx":
            _write(self.folder / "补录_乱码.csv", "gb18030", HEADER, [])
            with (self.folder / "补录_乱码.csv").open("ab") as fh:
                fh.write(UNDECODABLE + b",QHMZ-BAD-BYTES\r\n")
            (self.folder / "损坏.xlsx").write_bytes(b"not a zip archive")
            refused += 2
        else:
            with bad_file.open("ab") as fh:
                fh.write(b"99,QHMZ-BAD-BYTES," + UNDECODABLE + b",\r\n")
            refused += 1
        return refused

    def _find(self, record_id: str | None) -> tuple[str, Row]:
        for name, rows in self.files.items():
            for row in rows:
                if record_id is None or row[RECORD_ID] == record_id:
                    return name, row
        raise KeyError("no such record in the ledger")


def write_ledger(folder: Path, rows: Sequence[Row], *, fmt: LedgerFormat = "gb18030",
                 split_by: SplitBy = "所属街道") -> LedgerFolder:
    """Export ``rows`` into ``folder``, one file per street or per (first) programme."""
    folder.mkdir(parents=True, exist_ok=True)
    ledger = LedgerFolder(folder, fmt)
    suffix = ledger.suffix
    for row in rows:
        key = row[split_by].split("、")[0] or "未分类"
        ledger.files.setdefault(f"救助台账_{key}{suffix}", []).append(dict(row))
    for name in ledger.files:
        ledger.write(name)
    return ledger


def _write(path: Path, fmt: LedgerFormat, header: Sequence[str], rows: Sequence[Row]) -> Path:
    if fmt == "xlsx":
        _write_xlsx(path, header, rows)
        return path
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # Excel's line ends
    writer.writerow(header)
    writer.writerows([row.get(c, "") for c in header] for row in rows)
    path.write_bytes(buffer.getvalue().encode(fmt))  # "utf-8-sig" writes the BOM
    return path


def _write_xlsx(path: Path, header: Sequence[str], rows: Sequence[Row]) -> None:
    """Text cells as clerks format them (an ID number as a number would lose digits); the amount
    as a number; a value starting with ``=`` becomes a real formula cell, as Excel makes it."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "台账"
    sheet.append(list(header))
    oversized: dict[str, str] = {}
    for row in rows:
        cells: list[object] = []
        for column in header:
            value = row.get(column, "")
            if len(value) > _EXCEL_CELL_CHARS:  # openpyxl would cut it: put a marker, patch below
                oversized[f"@@oversized-{len(oversized)}@@"] = value
                value = next(reversed(oversized))
            cells.append(float(value) if column == "发放金额" and _is_number(value) else value)
        sheet.append(cells)
    book.save(path)
    if oversized:
        _patch_strings(path, oversized)


_EXCEL_CELL_CHARS = 32_767


def _patch_strings(path: Path, replacements: dict[str, str]) -> None:
    """Write cells past Excel's 32,767-character limit into the workbook's XML, as a non-Excel
    exporter can: openpyxl truncates them, Excel refuses them, a hub must still cope."""
    import zipfile
    from xml.sax.saxutils import escape

    patched = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(patched, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.endswith(".xml"):
                text = data.decode("utf-8")
                for marker, value in replacements.items():
                    text = text.replace(marker, escape(value))
                data = text.encode("utf-8")
            target.writestr(item, data)
    patched.replace(path)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
