"""Access control (访问控制), pure: who may do what, to which residents, and what they see masked.

Roles and their permissions (:mod:`core.access.roles`), department grants (:mod:`core.access.grants`)
and the masking decision for each field (:mod:`core.access.masking`). No I/O: the API loads users,
grants and profiles, asks these functions, and writes the audit entry.
"""

from __future__ import annotations

from core.access.grants import Grant, default_grants, parse_grants
from core.access.masking import (
    FIELDS,
    SENSITIVE_FIELDS,
    FieldView,
    is_sensitive,
    mask_value,
    visibility,
)
from core.access.roles import (
    ROLES,
    AccessDenied,
    Action,
    Principal,
    Role,
    can,
    may_see_community,
    require,
)

__all__ = [
    "FIELDS",
    "ROLES",
    "SENSITIVE_FIELDS",
    "AccessDenied",
    "Action",
    "FieldView",
    "Grant",
    "Principal",
    "Role",
    "can",
    "default_grants",
    "is_sensitive",
    "mask_value",
    "may_see_community",
    "parse_grants",
    "require",
    "visibility",
]
