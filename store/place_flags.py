"""The place flags the projection keeps on each profile row (``core.places``) as WHERE clauses:
人户分离 (``apart``: registered in one place, living in another) and 住址有冲突 (``contested``: the
records place the resident in different communities, a door check 入户核实 settles it).

The one place they become SQL: the console home page's resident list (``services.home``), the residents
API (``services.queries``) and the collection planner (``store.planner_reads``) filter through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from sqlalchemy import ColumnElement

from store.profile_tables import profiles

__all__ = ["PLACE_FLAGS", "PlaceFlag", "place_flag"]

PlaceFlag = Literal["apart", "contested"]
PLACE_FLAGS: tuple[PlaceFlag, ...] = ("apart", "contested")

_COLUMNS: Mapping[PlaceFlag, str] = {"apart": "lives_apart", "contested": "place_contested"}


def place_flag(flag: PlaceFlag) -> ColumnElement[bool]:
    """The rows flagged ``flag`` (the columns are never NULL: an unflagged row holds false)."""
    return profiles.c[_COLUMNS[flag]].is_(True)
