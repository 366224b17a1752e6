"""What a connector's reader yields: pages of native rows (with their location) or rows it could
not read, plus the cursor to save once the page is safely in Kafka."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class NativeRow:
    location: str  # file + line, page + index, table + key
    values: dict[str, Any]


@dataclass(frozen=True)
class UnreadableRow:
    location: str
    reason: str
    excerpt: str = ""


Row = NativeRow | UnreadableRow


@dataclass(frozen=True)
class Page:
    rows: Sequence[Row]
    checkpoints: dict[str, Any] = field(default_factory=dict)  # cursor values after this page
    scope: str = ""  # the unit read whole (a file); "" when the source has no such unit
    # Record-id column values of rows that exist but were not re-read (a SQL key scan): they
    # count as seen, so a full scan ends only the records whose rows are really gone.
    present: Sequence[dict[str, Any]] = ()


class Reader(Protocol):
    """A transport: yields pages from where the saved cursors say it stopped."""

    def pages(self, cursors: CursorLookup) -> Iterator[Page]: ...

    def scanned_scopes(self) -> Sequence[str] | None:
        """After ``pages`` is exhausted: the scopes read in full this run (their unseen records
        ended), ``None`` when the whole source was read, or ``[]`` when nothing can be concluded
        about absent rows (an incremental pull)."""
        ...

    def unchanged_scopes(self) -> Sequence[str]:
        """Scopes skipped as unchanged (e.g. a file with the same fingerprint): all seen."""
        ...


class CursorLookup(Protocol):
    def checkpoint(self, name: str, default: Any = None) -> Any: ...
