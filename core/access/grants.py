"""Grants (共享授权): which profile fields each department may receive, for what purpose, under which
sharing class. The one model of ``config/grants.yaml``: the query service (what a department reader
sees), the publish flow (extracts, the published topic) and the planner all read it through
:class:`Grants`.

Sharing classes follow 国发〔2016〕51号: a field is shared *unconditionally* (无条件共享),
*conditionally* (有条件共享: only with a recorded ``basis``, e.g. an agreement) or *not shared*
(不予共享). The class belongs to the field (the file's ``catalogue``); a department's grant lists
fields and a purpose. A grant of a not-shared field, of a field the catalogue does not class, or of
a conditional field without a basis is refused when the grants are loaded, so neither an API answer
nor an extract nor the published topic can ever carry it::

    catalogue: {name: unconditional, id_number: conditional, attributes.remarks: not_shared}
    departments:
      civil_affairs:
        grants:
          - {fields: [name], purpose: 资格核对, sharing: unconditional}
          - {fields: [id_number], purpose: 身份核验, basis: 区政务数据共享协议 第3条}

A reader sees a granted field; a sensitive one comes masked unless it was granted with a basis
(:attr:`Grant.unmasked`). A field not granted is absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

__all__ = ["DepartmentGrant", "FieldGrant", "Grant", "GrantError", "Grants", "InvalidGrants", "SharingClass",
           "parse_grants"]

SharingClass = Literal["unconditional", "conditional", "not_shared"]
_CLASSES = ("unconditional", "conditional", "not_shared")


class GrantError(ValueError):
    """``config/grants.yaml`` breaks a sharing rule (the message names the department and field)."""


InvalidGrants = GrantError  # the name the query service used for the same error


@dataclass(frozen=True)
class Grant:
    """What one department's readers see: the granted fields, and those granted in clear."""

    department: str
    purpose: str
    fields: frozenset[str]
    unmasked: frozenset[str] = frozenset()

    def allows(self, field: str) -> bool:
        """``attributes.x`` is allowed by ``attributes.x`` or by ``attributes`` (all attributes)."""
        return field in self.fields or (field.startswith("attributes.") and "attributes" in self.fields)

    def in_clear(self, field: str) -> bool:
        return field in self.unmasked or (field.startswith("attributes.") and "attributes" in self.unmasked)


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

    @property
    def access(self) -> Grant:
        """The reader's view: every granted field, in clear those granted with a basis."""
        purposes = dict.fromkeys(g.purpose for g in self.fields)
        return Grant(self.department, "；".join(purposes), frozenset(self.field_names),
                     frozenset(g.field for g in self.fields if g.basis))


@dataclass(frozen=True)
class Grants:
    catalogue: Mapping[str, SharingClass]  # field → sharing class
    departments: Mapping[str, DepartmentGrant]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Grants:
        # Lazily: the planner's field names import the profile model, and the planner imports this package.
        from core.planner.fields import check_field

        if not isinstance(data, Mapping):
            raise GrantError("grants must be a mapping with a catalogue and departments")
        unknown = set(data) - {"catalogue", "departments"}
        if unknown:
            raise GrantError(f"grants hold a 'catalogue' and 'departments', not {', '.join(sorted(map(str, unknown)))}")
        catalogue: dict[str, SharingClass] = {}
        for name, sharing in (data.get("catalogue") or {}).items():
            if sharing not in _CLASSES:
                raise GrantError(f"catalogue: {name}: sharing class {sharing!r} is not one of {_CLASSES}")
            catalogue[check_field(str(name))] = cast(SharingClass, sharing)
        departments: dict[str, DepartmentGrant] = {}
        for department, spec in (data.get("departments") or {}).items():
            items = spec.get("grants") if isinstance(spec, Mapping) else None
            if not isinstance(items, list):
                raise GrantError(f"department {department!r}: 'grants' must be a list")
            granted: list[FieldGrant] = []
            for entry in items:
                if not isinstance(entry, Mapping) or not isinstance(entry.get("fields", []), list):
                    raise GrantError(f"department {department!r}: each grant needs a list of 'fields'")
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

    def access(self) -> dict[str, Grant]:
        """Each department's reader view (what the query service and the objections feed apply)."""
        return {department: grant.access for department, grant in self.departments.items()}

    @property
    def shared_fields(self) -> frozenset[str]:
        """Every field some department is granted: all that may leave the hub (the published topic)."""
        return frozenset(g.field for grant in self.departments.values() for g in grant.fields)


def parse_grants(data: Any) -> dict[str, Grant]:
    """Department → reader view, from a parsed ``config/grants.yaml`` (checked by :class:`Grants`)."""
    return Grants.from_dict(data).access()
