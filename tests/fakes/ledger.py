"""The source-record ledger in memory (the real one: ``store.ledger.SourceRecordLedger``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

from core.ports import Delivered, Ledger
from schemas.source_record import SourceRecord
from tests.fakes.positions import MemoryPositions

__all__ = ["MemoryLedger"]


class MemoryLedger(MemoryPositions, Ledger):
    """The versions kept in a list in the order applied, the positions in a dict; ``batches``
    holds every batch handed to :meth:`apply`, redeliveries included."""

    def __init__(self) -> None:
        super().__init__()
        self.kept: list[SourceRecord] = []
        self.batches: list[list[Delivered]] = []
        self._event_ids: set[str] = set()
        self._versions: set[tuple[str, str, str, str]] = set()

    def apply(self, batch: Sequence[Delivered]) -> int:
        self.batches.append(list(batch))
        fresh = self._new(batch)
        new = 0
        for d in fresh:
            r = d.record
            version = (r.source, r.record_id, r.content_hash, r.change)
            if r.event_id in self._event_ids or version in self._versions:
                continue
            self._event_ids.add(r.event_id)
            self._versions.add(version)
            self.kept.append(r.model_copy(update={"scope": "", "observed_at": r.observed_at.astimezone(UTC)}))
            new += 1
        self._advance(fresh)
        return new

    def count(self, source: str | None = None) -> int:
        return sum(1 for r in self.kept if source is None or r.source == source)

    def versions(self, source: str, record_id: str) -> list[SourceRecord]:
        return [r for r in self.kept if r.source == source and r.record_id == record_id]
