"""Grants (授权): which fields each department may receive, for what purpose, under which sharing class.

Sharing classes follow 国发〔2016〕51号: a field is shared *unconditionally* (无条件共享),
*conditionally* (有条件共享: only with a recorded basis, e.g. an agreement) or *not shared*
(不予共享). The class belongs to the field (the data catalogue); a department's grant lists
fields and a purpose. A grant of a not-shared field, or of a conditional field without a basis,
is refused when the grants are loaded, so an extract can never carry it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from core.planner.fields import check_field, read_field
from core.profile.model import Profile

__all__ = ["DepartmentGrant", "FieldGrant", "GrantError", "Grants", "SharingClass", "extract_row"]

SharingClass = Literal["unconditional", "conditional", "not_shared"]
_CLASSES = ("unconditional", "conditional", "not_shared")


class GrantError(ValueError):
    pass


@dataclass(frozen=True)
class FieldGrant:
    field: str
    purpose: str
    sharing: SharingClass
    basis: str | None = None  # the agreement or approval a conditional grant rests on


@dataclass(frozen=True)
class DepartmentGrant:
    department: str
    title: str
    fields: tuple[FieldGrant, ...]

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(g.field for g in self.fields)


@dataclass(frozen=True)
class Grants:
    catalogue: Mapping[str, SharingClass]  # field → sharing class
    departments: Mapping[str, DepartmentGrant]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Grants:
        catalogue: dict[str, SharingClass] = {}
        for name, sharing in (data.get("catalogue") or {}).items():
            if sharing not in _CLASSES:
                raise GrantError(f"catalogue: {name}: sharing class {sharing!r} is not one of {_CLASSES}")
            catalogue[check_field(str(name))] = cast(SharingClass, sharing)
        departments: dict[str, DepartmentGrant] = {}
        for department, spec in (data.get("departments") or {}).items():
            granted: list[FieldGrant] = []
            for entry in spec.get("grants") or ():
                purpose = str(entry.get("purpose") or "").strip()
                if not purpose:
                    raise GrantError(f"{department}: every grant needs a purpose (purpose limitation)")
                basis = entry.get("basis")
                declared = entry.get("sharing")
                for name in entry.get("fields") or ():
                    name = check_field(str(name))
                    sharing = catalogue.get(name)
                    if sharing is None:
                        raise GrantError(f"{department}: {name} has no sharing class in the catalogue")
                    if declared is not None and declared != sharing:
                        raise GrantError(f"{department}: {name} is {sharing} in the catalogue, not {declared}")
                    if sharing == "not_shared":
                        raise GrantError(f"{department}: {name} is not shared (不予共享) and cannot be granted")
                    if sharing == "conditional" and not basis:
                        raise GrantError(f"{department}: {name} is shared conditionally: the grant needs a basis")
                    if name in (g.field for g in granted):
                        raise GrantError(f"{department}: {name} is granted twice")
                    granted.append(FieldGrant(field=name, purpose=purpose, sharing=sharing,
                                              basis=str(basis) if basis else None))
            departments[str(department)] = DepartmentGrant(department=str(department),
                                                           title=str(spec.get("title", department)),
                                                           fields=tuple(granted))
        return cls(catalogue=catalogue, departments=departments)


def extract_row(profile: Profile, grant: DepartmentGrant) -> dict[str, str | None]:
    """One resident's row of a department's extract: the profile id and the granted fields only."""
    row: dict[str, str | None] = {"profile_id": profile.profile_id}
    for granted in grant.fields:
        known = read_field(profile.golden, granted.field)
        row[granted.field] = known.value if known else None
    return row
