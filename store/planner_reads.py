"""The collection planner's reads of the profile store: the active residents of a community or a
grid (网格), profiles by id (following merge redirects), and the communities and grids known.

Where a resident lives is where the store places it (the ``community`` and qualified ``grid``
columns, ``core.places``): the same rows a profile read is scoped by.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select

from core.access import Scope
from core.profile import Profile
from store.place_flags import place_flag
from store.profile_lookup import ActiveProfile, active_profiles
from store.profile_tables import profiles
from store.scope_filter import scope_filter
from store.upsert import chunks

__all__ = ["MAX_REDIRECTS", "Located", "contested", "known_communities", "locate", "named_grids", "placed_residents",
           "residents"]

MAX_REDIRECTS = 10


def residents(engine: Engine, *, community: str | None = None, grid: str | None = None,
              profile_ids: Sequence[str] | None = None) -> list[Profile]:
    """Active profiles of a community (社区: where the store places the resident, core.places),
    narrowed to a grid (网格) of it; or the given profile ids."""
    stmt = select(profiles.c.doc).where(profiles.c.status == "active")
    if community is not None:
        stmt = stmt.where(profiles.c.community == community)
        if grid is not None:
            stmt = stmt.where(profiles.c.grid == f"{community}/{grid}")
    if profile_ids is not None:
        stmt = stmt.where(profiles.c.profile_id.in_(list(profile_ids)))
    with engine.connect() as conn:
        return [Profile.model_validate(row.doc) for row in conn.execute(stmt)]


def placed_residents(engine: Engine, community: str, grid: str | None, scope: Scope) -> list[ActiveProfile]:
    """The active residents the store places in ``community`` (or in its ``grid``, unqualified)
    within ``scope`` (the SQL clause of ``store.scope_filter``), each with its own community and
    qualified grid, for the caller to ask the scope again per row."""
    where = profiles.c.community == community
    if grid:
        where = profiles.c.grid == f"{community}/{grid}"
    with engine.connect() as conn:
        rows = conn.execute(select(profiles.c.doc, profiles.c.community, profiles.c.grid).where(
            where, profiles.c.status == "active", scope_filter(scope))).all()
    return [ActiveProfile(Profile.model_validate(r.doc), r.community, r.grid) for r in rows]


@dataclass(frozen=True)
class Located:
    """A profile found by id (following merge redirects), with the community it is scoped by."""

    asked: str
    profile: Profile
    community: str | None
    grid: str | None = None  # qualified, "秦虹社区/第2网格": where the store places the resident


def locate(engine: Engine, profile_ids: Sequence[str]) -> tuple[list[Located], list[str]]:
    """The active profiles behind ``profile_ids`` (a merged-away id leads to its survivor), and
    the ids that lead nowhere."""
    active = active_profiles(engine, profile_ids, hops=MAX_REDIRECTS)
    found = [Located(pid, a.profile, a.community, a.grid) for pid in dict.fromkeys(profile_ids)
             if (a := active.get(pid)) is not None]
    return found, [pid for pid in profile_ids if pid not in active]


def contested(engine: Engine, profile_ids: Collection[str]) -> set[str]:
    """Those of ``profile_ids`` whose records place the resident in different communities
    (住址有冲突, ``place_contested``, core.places): a door check (入户核实) settles them."""
    found: set[str] = set()
    with engine.connect() as conn:
        for chunk in chunks(sorted(set(profile_ids))):
            found.update(conn.execute(select(profiles.c.profile_id).where(
                profiles.c.profile_id.in_(chunk), place_flag("contested"))).scalars())
    return found


def known_communities(engine: Engine) -> list[str]:
    """Every community a profile is placed in, sorted."""
    with engine.connect() as conn:
        return sorted(c for (c,) in conn.execute(select(profiles.c.community).distinct()
                                                 .where(profiles.c.community.is_not(None))))


def named_grids(engine: Engine, communities: Collection[str]) -> dict[str, set[str]]:
    """Per community, the grids its active residents name (``attributes.grid`` of the stored
    documents, unqualified)."""
    found: dict[str, set[str]] = {c: set() for c in communities}
    with engine.connect() as conn:
        for row in conn.execute(select(profiles.c.community, profiles.c.doc).where(
                profiles.c.community.in_(sorted(communities)), profiles.c.status == "active")):
            grid = (((row.doc or {}).get("golden") or {}).get("attributes") or {}).get("grid")
            if isinstance(grid, Mapping) and grid.get("value"):
                found[row.community].add(str(grid["value"]))
    return found
