"""The files transport: a folder where a department drops its ledgers (CSV or XLSX).

A file is read whole when it is new or its fingerprint changed; an unchanged file is not read
(its records count as seen); a file that disappeared ends its records. Fingerprints are saved as
the cursor, after the file's last page is acknowledged.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from connectors.csv_files import read_csv, read_xlsx
from connectors.rows import CursorLookup, Page, Row
from connectors.spec import ConnectorSpec

PAGE_ROWS = 1000


def fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class FilesReader:
    def __init__(self, spec: ConnectorSpec, folder: Path | None = None, *, only: Path | None = None) -> None:
        """Read the drop folder, or with ``only`` just that one file (absent files then end nothing)."""
        self.spec = spec
        self.only = only
        self.folder = only.parent if only is not None else Path(folder or spec.transport["path"])
        self.patterns: list[str] = list(spec.transport.get("patterns", ["*.csv", "*.xlsx"]))
        self._scanned: list[str] = []
        self._unchanged: list[str] = []

    def _files(self) -> list[Path]:
        if self.only is not None:
            return [self.only]
        if not self.folder.is_dir():
            raise FileNotFoundError(f"{self.spec.source}: drop folder {self.folder} does not exist")
        return sorted(p for p in self.folder.iterdir()
                      if p.is_file() and any(fnmatch.fnmatch(p.name, pat) for pat in self.patterns))

    def pages(self, cursors: CursorLookup) -> Iterator[Page]:
        known: dict[str, str] = dict(cursors.checkpoint("files", {}) or {})
        present = self._files()
        names = {p.name for p in present}
        # removed files end their records (not when reading one file on its own)
        self._scanned = [] if self.only is not None else [name for name in known if name not in names]
        self._unchanged = []
        for path in present:
            print_ = fingerprint(path)
            if known.get(path.name) == print_:
                self._unchanged.append(path.name)
                continue
            self._scanned.append(path.name)
            done = {**known, path.name: print_}
            yield from self._file_pages(path, {"files": done})
            known = done
        if self.only is None and any(name not in names for name in known):
            yield Page(rows=(), checkpoints={"files": {k: v for k, v in known.items() if k in names}})

    def _file_pages(self, path: Path, last_checkpoint: dict[str, Any]) -> Iterator[Page]:
        rows: list[Row] = []
        for row in self._rows(path):
            rows.append(row)
            if len(rows) >= PAGE_ROWS:
                yield Page(rows=rows, scope=path.name)
                rows = []
        yield Page(rows=rows, checkpoints=last_checkpoint, scope=path.name)

    def _rows(self, path: Path) -> Iterator[Row]:
        if path.suffix.lower() == ".xlsx":
            return read_xlsx(path, self.spec.expected_columns)
        encoding = self.spec.transport.get("encodings", {}).get(path.name, self.spec.encoding)
        return read_csv(path, encoding, self.spec.expected_columns)

    def scanned_scopes(self) -> Sequence[str] | None:
        return self._scanned

    def unchanged_scopes(self) -> Sequence[str]:
        return self._unchanged
