"""Department grants (共享授权): which profile fields a department may read, for what purpose.

Grants are data (``config/grants.yaml``, shared with ``flows/publish.py``), parsed here from plain
mappings. The file's form: per department, a list of grants, each fields + purpose, and for a
conditional grant (有条件共享) its legal ``basis``; fields granted with a basis come in clear::

    departments:
      civil_affairs:
        grants:
          - {fields: [name, sex, birth_date], purpose: 资格核对, sharing: unconditional}
          - {fields: [id_number, phones], purpose: 身份核验, basis: 区政务数据共享协议 第3条}

A short form is read too::

    grants:
      social_security:
        purpose: 社保待遇资格核验
        fields: [name, id_number, birth_date, deceased_on, attributes.assistance]
        unmasked: [id_number]        # fields the department receives in clear

A field not granted is absent from the answer; a granted sensitive field not in ``unmasked``
comes masked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Grant:
    department: str
    purpose: str
    fields: frozenset[str]
    unmasked: frozenset[str] = frozenset()

    def allows(self, field: str) -> bool:
        """``attributes.x`` is allowed by ``attributes.x`` or by ``attributes`` (all attributes)."""
        return field in self.fields or (field.startswith("attributes.") and "attributes" in self.fields)

    def in_clear(self, field: str) -> bool:
        return field in self.unmasked or (field.startswith("attributes.") and "attributes" in self.unmasked)


class InvalidGrants(ValueError):
    pass


def parse_grants(data: Any) -> dict[str, Grant]:
    """Grants by department from a parsed YAML document (``{"grants": {dept: {...}}}`` or the bare map)."""
    if not isinstance(data, Mapping):
        raise InvalidGrants("grants must be a mapping of department → grant")
    if isinstance(data.get("departments"), Mapping):
        return _parse_departments(data["departments"])
    body = data.get("grants", data)
    if not isinstance(body, Mapping):
        raise InvalidGrants("'grants' must be a mapping of department → grant")
    grants: dict[str, Grant] = {}
    for department, spec in body.items():
        if not isinstance(spec, Mapping):
            raise InvalidGrants(f"grant of {department!r} must be a mapping")
        fields = spec.get("fields", [])
        unmasked = spec.get("unmasked", [])
        if not isinstance(fields, list) or not isinstance(unmasked, list):
            raise InvalidGrants(f"grant of {department!r}: 'fields' and 'unmasked' must be lists")
        grants[str(department)] = Grant(department=str(department), purpose=str(spec.get("purpose", "")),
                                        fields=frozenset(map(str, fields)), unmasked=frozenset(map(str, unmasked)))
    return grants


def _parse_departments(body: Mapping[str, Any]) -> dict[str, Grant]:
    grants: dict[str, Grant] = {}
    for department, spec in body.items():
        items = spec.get("grants", []) if isinstance(spec, Mapping) else None
        if not isinstance(items, list):
            raise InvalidGrants(f"department {department!r}: 'grants' must be a list")
        fields: set[str] = set()
        clear: set[str] = set()
        purposes: list[str] = []
        for item in items:
            if not isinstance(item, Mapping) or not isinstance(item.get("fields", []), list):
                raise InvalidGrants(f"department {department!r}: each grant needs a list of 'fields'")
            granted = set(map(str, item.get("fields", [])))
            fields |= granted
            if item.get("basis"):
                clear |= granted
            if item.get("purpose"):
                purposes.append(str(item["purpose"]))
        grants[str(department)] = Grant(str(department), "；".join(purposes), frozenset(fields), frozenset(clear))
    return grants


def default_grants() -> dict[str, Grant]:
    """A small default when no grants file exists: each department reads identity fields only."""
    identity = frozenset({"name", "sex", "birth_date", "id_number", "deceased_on", "moved_out_on"})
    return {
        "civil_affairs": Grant("civil_affairs", "社会救助资格核验", identity | {"household_id", "residential_address",
                                                                         "attributes.assistance"},
                               frozenset({"id_number"})),
        "social_security": Grant("social_security", "社保待遇资格核验", identity, frozenset({"id_number"})),
        "public_security": Grant("public_security", "户籍核对", identity | {"registered_address", "household_id"},
                                 frozenset({"id_number"})),
        "housing": Grant("housing", "住房保障核验", identity | {"property_address"}, frozenset()),
    }
