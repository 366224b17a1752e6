"""Profiles by id for the use cases, following merge redirects to the active profile."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Engine, select

from core.profile import Profile
from store.profile_tables import profiles
from store.upsert import chunks

__all__ = ["ActiveProfile", "active_profiles", "profile_lineage"]


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


def profile_lineage(engine: Engine, profile_id: str, *, hops: int = 20) -> tuple[str | None, list[str]]:
    """The active profile behind ``profile_id``, and it with every profile merged into it (at any
    depth), or ``(None, [])`` for an id no profile has: whose reads belong to one resident."""
    t = profiles
    with engine.connect() as conn:
        current = profile_id
        for _ in range(hops):
            row = conn.execute(select(t.c.merged_into).where(t.c.profile_id == current)).first()
            if row is None:
                return None, []
            if row.merged_into is None:
                break
            current = row.merged_into
        ids, frontier = [current], [current]
        while frontier:
            merged = [r.profile_id for r in conn.execute(
                select(t.c.profile_id).where(t.c.merged_into.in_(frontier)).order_by(t.c.profile_id))
                if r.profile_id not in ids]
            ids.extend(merged)
            frontier = merged
    return current, ids
