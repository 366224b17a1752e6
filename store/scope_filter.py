"""The one place a :class:`core.access.Scope` becomes SQL: a WHERE clause on the profiles table.

Search, household reads, the home page's resident list and ``onceonly export`` filter through
:func:`scope_clause`; profile reads and the planner ask ``core.access.may_see_community`` of the same
row's community and grid. Both come from ``core.access.scope_of``, and the clause is written to mean
what :meth:`Scope.admits` means (NULL community or grid: outside a place-bound scope).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, FromClause, bindparam, false, or_, true

from core.access import Scope, ScopeKind
from store.profile_tables import profiles


def scope_clause(kind: ScopeKind, table: FromClause = profiles) -> ColumnElement[bool]:
    """The WHERE clause of a scope of ``kind``, with ``:scope_communities`` and ``:scope_grids`` as
    bound (expanding) parameters, so a statement built once per kind serves every principal; bind
    them with :func:`scope_values`."""
    if kind == "everyone":
        return true()
    if kind == "nobody":
        return false()
    return or_(table.c.community.in_(bindparam("scope_communities", expanding=True)),
               table.c.grid.in_(bindparam("scope_grids", expanding=True)))


def scope_values(scope: Scope) -> dict[str, Any]:
    """The values :func:`scope_clause` binds (none for everyone or nobody)."""
    if scope.kind != "places":
        return {}
    return {"scope_communities": sorted(scope.communities), "scope_grids": sorted(scope.grids)}


def scope_filter(scope: Scope, table: FromClause = profiles) -> ColumnElement[bool]:
    """:func:`scope_clause` with the scope's values already bound, for a statement built per call."""
    clause = scope_clause(scope.kind, table)
    values = scope_values(scope)
    return clause.params(**values) if values else clause  # true() and false() take no values
