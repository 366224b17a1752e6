"""Reading department ledger files: CSV in a declared encoding and XLSX, record by record.

Each reader yields ``NativeRow`` (with file + first line) or ``UnreadableRow`` (with the reason),
and keeps going after a bad record: one undecodable line never stops a file. CSV is read as
RFC 4180 says (quoted cells with line breaks and doubled quotes), streamed a line at a time.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from connectors.rows import NativeRow, Row, UnreadableRow


def _codec(encoding: str) -> str:
    normal = encoding.lower().replace("_", "-")
    # A BOM is optional in UTF-8 ledgers exported by Excel; accept both.
    return "utf-8-sig" if normal in {"utf-8", "utf8", "utf-8-sig"} else encoding


# A quoted cell may run over several lines (RFC 4180; Excel writes Alt+Enter so). One whose
# closing quote does not come within this many characters is taken as a stray quote: its first
# line is refused and reading goes on from the next line, so memory stays bounded.
MAX_RECORD_CHARS = 1 << 20


def _open_quote_after(text: str, quoted: bool) -> bool:
    """Whether a quoted cell is still open at the end of ``text``, given whether one was open at
    its start: the csv module's reading of quotes (a quote opens a cell only at the cell's start,
    a doubled quote inside a quoted cell is one quote mark, other quotes are kept as written)."""
    if '"' not in text:
        return quoted  # most lines: nothing can open or close a cell
    at_start = not quoted
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if quoted:
            if ch == '"':
                if i + 1 < n and text[i + 1] == '"':
                    i += 1  # an escaped quote mark
                else:
                    quoted = False
        elif ch == '"' and at_start:
            quoted = True
        at_start = ch in ",\r\n" and not quoted
        i += 1
    return quoted


HeaderSeen = Callable[[str, list[str]], None]
"""Told each header as it is read: (its location, its column names)."""


def read_csv(path: Path, encoding: str, expected_columns: Sequence[str] = (),
             on_header: HeaderSeen | None = None) -> Iterator[Row]:
    """Yield each data record of a CSV file as a dict, or an ``UnreadableRow`` saying where and why.

    Records are read as RFC 4180 says: a quoted cell may hold line breaks and doubled quotes;
    a record's location names its first line. The file is read line by line (bounded memory),
    each line decoded on its own, so one undecodable line costs only its record.
    """
    codec = _codec(encoding)
    header: list[str] | None = None
    missing: list[str] = []
    for location, text, problem in _records(path, codec):
        if problem is not None:
            yield UnreadableRow(location, problem)
            continue
        if not text.strip():
            continue
        try:
            cells = next(csv.reader(io.StringIO(text, newline="")))
        except csv.Error as exc:  # e.g. a cell over the csv module's field size limit
            yield UnreadableRow(location, f"unreadable CSV line: {exc}")
            continue
        if header is None:
            header = [c.strip() for c in cells]
            missing = [c for c in expected_columns if c not in header]
            if on_header is not None:
                on_header(location, header)
            continue
        if missing:
            yield UnreadableRow(location, f"header changed: missing column(s) {', '.join(missing)}")
            continue
        if len(cells) != len(header):
            yield UnreadableRow(location, f"expected {len(header)} cells, found {len(cells)}")
            continue
        yield NativeRow(location, dict(zip(header, cells, strict=True)))


def _records(path: Path, codec: str) -> Iterator[tuple[str, str, str | None]]:
    """(location, text, problem) of each CSV record: its lines joined while a quoted cell is open.

    A record whose quoted cell never closes (the file ends, or :data:`MAX_RECORD_CHARS` pass)
    is refused by its first line and reading resumes at the line after it.
    """
    with path.open("rb") as fh:
        if fh.read(3) == b"\xef\xbb\xbf":
            codec = "utf-8-sig"  # a BOM says UTF-8 whatever the mapping declares
        fh.seek(0)
        line_no = 0
        position = 0  # of the next line in the file (kept here: fh.tell() costs more than the rest)
        body_codec = codec.replace("-sig", "")
        while True:
            raw = fh.readline()
            if not raw:
                return
            line_no += 1
            position += len(raw)
            first_line, resume = line_no, position
            location = f"{path.name}:{first_line}"
            try:
                text = raw.decode(codec if line_no == 1 else body_codec)
            except UnicodeDecodeError as exc:
                yield location, "", f"bytes not valid {codec.removesuffix('-sig')} at byte {exc.start}"
                continue
            parts = [text]
            size = len(text)
            open_quote = _open_quote_after(text, False)
            problem: str | None = None
            while open_quote:
                more = fh.readline()
                if not more or size > MAX_RECORD_CHARS:
                    problem = (f"a quoted cell opened on line {first_line} is not closed "
                               + ("before the end of the file" if not more else f"within {MAX_RECORD_CHARS:,} characters"))
                    break
                line_no += 1
                position += len(more)
                try:
                    piece = more.decode(body_codec)
                except UnicodeDecodeError as exc:
                    problem = (f"bytes not valid {codec.removesuffix('-sig')} on line {line_no} "
                               f"(inside the record's quoted cell) at byte {exc.start}")
                    break
                parts.append(piece)
                size += len(piece)
                open_quote = _open_quote_after(piece, True)
            if problem is not None and not problem.startswith("bytes"):
                # a stray quote, most likely: refuse this line alone and read on from the next
                fh.seek(resume)
                line_no, position = first_line, resume
                yield location, "", problem
                continue
            yield location, "".join(parts), problem


def read_xlsx(path: Path, expected_columns: Sequence[str] = (), on_header: HeaderSeen | None = None) -> Iterator[Row]:
    """Rows of every sheet of an .xlsx workbook; formulas are read as written (and refused later)."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:
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
                    if on_header is not None:
                        on_header(location, header)
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


def observed_encoding(path: Path, declared: str, sample_bytes: int = 1 << 16) -> str | None:
    """The encoding a CSV file's bytes are in, as far as its first ``sample_bytes`` tell: ``utf-8``
    (a BOM, or most non-ASCII lines valid UTF-8), the declared one (most valid in it), ``unknown``
    (neither), or ``None`` when every line is plain ASCII (any encoding reads it the same).

    A ledger re-exported in another encoding reads as a file of undecodable or garbled rows; the
    mass-change guard (``connectors.end_guard``) compares this with what the previous run saw."""
    with path.open("rb") as fh:
        head = fh.read(sample_bytes)
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8"
    if len(head) == sample_bytes and b"\n" in head:
        head = head[:head.rindex(b"\n")]  # a whole number of lines: no character cut in two
    declared_name = _codec_name(declared)
    as_utf8 = as_declared = 0
    for line in head.splitlines():
        if line.isascii():
            continue
        if _decodes(line, "utf-8"):
            as_utf8 += 1
        elif declared_name not in (None, "utf-8") and _decodes(line, declared):
            as_declared += 1
    if not as_utf8 and not as_declared:
        return None if head.isascii() else "unknown"
    return "utf-8" if as_utf8 >= as_declared else declared_name


def _codec_name(encoding: str) -> str | None:
    try:
        return codecs.lookup(encoding).name.removesuffix("-sig")
    except LookupError:
        return None


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    return True
