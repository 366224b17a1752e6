"""Consumer positions in memory, as the fakes of the stream agents' ports keep them (the real ones:
``store.positions``): per topic and partition, the last offset applied; a redelivered message is not
new and never moves a position back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["MemoryPositions"]


class MemoryPositions:
    def __init__(self) -> None:
        self.positions: dict[tuple[str, int], int] = {}

    def _new(self, delivered: Sequence[Any]) -> list[Any]:
        """The messages past their partition's position."""
        return [d for d in delivered if d.offset > self.positions.get((d.topic, d.partition), -1)]

    def _advance(self, delivered: Sequence[Any]) -> None:
        for d in delivered:
            self.positions[(d.topic, d.partition)] = max(d.offset, self.positions.get((d.topic, d.partition), -1))

    def position(self, topic: str, partition: int) -> int | None:
        return self.positions.get((topic, partition))
