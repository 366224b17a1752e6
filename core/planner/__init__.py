"""Collected once (一数一源): plan what community workers still need to ask, and what each
department may receive. Pure: plain Python over profiles, no I/O."""

from __future__ import annotations

from core.planner.fields import CANONICAL_FIELDS, KnownValue, UnknownField, check_field, read_field
from core.planner.grants import DepartmentGrant, FieldGrant, GrantError, Grants, SharingClass, extract_row
from core.planner.plan import CollectionPlan, FormTemplate, ResidentPlan, plan_collection

__all__ = [
    "CANONICAL_FIELDS",
    "CollectionPlan",
    "DepartmentGrant",
    "FieldGrant",
    "FormTemplate",
    "GrantError",
    "Grants",
    "KnownValue",
    "ResidentPlan",
    "SharingClass",
    "UnknownField",
    "check_field",
    "extract_row",
    "plan_collection",
    "read_field",
]
