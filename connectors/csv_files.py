"""Reading CSV ledgers in a declared encoding, row by row, with their line numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from connectors.rows import NativeRow, UnreadableRow


def read_csv(path: Path, encoding: str) -> Iterator[NativeRow | UnreadableRow]:
    """Yield each data row as a dict, or an ``UnreadableRow`` saying where and why.

    A row whose bytes do not decode in the declared encoding is reported, and reading goes on.
    """
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in {"utf-8", "utf8", "utf-8-sig"} else encoding
    with path.open("rb") as fh:
        raw_lines = fh.read().splitlines(keepends=True)
    header: list[str] | None = None
    for line_no, raw in enumerate(raw_lines, start=1):
        location = f"{path.name}:{line_no}"
        try:
            text = raw.decode(codec if line_no == 1 else codec.replace("-sig", ""))
        except UnicodeDecodeError as exc:
            yield UnreadableRow(location=location, reason=f"bytes not valid {encoding} at {exc.start}")
            continue
        if not text.strip():
            continue
        cells = next(csv.reader(io.StringIO(text)))
        if header is None:
            header = [c.strip() for c in cells]
            continue
        if len(cells) != len(header):
            yield UnreadableRow(location=location, reason=f"expected {len(header)} cells, found {len(cells)}")
            continue
        yield NativeRow(location=location, values=dict(zip(header, cells, strict=True)))
