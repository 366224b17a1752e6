"""Collected once (一数一源): plan what community workers still need to ask, and what each
department may receive. Pure: plain Python over profiles, no I/O."""

from __future__ import annotations

from core.planner.answers import CollectedAnswers, collected_answers, mapping_target, visit_row
from core.planner.fields import CANONICAL_FIELDS, KnownValue, UnknownField, check_field, read_field
from core.planner.grants import (
    SNAPSHOT_VERSION,
    DepartmentGrant,
    FieldGrant,
    GrantError,
    Grants,
    SharingClass,
    extract_row,
    published_snapshot,
)
from core.planner.plan import DOOR_CHECK, CollectionPlan, FormTemplate, ResidentPlan, plan_collection
from core.planner.target import MAX_PROFILE_IDS, InvalidTarget, PlanTarget, grids_of, in_grid
from core.planner.view import PLANNING_ROLES, PlanView, as_cell, plan_view, require_planner

__all__ = [
    "CANONICAL_FIELDS",
    "DOOR_CHECK",
    "MAX_PROFILE_IDS",
    "PLANNING_ROLES",
    "SNAPSHOT_VERSION",
    "CollectedAnswers",
    "CollectionPlan",
    "DepartmentGrant",
    "FieldGrant",
    "FormTemplate",
    "GrantError",
    "Grants",
    "InvalidTarget",
    "KnownValue",
    "PlanTarget",
    "PlanView",
    "ResidentPlan",
    "SharingClass",
    "UnknownField",
    "as_cell",
    "check_field",
    "collected_answers",
    "extract_row",
    "grids_of",
    "in_grid",
    "mapping_target",
    "plan_collection",
    "plan_view",
    "published_snapshot",
    "read_field",
    "require_planner",
    "visit_row",
]
