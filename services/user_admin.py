"""User administration for the admin role (用户管理): list, create, disable, change role, issue a
machine token. Every action is written to the audit log; passwords are never echoed or logged, and a
token is shown once (only its hash is stored). The API (``api.admin``) and the console call it.

Separation of duties (职责分离): the admin, who sees no resident data, cannot give itself a way to read
it. A new account with a reading role is created disabled and a change toward a reading role is
recorded, not applied: both wait for a second person, a steward or an auditor, who approves or
refuses (audited). Bearer tokens are issued only to machine accounts (department readers), so the
admin never holds a credential that acts as a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import SecretStr

from core.access import ROLES, AccessDenied, Principal, Role, may_approve, may_hold_token, needs_approval, require
from services.queries import BadQuery, NotFound
from store.audit import AuditLog
from store.auth_tables import AccountRequest, RequestPending, UnknownRequest, UnknownUser, UserExists, UserStore


class AccountConflict(Exception):
    """The account exists, or a request for it already waits: answered 409 (``api.errors``)."""


class RoleRequest(Protocol):
    """A role and the scope that goes with it, as asked (``api.admin.RoleChange``)."""

    @property
    def role(self) -> Role: ...
    @property
    def communities(self) -> list[str]: ...
    @property
    def grids(self) -> list[str]: ...
    @property
    def department(self) -> str | None: ...


class NewAccount(RoleRequest, Protocol):
    """A new user, as asked (``api.admin.NewUser``); the password is never echoed."""

    @property
    def username(self) -> str: ...
    @property
    def password(self) -> SecretStr: ...
    @property
    def display_name(self) -> str: ...


@dataclass(frozen=True)
class CreateAccount:
    """A new account asked for outside HTTP (``onceonly users add``); the API's ``NewUser`` has the same shape."""

    username: str
    password: SecretStr
    role: Role
    communities: list[str] = field(default_factory=list)
    grids: list[str] = field(default_factory=list)
    department: str | None = None
    display_name: str = ""


class UserAdmin:
    def __init__(self, users: UserStore, audit: AuditLog, *, min_password_length: int = 10) -> None:
        self.users = users
        self.audit = audit
        self.min_password_length = min_password_length

    def accounts(self, admin: Principal) -> list[dict[str, Any]]:
        require(admin, "manage_users")
        waiting = {r.username: _request_view(r) for r in self.users.requests()}
        return [{"username": p.username, "role": p.role, "communities": sorted(p.communities),
                 "grids": sorted(p.grids), "department": p.department, "active": active,
                 "created_at": created.isoformat() if created else None,
                 "awaiting_approval": waiting.get(p.username)}
                for p, active, created in self.users.accounts()]

    def create(self, admin: Principal, new: NewAccount) -> dict[str, Any]:
        require(admin, "manage_users")
        password = new.password.get_secret_value()
        if len(password) < self.min_password_length:
            raise BadQuery(f"the password is too short: at least {self.min_password_length} characters")
        if password.strip().casefold() == new.username.casefold():
            raise BadQuery("the password must not be the username")
        self._check_scope(new.role, new.communities, new.department, new.grids)
        waits = needs_approval(new.role)
        try:
            self.users.add(new.username, password, new.role, communities=new.communities, grids=new.grids,
                           department=new.department, display_name=new.display_name, active=not waits)
            if waits:
                self.users.request(new.username, "create", new.role, requested_by=admin.username,
                                   communities=new.communities, grids=new.grids, department=new.department)
        except UserExists:
            raise AccountConflict(f"user {new.username!r} exists") from None
        except ValueError as exc:
            raise BadQuery(str(exc)) from None
        self.audit.append(admin, "admin:request_user" if waits else "admin:create_user",
                          f"{'申请创建' if waits else '创建'}用户 {new.username}（{new.role}）", [],
                          _scope_fields(new.communities, new.grids, new.department))
        return self._one(new.username)

    def set_active(self, admin: Principal, username: str, active: bool) -> dict[str, Any]:
        require(admin, "manage_users")
        if username == admin.username and not active:
            raise BadQuery("an admin cannot disable their own account")
        self._known(username)
        if active and (waiting := self.users.pending_for(username)) is not None and waiting.kind == "create":
            raise BadQuery("the account awaits approval by a steward or an auditor: it is enabled when approved")
        self.users.set_active(username, active)
        self.audit.append(admin, "admin:enable_user" if active else "admin:disable_user",
                          f"{'启用' if active else '停用'}用户 {username}", [], [])
        return self._one(username)

    def set_role(self, admin: Principal, username: str, change: RoleRequest) -> dict[str, Any]:
        require(admin, "manage_users")
        self._known(username)
        self._check_scope(change.role, change.communities, change.department, change.grids)
        if username == admin.username and change.role != "admin":
            raise BadQuery("an admin cannot take the admin role from their own account")
        scope = _scope_fields(change.communities, change.grids, change.department)
        if needs_approval(change.role):
            try:
                self.users.request(username, "role", change.role, requested_by=admin.username,
                                   communities=change.communities, grids=change.grids, department=change.department)
            except RequestPending as exc:
                raise AccountConflict(str(exc)) from None
            self.audit.append(admin, "admin:request_role", f"申请将用户 {username} 的角色改为 {change.role}", [], scope)
            return self._one(username)
        try:
            self.users.set_role(username, change.role, communities=change.communities, grids=change.grids,
                                department=change.department)
        except ValueError as exc:
            raise BadQuery(str(exc)) from None
        if not may_hold_token(change.role):
            self.users.revoke_tokens(username)  # a machine account turned into a person keeps no token
        self.audit.append(admin, "admin:set_role", f"更改用户 {username} 的角色为 {change.role}", [], scope)
        return self._one(username)

    def issue_token(self, admin: Principal, username: str, label: str) -> dict[str, Any]:
        require(admin, "manage_users")
        user = self._known(username)
        if not may_hold_token(user["role"]):
            raise BadQuery("bearer tokens are only for machine accounts (department readers); people log in")
        if not user["active"]:
            raise BadQuery("the user is disabled: enable it before issuing a token")
        token = self.users.issue_token(username, label)
        self.audit.append(admin, "admin:issue_token", f"为用户 {username} 签发机器令牌（{label or '无说明'}）", [], [])
        return {"username": username, "label": label, "token": token,
                "note": "shown once: only its hash is stored; keep it in the department system's secret store"}

    # -- the second person: stewards and auditors ----------------------------------------------------
    def requests(self, principal: Principal) -> list[dict[str, Any]]:
        """The requests waiting for approval (stewards and auditors decide; the admin sees its own)."""
        if not can_see_requests(principal):
            raise AccessDenied(f"role {principal.role} may not see account requests")
        return [_request_view(r) for r in self.users.requests()]

    def decide(self, approver: Principal, request_id: str, *, approve: bool) -> dict[str, Any]:
        """Approve or refuse one request; never one's own account, never one's own request."""
        require(approver, "approve_accounts")
        try:
            waiting = self.users.pending_request(request_id)
        except UnknownRequest:
            raise NotFound("no pending request with that id") from None
        if not may_approve(approver, username=waiting.username, requested_by=waiting.requested_by):
            raise AccessDenied("a request is decided by a second person, not by its account nor its requester")
        try:
            decided = self.users.decide(request_id, approve=approve, decided_by=approver.username)
        except UnknownRequest:
            raise NotFound("no pending request with that id") from None
        verb = "批准" if approve else "拒绝"
        what = "新建用户" if decided.kind == "create" else "角色变更"
        self.audit.append(approver, "approve_account" if approve else "refuse_account",
                          f"{verb}{waiting.requested_by}的{what}申请：{decided.username}（{decided.role}）", [],
                          _scope_fields(sorted(decided.communities), sorted(decided.grids), decided.department))
        return {**_request_view(decided), "account": self._one(decided.username)}

    # -- helpers -------------------------------------------------------------------------------------
    def _known(self, username: str) -> dict[str, Any]:
        try:
            return self._one(username)
        except UnknownUser:
            raise NotFound(f"no user {username!r}") from None

    def _one(self, username: str) -> dict[str, Any]:
        for p, active, created in self.users.accounts():
            if p.username == username:
                waiting = self.users.pending_for(username)
                return {"username": p.username, "role": p.role, "communities": sorted(p.communities),
                        "grids": sorted(p.grids), "department": p.department,
                        "active": active, "created_at": created.isoformat() if created else None,
                        "awaiting_approval": _request_view(waiting) if waiting else None}
        raise UnknownUser(username)

    @staticmethod
    def _check_scope(role: str, communities: list[str], department: str | None, grids: list[str]) -> None:
        if role not in ROLES:
            raise BadQuery(f"unknown role; one of {', '.join(ROLES)}")
        if role == "community_worker" and not communities and not grids:
            raise BadQuery("a community worker needs at least one community or grid (their scope)")
        if role == "department_reader" and not department:
            raise BadQuery("a department reader needs a department (its grant)")


def can_see_requests(principal: Principal) -> bool:
    return principal.role in ("admin", "steward", "auditor")


def _request_view(request: AccountRequest) -> dict[str, Any]:
    return {"request_id": request.request_id, "username": request.username, "kind": request.kind,
            "role": request.role, "communities": sorted(request.communities), "grids": sorted(request.grids),
            "department": request.department, "requested_by": request.requested_by,
            "requested_at": request.requested_at.isoformat(), "decision": request.decision,
            "decided_by": request.decided_by}


def _scope_fields(communities: list[str], grids: list[str], department: str | None) -> list[str]:
    return ([f"community={c}" for c in sorted(communities)] + [f"grid={g}" for g in sorted(grids)]
            + ([f"department={department}"] if department else []))
