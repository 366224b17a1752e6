"""Scope (可见范围): whose residents a principal may read, defined once.

Every read asks this module: profile reads, objections and the planner call :func:`may_see_community`
(or :meth:`Scope.admits`) on a profile's community and grid; search, household reads, the home page's
resident list and exports filter rows in SQL through ``store.scope_filter``, which turns the same
:class:`Scope` into a WHERE clause. The SQL filter and the Python check are built from one value, so
they cannot disagree (``tests/integration/test_api_scope.py`` compares them role by role).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from core.access.roles import Principal, can

ScopeKind = Literal["everyone", "places", "nobody"]


@dataclass(frozen=True)
class Scope:
    """Everyone, nobody, or the residents living in some communities or grids ("社区/网格")."""

    kind: ScopeKind
    communities: frozenset[str] = field(default_factory=frozenset)
    grids: frozenset[str] = field(default_factory=frozenset)

    def admits(self, community: str | None, grid: str | None = None) -> bool:
        """Whether a resident placed in ``community`` and ``grid`` (qualified by its community) is in scope.

        A resident with no known community and grid is outside every place-bound scope (minimum necessary).
        Written to mean what SQL's ``community IN (…) OR grid IN (…)`` means, NULLs included."""
        if self.kind == "everyone":
            return True
        if self.kind == "nobody":
            return False
        return (community is not None and community in self.communities) or (grid is not None and grid in self.grids)


EVERYONE = Scope("everyone")
NOBODY = Scope("nobody")


def scope_of(principal: Principal) -> Scope:
    """Community workers see residents of their own communities or grids; stewards and department
    readers (whose grants limit fields, not residents) see every resident; other roles none.

    >>> scope_of(Principal("u1", "li", "community_worker", communities=frozenset({"秦虹社区"}))).admits("秦虹社区")
    True"""
    if not can(principal, "read_profile"):
        return NOBODY
    if principal.role == "community_worker":
        return Scope("places", frozenset(principal.communities), frozenset(principal.grids))
    return EVERYONE


def may_see_community(principal: Principal, community: str | None, grid: str | None = None) -> bool:
    """``scope_of(principal).admits(community, grid)``: ``grid`` is the resident's grid qualified by its
    community ("秦虹社区/第2网格")."""
    return scope_of(principal).admits(community, grid)
