"""Profiles by id for the use cases, following merge redirects to the active profile."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Engine, select

from core.profile import Profile
from store.profile_tables import profiles
from store.upsert import chunks

__all__ = ["ActiveProfile", "active_profiles"]


@dataclass(frozen=True)
class ActiveProfile:
    profile: Profile
    community: str | None
    grid: str | None


def active_profiles(engine: Engine, profile_ids: Collection[str], *, hops: int = 10) -> dict[str, ActiveProfile]:
    """Asked id → the active profile it is (or was merged into); ids unknown or ending nowhere are absent."""
    asked = {pid: pid for pid in profile_ids}
    found: dict[str, ActiveProfile] = {}
    t = profiles
    with engine.connect() as conn:
        for _ in range(hops):
            if not asked:
                break
            rows = {r.profile_id: r for chunk in chunks(set(asked.values())) for r in conn.execute(
                select(t.c.profile_id, t.c.merged_into, t.c.community, t.c.grid, t.c.doc)
                .where(t.c.profile_id.in_(chunk)))}
            following: dict[str, str] = {}
            for original, current in asked.items():
                row = rows.get(current)
                if row is None:
                    continue
                if row.merged_into is not None:
                    following[original] = row.merged_into
                else:
                    found[original] = ActiveProfile(Profile.model_validate(row.doc), row.community, row.grid)
            asked = following
    return found
