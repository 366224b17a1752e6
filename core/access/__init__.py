"""Access control (访问控制), pure: who may do what, to which residents, and what they see masked.

Roles and their permissions (:mod:`core.access.roles`), department grants (:mod:`core.access.grants`)
and the masking decision for each field (:mod:`core.access.masking`). No I/O: the API loads users,
grants and profiles, asks these functions, and writes the audit entry.
"""

from __future__ import annotations

from core.access.grants import DepartmentGrant, FieldGrant, Grant, GrantError, Grants, SharingClass, parse_grants
from core.access.masking import (
    FIELDS,
    SENSITIVE_FIELDS,
    FieldView,
    is_sensitive,
    mask_value,
    visibility,
)
from core.access.roles import (
    MACHINE_ROLES,
    ROLES,
    AccessDenied,
    Action,
    Principal,
    Role,
    can,
    may_approve,
    may_hold_token,
    needs_approval,
    require,
)
from core.access.scope import EVERYONE, NOBODY, Scope, ScopeKind, may_see_community, scope_of

__all__ = [
    "EVERYONE",
    "FIELDS",
    "MACHINE_ROLES",
    "NOBODY",
    "ROLES",
    "SENSITIVE_FIELDS",
    "AccessDenied",
    "Action",
    "DepartmentGrant",
    "FieldGrant",
    "FieldView",
    "Grant",
    "GrantError",
    "Grants",
    "Principal",
    "Role",
    "Scope",
    "ScopeKind",
    "SharingClass",
    "can",
    "is_sensitive",
    "mask_value",
    "may_approve",
    "may_hold_token",
    "may_see_community",
    "needs_approval",
    "parse_grants",
    "require",
    "scope_of",
    "visibility",
]
