"""Households (户): residents sharing a household number (户号), computed across profiles.

The fold keeps one profile's surviving ``household_id``; membership needs many profiles.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from core.profile.model import Profile

__all__ = ["household_members"]


def household_members(profiles: Iterable[Profile]) -> dict[str, tuple[str, ...]]:
    """Household number → the ids of the active profiles in it, sorted.

    Merged-away profiles are redirects, not residents, and are left out.
    """
    members: defaultdict[str, list[str]] = defaultdict(list)
    for profile in profiles:
        if profile.is_active and profile.household_id:
            members[profile.household_id].append(profile.profile_id)
    return {household: tuple(sorted(ids)) for household, ids in sorted(members.items())}
