"""Reading department ledger files: CSV in a declared encoding and XLSX, row by row.

Each reader yields ``NativeRow`` (with file + line) or ``UnreadableRow`` (with the reason), and
keeps going after a bad row: one undecodable line never stops a file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from connectors.rows import NativeRow, Row, UnreadableRow


def _codec(encoding: str) -> str:
    normal = encoding.lower().replace("_", "-")
    # A BOM is optional in UTF-8 ledgers exported by Excel; accept both.
    return "utf-8-sig" if normal in {"utf-8", "utf8", "utf-8-sig"} else encoding


def read_csv(path: Path, encoding: str, expected_columns: Sequence[str] = ()) -> Iterator[Row]:
    """Yield each data row of a CSV file as a dict, or an ``UnreadableRow`` saying where and why."""
    codec = _codec(encoding)
    header: list[str] | None = None
    missing: list[str] = []
    with path.open("rb") as fh:
        if fh.read(3) == b"\xef\xbb\xbf":
            codec = "utf-8-sig"  # a BOM says UTF-8 whatever the mapping declares
        fh.seek(0)
        for line_no, raw in enumerate(fh, start=1):
            location = f"{path.name}:{line_no}"
            try:
                text = raw.decode(codec if line_no == 1 else codec.replace("-sig", ""))
            except UnicodeDecodeError as exc:
                yield UnreadableRow(location, f"bytes not valid {codec.removesuffix('-sig')} at byte {exc.start}")
                continue
            if not text.strip():
                continue
            try:
                cells = next(csv.reader(io.StringIO(text)))
            except csv.Error as exc:  # e.g. a cell over the csv module's field size limit
                yield UnreadableRow(location, f"unreadable CSV line: {exc}")
                continue
            if header is None:
                header = [c.strip() for c in cells]
                missing = [c for c in expected_columns if c not in header]
                continue
            if missing:
                yield UnreadableRow(location, f"header changed: missing column(s) {', '.join(missing)}")
                continue
            if len(cells) != len(header):
                yield UnreadableRow(location, f"expected {len(header)} cells, found {len(cells)}")
                continue
            yield NativeRow(location, dict(zip(header, cells, strict=True)))


def read_xlsx(path: Path, expected_columns: Sequence[str] = ()) -> Iterator[Row]:
    """Rows of every sheet of an .xlsx workbook; formulas are read as written (and refused later)."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable workbook becomes one dead letter
        yield UnreadableRow(f"{path.name}", f"unreadable workbook: {type(exc).__name__}")
        return
    try:
        for sheet in book.worksheets:
            header: list[str] | None = None
            missing: list[str] = []
            for row_no, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                location = f"{path.name}!{sheet.title}:{row_no}"
                cells = [_cell(v) for v in values]
                if not any(cells):
                    continue
                if header is None:
                    header = [c.strip() for c in cells]
                    missing = [c for c in expected_columns if c not in header]
                    continue
                if missing:
                    yield UnreadableRow(location, f"header changed: missing column(s) {', '.join(missing)}")
                    continue
                row = dict(zip(header, cells + [""] * (len(header) - len(cells)), strict=False))
                row.pop("", None)
                yield NativeRow(location, row)
    finally:
        book.close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
