"""What the resolver reads: a read-only view of its own state (the fold of the events it emitted).

The SQL adapter (``store.resolver_state``) implements :class:`ResolverView` over its tables and
over the changes made earlier in the same batch; the unit tests implement it with dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from core.profile.model import Profile
from schemas.profile_events import ProfilesMerged

__all__ = ["CandidateRecord", "ProfileState", "RecordLink", "ResolverView"]


@dataclass(frozen=True, slots=True)
class RecordLink:
    """Where a source record is linked now, and the content hash of the version linked."""

    profile_id: str
    content_hash: str


@dataclass(frozen=True, slots=True)
class CandidateRecord:
    """A record sharing a blocking key with the record being resolved, and the profile holding it."""

    record_key: str
    profile_id: str


@dataclass(frozen=True, slots=True)
class ProfileState:
    """A profile as the resolver knows it, with its creation sequence.

    ``created_seq`` orders profiles by when the resolver opened them: the smaller is the older,
    and the older survives a merge. A wall-clock ``created_at`` would not do: it is the first
    record's ``observed_at``, which says when a department saw the row, not when the hub did.
    """

    profile: Profile
    created_seq: int


class ResolverView(Protocol):
    """Read-only access to the resolver's state."""

    def record_link(self, record_key: str) -> RecordLink | None:
        """The profile ``source:record_id`` is linked to now, or ``None`` for a record never seen."""
        ...

    def candidates(
        self, blocking_keys: Collection[str], max_block_size: Callable[[str], int]
    ) -> Sequence[CandidateRecord]:
        """Records sharing any of ``blocking_keys``, skipping keys shared by more than
        ``max_block_size(key)`` records; in a deterministic order."""
        ...

    def profile(self, profile_id: str) -> ProfileState | None:
        """The folded profile (a merged-away one too: its status names the survivor)."""
        ...

    def review_holder(self, review_id: str) -> str | None:
        """The profile with the review pending, or ``None`` when no profile has it pending."""
        ...

    def merge_event(self, event_id: str) -> ProfilesMerged | None:
        """A merge the resolver emitted, by the event id of either of its two streams."""
        ...
