"""The profile store in memory (the real one: ``store.profile_projection.ProfileProjection``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from core.ports import DeliveredEvent, Projection
from core.profile import Profile, apply_all
from schemas.profile_events import ProfileEvent
from tests.fakes.positions import MemoryPositions

__all__ = ["MemoryProjection"]


class MemoryProjection(MemoryPositions, Projection):
    """The folded profiles in a dict, the positions in another; a batch is folded in full before
    anything is kept (a profile error leaves the store as it was, as the SQL transaction does)."""

    def __init__(self) -> None:
        super().__init__()
        self.folded: dict[str, Profile] = {}

    def apply(self, batch: Sequence[DeliveredEvent]) -> int:
        fresh = self._new(batch)
        version = {pid: profile.version for pid, profile in self.folded.items()}
        pending: dict[str, list[ProfileEvent]] = {}
        took = 0
        for d in fresh:
            event = d.event
            if event.version <= version.get(event.profile_id, 0):
                continue  # already folded
            version[event.profile_id] = event.version
            pending.setdefault(event.profile_id, []).append(event)
            took += 1
        folded = {pid: p for pid, events in pending.items() if (p := apply_all(self.folded.get(pid), events)) is not None}
        self.folded.update(folded)
        self._advance(fresh)
        return took

    def healthy(self) -> bool:
        return True

    def skip(self, delivered: Sequence[Any]) -> None:
        self._advance(self._new(delivered))

    def profiles(self) -> Iterator[Profile]:
        return iter(list(self.folded.values()))
