"""Whom a collection plan covers (采集对象): a community (社区), a grid (网格) inside one, or a list
of residents by profile id.

Pure: the adapters load the community's profiles; :func:`in_grid` narrows them to a grid by the
profile's surviving ``attributes.grid`` (the community source writes it, e.g. ``第3网格``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.planner.fields import read_field
from core.profile.model import Profile

__all__ = ["MAX_PROFILE_IDS", "InvalidTarget", "PlanTarget", "grids_of", "in_grid"]

MAX_PROFILE_IDS = 5_000


class InvalidTarget(ValueError):
    """A target naming nobody, or two kinds of residents at once."""


@dataclass(frozen=True)
class PlanTarget:
    """Exactly one of: ``community`` (optionally narrowed to ``grid``), or ``profile_ids``.

    >>> PlanTarget(community="月牙湖社区", grid="第3网格").kind
    'grid'
    """

    community: str | None = None
    grid: str | None = None
    profile_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        community = (self.community or "").strip() or None
        grid = (self.grid or "").strip() or None
        ids = tuple(dict.fromkeys(i.strip() for i in self.profile_ids if i and i.strip()))
        object.__setattr__(self, "community", community)
        object.__setattr__(self, "grid", grid)
        object.__setattr__(self, "profile_ids", ids)
        if grid is not None and community is None:
            raise InvalidTarget("a grid (网格) is planned within its community: give the community too")
        if community is None and not ids:
            raise InvalidTarget("no residents to plan: give a community (optionally a grid) or a list of profile ids")
        if community is not None and ids:
            raise InvalidTarget("give either a community (and grid) or a list of profile ids, not both")
        if len(ids) > MAX_PROFILE_IDS:
            raise InvalidTarget(f"at most {MAX_PROFILE_IDS:,} profile ids in one plan ({len(ids):,} given)")

    @property
    def kind(self) -> str:
        if self.profile_ids:
            return "residents"
        return "grid" if self.grid else "community"

    def describe(self) -> str:
        if self.profile_ids:
            return f"{len(self.profile_ids)} 位指定居民"
        return f"{self.community} {self.grid}" if self.grid else str(self.community)


def grid_of(profile: Profile) -> str | None:
    known = read_field(profile.golden, "attributes.grid")
    return known.value if known else None


def in_grid(profiles: Iterable[Profile], grid: str) -> list[Profile]:
    """The profiles whose surviving grid is ``grid`` (a profile with no known grid is in none)."""
    return [p for p in profiles if grid_of(p) == grid]


def grids_of(profiles: Sequence[Profile]) -> list[str]:
    """The grids named by these profiles, in their natural order (第2网格 before 第10网格)."""
    found = {g for p in profiles if (g := grid_of(p))}
    return sorted(found, key=_natural)


def _natural(text: str) -> tuple[object, ...]:
    import re

    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))
