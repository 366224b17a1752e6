"""Roles (角色) and what each may do.

- ``community_worker`` (社区工作者): reads residents of their own communities or grids (网格) only.
- ``steward`` (数据管理员): reads every resident, decides reviews, watches the pipeline.
- ``department_reader`` (部门读取方): a department's machine account, reads its granted fields.
- ``auditor`` (审计员): reads the audit log, never resident data.
- ``admin`` (系统管理员): manages users and sees pipeline health, never resident data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Role = Literal["community_worker", "steward", "department_reader", "auditor", "admin"]
ROLES: tuple[Role, ...] = ("community_worker", "steward", "department_reader", "auditor", "admin")

Action = Literal[
    "search",  # find residents
    "read_profile",  # a resident's profile, history, household
    "unmask",  # see ID numbers, phones, sensitive attributes in clear, with a purpose
    "review",  # the steward review queue: read and decide
    "dead_letters",  # browse dead letters
    "confirm_ends",  # accept or reject a pull's ends held by the mass-change guard
    "health",  # pipeline health
    "audit",  # read and verify the audit log
    "manage_users",
    "approve_accounts",  # the second person: a new reading account or a change toward reading waits for them
]

_PERMISSIONS: dict[Role, frozenset[Action]] = {
    "community_worker": frozenset({"search", "read_profile", "unmask"}),
    "steward": frozenset({"search", "read_profile", "unmask", "review", "dead_letters", "health", "approve_accounts",
                          "confirm_ends"}),
    "department_reader": frozenset({"search", "read_profile"}),
    "auditor": frozenset({"audit", "approve_accounts"}),
    "admin": frozenset({"health", "manage_users"}),
}


# Roles whose accounts are machines (a department system's nightly sync): the only ones that hold
# bearer tokens. People log in; nobody, the admin least of all, gets a token to act as a person.
MACHINE_ROLES: frozenset[Role] = frozenset({"department_reader"})


class AccessDenied(PermissionError):
    """The principal may not do this; the message says why and names no resident data."""


@dataclass(frozen=True)
class Principal:
    """Who is asking: a console user or a machine token's holder."""

    user_id: str
    username: str
    role: Role
    communities: frozenset[str] = field(default_factory=frozenset)  # community workers' scope
    grids: frozenset[str] = field(default_factory=frozenset)  # ... or grids, "秦虹社区/第2网格"
    department: str | None = None  # department readers: whose grant applies

    @property
    def display(self) -> str:
        return f"{self.username} ({self.role})"

    @property
    def scope(self) -> str:
        return scope_text(self.communities, self.grids, self.department)


def scope_text(communities: Iterable[str], grids: Iterable[str], department: str | None) -> str:
    """Whose residents a user sees, in one line: communities and grids, a department's grants, or all."""
    parts = sorted(communities) + sorted(grids)
    if parts:
        return "、".join(parts)
    return f"grants of {department}" if department else "all"


def can(principal: Principal, action: Action) -> bool:
    return action in _PERMISSIONS[principal.role]


def require(principal: Principal, action: Action) -> None:
    """Raise :class:`AccessDenied` unless the principal's role allows ``action``."""
    if not can(principal, action):
        raise AccessDenied(f"role {principal.role} may not {action.replace('_', ' ')}")


def may_hold_token(role: Role) -> bool:
    """Only machine accounts (:data:`MACHINE_ROLES`) get bearer tokens."""
    return role in MACHINE_ROLES


def needs_approval(role: Role) -> bool:
    """A new account with this role, or a change to it, reads residents: the admin's request waits for a
    second person (separation of duties); roles that read no resident data apply at once.

    >>> needs_approval("community_worker"), needs_approval("auditor")
    (True, False)"""
    return "read_profile" in _PERMISSIONS[role]


def may_approve(approver: Principal, *, username: str, requested_by: str) -> bool:
    """A steward or an auditor approves, never for their own account nor a request they made."""
    return can(approver, "approve_accounts") and approver.username not in (username, requested_by)
