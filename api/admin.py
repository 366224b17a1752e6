"""User administration for the admin role (用户管理): list, create, disable, change role, issue a
machine token. Every action is written to the audit log; passwords are never echoed or logged, and a
token is shown once (only its hash is stored).

Separation of duties (职责分离): the admin, who sees no resident data, cannot give itself a way to read
it. A new account with a reading role is created disabled and a change toward a reading role is
recorded, not applied: both wait for a second person, a steward or an auditor, who approves or
refuses (audited). Bearer tokens are issued only to machine accounts (department readers), so the
admin never holds a credential that acts as a person.
"""


from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from api.queries import BadQuery, NotFound
from api.user_responses import AccountDecisionOut, AccountOut, AccountRequestsOut, AccountsOut, IssuedTokenOut
from core.access import ROLES, AccessDenied, Principal, Role, may_approve, may_hold_token, needs_approval, require
from store.audit import AuditLog
from store.auth_tables import AccountRequest, RequestPending, UnknownRequest, UnknownUser, UserExists, UserStore

USERNAME = Field(pattern=r"^[A-Za-z0-9_.\-]{2,64}$", description="letters, digits, _ . - (2–64)")
SCOPE_ITEM_MAX = 50


class RoleChange(BaseModel):
    """A role and the scope that goes with it (communities or grids for a worker, a department)."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    communities: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(default_factory=list,
                                                                                   max_length=SCOPE_ITEM_MAX)
    grids: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(default_factory=list,
                                                                             max_length=SCOPE_ITEM_MAX)
    department: str | None = Field(default=None, max_length=64)


class NewUser(RoleChange):
    username: str = USERNAME
    password: SecretStr = Field(description="at least the configured minimum length; never echoed")
    display_name: str = Field(default="", max_length=200)


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(default="", max_length=200, description="what the token is for")


class Conflict(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(409, detail)


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

    def create(self, admin: Principal, new: NewUser) -> dict[str, Any]:
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
            raise Conflict(f"user {new.username!r} exists") from None
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

    def set_role(self, admin: Principal, username: str, change: RoleChange) -> dict[str, Any]:
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
                raise Conflict(str(exc)) from None
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


def admin_router(admin: UserAdmin, principal_dep: Any) -> APIRouter:
    router = APIRouter(prefix="/api/v1/users", tags=["admin"])
    Me = Annotated[Principal, Depends(principal_dep)]

    @router.get("")
    def list_users(principal: Me) -> AccountsOut:
        """Every user, role, scope and whether it is active (admins only)."""
        return AccountsOut.model_validate({"users": admin.accounts(principal)})

    @router.post("", status_code=201)
    def create_user(principal: Me, body: NewUser) -> AccountOut:
        """Create a user with a role and scope; the password is hashed (argon2) and never echoed."""
        return AccountOut.model_validate(admin.create(principal, body))

    @router.post("/{username}/disable")
    def disable_user(principal: Me, username: str) -> AccountOut:
        """Disable a user: its sessions and tokens stop working at once."""
        return AccountOut.model_validate(admin.set_active(principal, username, False))

    @router.post("/{username}/enable")
    def enable_user(principal: Me, username: str) -> AccountOut:
        return AccountOut.model_validate(admin.set_active(principal, username, True))

    @router.post("/{username}/role")
    def change_role(principal: Me, username: str, body: RoleChange) -> AccountOut:
        """Change a user's role and scope (communities, department)."""
        return AccountOut.model_validate(admin.set_role(principal, username, body))

    @router.get("/requests")
    def list_requests(principal: Me) -> AccountRequestsOut:
        """Requests waiting for a second person: new reading accounts and changes toward reading roles."""
        return AccountRequestsOut.model_validate({"requests": admin.requests(principal)})

    @router.post("/requests/{request_id}/approve")
    def approve_request(principal: Me, request_id: str) -> AccountDecisionOut:
        """A steward or an auditor (not the account, not the requester) approves: the account is enabled
        or takes the new role."""
        return AccountDecisionOut.model_validate(admin.decide(principal, request_id, approve=True))

    @router.post("/requests/{request_id}/refuse")
    def refuse_request(principal: Me, request_id: str) -> AccountDecisionOut:
        return AccountDecisionOut.model_validate(admin.decide(principal, request_id, approve=False))

    @router.post("/{username}/tokens", status_code=201)
    def issue_token(principal: Me, username: str, body: TokenRequest | None = None) -> IssuedTokenOut:
        """A new bearer token for a machine account; shown once in this answer, stored only as a hash."""
        return IssuedTokenOut.model_validate(admin.issue_token(principal, username, (body or TokenRequest()).label))

    return router
