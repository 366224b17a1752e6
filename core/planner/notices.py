"""Merge and split notices for a department's extract feed (pure).

When profiles merge or split, the department whose previous extract held an affected profile is
told: the old id and the new one, and which of its granted fields now read differently. Its own
copy keyed by the old id would otherwise go stale without a word.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from core.profile.model import Profile

__all__ = ["Notice", "Split", "differing_fields", "notices"]

Row = Mapping[str, str | None]


@dataclass(frozen=True)
class Split:
    """A logged ProfileSplit: records moved from one profile to another."""

    event_id: str
    from_profile: str
    to_profile: str
    occurred_at: datetime


@dataclass(frozen=True)
class Notice:
    notice_id: str
    kind: Literal["merged", "split"]
    old_profile_id: str
    new_profile_id: str
    changed_fields: tuple[str, ...]  # granted fields whose value differs from the previous extract
    occurred_at: datetime | None

    def as_dict(self) -> dict[str, object]:
        return {"notice_id": self.notice_id, "kind": self.kind, "old_profile_id": self.old_profile_id,
                "new_profile_id": self.new_profile_id, "changed_fields": list(self.changed_fields),
                "occurred_at": self.occurred_at.isoformat() if self.occurred_at else None}


def notices(previous: Mapping[str, Row], current: Mapping[str, Row], profiles: Mapping[str, Profile],
            splits: Sequence[Split], fields: Sequence[str]) -> list[Notice]:
    """Notices for one department: ``previous`` and ``current`` are its extract rows by profile id,
    ``profiles`` every profile (redirects included), ``fields`` its granted fields."""
    found: list[Notice] = []
    for old_id, old_row in sorted(previous.items()):
        profile = profiles.get(old_id)
        if profile is None or profile.merged_into is None:
            continue
        survivor = _active(old_id, profiles)
        if survivor is None:
            continue
        new_row = current.get(survivor, {})
        found.append(Notice(notice_id=f"merged:{old_id}:{survivor}:{profile.version}", kind="merged",
                            old_profile_id=old_id, new_profile_id=survivor,
                            changed_fields=_changed(old_row, new_row, fields), occurred_at=profile.updated_at))
    for split in splits:
        if split.from_profile not in previous or split.to_profile in previous or split.to_profile not in current:
            continue
        found.append(Notice(notice_id=f"split:{split.event_id}", kind="split", old_profile_id=split.from_profile,
                            new_profile_id=split.to_profile,
                            changed_fields=_changed(previous[split.from_profile],
                                                    current.get(split.from_profile, {}), fields),
                            occurred_at=split.occurred_at))
    return found


def _active(profile_id: str, profiles: Mapping[str, Profile], hops: int = 20) -> str | None:
    current = profiles.get(profile_id)
    for _ in range(hops):
        if current is None:
            return None
        if current.merged_into is None:
            return current.profile_id
        current = profiles.get(current.merged_into)
    return None


def _changed(before: Row, after: Row, fields: Sequence[str]) -> tuple[str, ...]:
    return tuple(f for f in fields if (before.get(f) or None) != (after.get(f) or None))


def differing_fields(a: Profile, b: Profile, fields: Sequence[str]) -> tuple[str, ...]:
    """The ``fields`` whose surviving values read differently in ``a`` and ``b`` (what a merge of
    the two would change for a department holding one of them)."""
    from core.planner.fields import read_field

    def text(profile: Profile, name: str) -> str | None:
        known = read_field(profile.golden, name)
        return known.value if known else None

    return tuple(f for f in fields if text(a, f) != text(b, f))
