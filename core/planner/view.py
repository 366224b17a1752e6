"""A collection plan as one reader is shown it: who may plan, and each known value masked exactly
as the profile view masks it (ID numbers, phones and sensitive attributes, :mod:`core.access`).

Pure: takes the plan, the planned profiles and the principal; returns plain dicts for the API, the
console and the workbook, and the fields it disclosed (for the audit entry).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.access import AccessDenied, Grant, Principal, can
from core.access.views import Disclosure, field_views
from core.planner.plan import CollectionPlan
from core.profile.model import Profile

__all__ = ["PLANNING_ROLES", "PlanView", "as_cell", "plan_view", "require_planner"]

# Community workers plan their own residents' visits; stewards plan for any community. Departments,
# auditors and admins do not visit residents.
PLANNING_ROLES = frozenset({"community_worker", "steward"})


def require_planner(principal: Principal) -> None:
    if principal.role not in PLANNING_ROLES or not can(principal, "read_profile"):
        raise AccessDenied(f"role {principal.role} may not plan collections (community workers and stewards only)")


@dataclass(frozen=True)
class PlanView:
    residents: list[dict[str, Any]]
    disclosed: list[str]  # as the audit log writes them: ``name``, ``id_number*`` (masked)


def plan_view(collection: CollectionPlan, profiles: Mapping[str, Profile], principal: Principal, *,
              grants: Mapping[str, Grant] | None = None) -> PlanView:
    """Per resident: each known field (value as the profile view shows it, masked flag, source,
    record, observed time) and the missing fields, in the form's order (a door check's columns are
    missing fields of the residents asked for one, and not listed for the others)."""
    require_planner(principal)
    form = collection.form
    disclosure = Disclosure()
    residents = []
    for resident in collection.residents:
        shown = {v["field"]: v for v in field_views(profiles[resident.profile_id], principal, grants=grants)}
        known = []
        for name in form.fields:
            if name not in resident.known or name not in shown:
                continue
            view = shown[name]
            disclosure.note(name, "masked" if view["masked"] else "shown", unmasked=False)
            known.append({"field": name, "label": form.label(name), "value": view["value"], "masked": view["masked"],
                          "source": view["source"], "record_id": view["record_id"],
                          "observed_at": view["observed_at"]})
        listed = {k["field"] for k in known}
        missing = [name for name in form.fields if name not in listed and (name in resident.known or name in resident.missing)]
        if resident.name:
            disclosure.note("name", "shown", unmasked=False)  # the row says whom to visit
        residents.append({"profile_id": resident.profile_id, "name": resident.name, "known": known,
                          "missing": missing, "disputed": list(resident.disputed)})
    return PlanView(residents=residents, disclosed=disclosure.fields)


def as_cell(value: str | list[str]) -> str:
    """A shown value in one spreadsheet cell: several phones joined by ``;``."""
    return ";".join(value) if isinstance(value, list) else value
