"""The pushed-batch transport: rows a department posted to the hub, as one page for the shared loop.

A pushed batch goes through the same ``Connector`` as a pull (collected once, dead letters,
counts, checkpoints after the broker's acknowledgement); only the reader differs. A batch says
nothing about the records it does not mention, so nothing is ever ended for being absent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from connectors.rows import CursorLookup, NativeRow, Page


class BatchReader:
    """One page holding the batch's rows, located as ``<batch id>#<row number>``."""

    def __init__(self, batch_id: str, rows: Sequence[Mapping[str, Any]]) -> None:
        self.batch_id = batch_id
        self.rows = rows

    def pages(self, cursors: CursorLookup) -> Iterator[Page]:
        yield Page(rows=[NativeRow(f"{self.batch_id}#{n}", dict(row)) for n, row in enumerate(self.rows, start=1)])

    def scanned_scopes(self) -> Sequence[str] | None:
        return []

    def unchanged_scopes(self) -> Sequence[str]:
        return []
