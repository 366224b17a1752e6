"""The files transport: a folder where a department drops its ledgers (CSV or XLSX).

A file is read whole when it is new or its fingerprint changed; an unchanged file is not read
(its records count as seen); a file that disappeared ends its records. Fingerprints are saved as
the cursor, after the file's last page is acknowledged.

Each file read also leaves its shape (header and encoding, ``file_shapes``): a file whose header
lost a column the previous export had, or that arrives in another encoding, is reported by
``shape_changes`` and the mass-change guard holds the ends it would cause (``connectors.end_guard``).
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from connectors.csv_files import observed_encoding, read_csv, read_xlsx
from connectors.end_guard import FileShape, shape_changes
from connectors.rows import CursorLookup, Page, Row, UnreadableRow
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
        self._shapes: dict[str, Any] = {}
        self._shape_changes: list[str] = []

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
        self._shapes = dict(cursors.checkpoint("file_shapes", {}) or {})
        self._shape_changes = []
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
        headers: list[list[str]] = []
        header_unreadable = False
        for row in self._rows(path, lambda _location, header: headers.append(header)):
            # a line refused before the header was found: the header itself was unreadable (and a
            # data row taken for it, whose values must not be kept as column names)
            header_unreadable = header_unreadable or (not headers and isinstance(row, UnreadableRow))
            rows.append(row)
            if len(rows) >= PAGE_ROWS:
                yield Page(rows=rows, scope=path.name)
                rows = []
        columns = () if header_unreadable or not headers else tuple(headers[0])
        yield Page(rows=rows, checkpoints={**last_checkpoint, "file_shapes": self._shape_of(path, columns)},
                   scope=path.name)

    def _encoding(self, path: Path) -> str:
        return str(self.spec.transport.get("encodings", {}).get(path.name, self.spec.encoding))

    def _rows(self, path: Path, on_header: Callable[[str, list[str]], None]) -> Iterator[Row]:
        if path.suffix.lower() == ".xlsx":
            return read_xlsx(path, self.spec.expected_columns, on_header)
        return read_csv(path, self._encoding(path), self.spec.expected_columns, on_header)

    def _shape_of(self, path: Path, columns: tuple[str, ...]) -> dict[str, Any]:
        """Compare the file's shape with the one its name had (else the source's last file's) and
        return the shapes to save with the file's last page."""
        encoding = None if path.suffix.lower() == ".xlsx" else observed_encoding(path, self._encoding(path))
        now = FileShape(columns, encoding)
        files: dict[str, Any] = dict(self._shapes.get("files") or {})
        before = FileShape.from_json(files.get(path.name)) or FileShape.from_json(self._shapes.get("last"))
        self._shape_changes.extend(shape_changes(path.name, before, now))
        files[path.name] = now.as_json()
        self._shapes = {"files": files, "last": now.as_json()}
        return self._shapes

    def shape_changes(self) -> list[str]:
        """After ``pages``: how the files read this run differ from what earlier runs saw."""
        return list(self._shape_changes)

    def scanned_scopes(self) -> Sequence[str] | None:
        return self._scanned

    def unchanged_scopes(self) -> Sequence[str]:
        return self._unchanged
