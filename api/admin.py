"""User administration for the admin role (用户管理): list, create, disable, change role, issue a
machine token. Every action is written to the audit log; passwords are never echoed or logged, and a
token is shown once (only its hash is stored)."""


from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from api.queries import BadQuery, NotFound
from core.access import ROLES, Principal, Role, require
from store.audit import AuditLog
from store.auth_tables import UnknownUser, UserExists, UserStore

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
        return [{"username": p.username, "role": p.role, "communities": sorted(p.communities),
                 "grids": sorted(p.grids), "department": p.department, "active": active,
                 "created_at": created.isoformat() if created else None}
                for p, active, created in self.users.accounts()]

    def create(self, admin: Principal, new: NewUser) -> dict[str, Any]:
        require(admin, "manage_users")
        password = new.password.get_secret_value()
        if len(password) < self.min_password_length:
            raise BadQuery(f"the password is too short: at least {self.min_password_length} characters")
        if password.strip().casefold() == new.username.casefold():
            raise BadQuery("the password must not be the username")
        self._check_scope(new.role, new.communities, new.department, new.grids)
        try:
            self.users.add(new.username, password, new.role, communities=new.communities, grids=new.grids,
                           department=new.department, display_name=new.display_name)
        except UserExists:
            raise Conflict(f"user {new.username!r} exists") from None
        except ValueError as exc:
            raise BadQuery(str(exc)) from None
        self.audit.append(admin, "admin:create_user", f"创建用户 {new.username}（{new.role}）", [],
                          _scope_fields(new.communities, new.grids, new.department))
        return self._one(new.username)

    def set_active(self, admin: Principal, username: str, active: bool) -> dict[str, Any]:
        require(admin, "manage_users")
        if username == admin.username and not active:
            raise BadQuery("an admin cannot disable their own account")
        self._known(username)
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
        try:
            self.users.set_role(username, change.role, communities=change.communities, grids=change.grids,
                                department=change.department)
        except ValueError as exc:
            raise BadQuery(str(exc)) from None
        self.audit.append(admin, "admin:set_role", f"更改用户 {username} 的角色为 {change.role}", [],
                          _scope_fields(change.communities, change.grids, change.department))
        return self._one(username)

    def issue_token(self, admin: Principal, username: str, label: str) -> dict[str, Any]:
        require(admin, "manage_users")
        user = self._known(username)
        if not user["active"]:
            raise BadQuery("the user is disabled: enable it before issuing a token")
        token = self.users.issue_token(username, label)
        self.audit.append(admin, "admin:issue_token", f"为用户 {username} 签发机器令牌（{label or '无说明'}）", [], [])
        return {"username": username, "label": label, "token": token,
                "note": "shown once: only its hash is stored; keep it in the department system's secret store"}

    # -- helpers -------------------------------------------------------------------------------------
    def _known(self, username: str) -> dict[str, Any]:
        try:
            return self._one(username)
        except UnknownUser:
            raise NotFound(f"no user {username!r}") from None

    def _one(self, username: str) -> dict[str, Any]:
        for p, active, created in self.users.accounts():
            if p.username == username:
                return {"username": p.username, "role": p.role, "communities": sorted(p.communities),
                        "grids": sorted(p.grids), "department": p.department,
                        "active": active, "created_at": created.isoformat() if created else None}
        raise UnknownUser(username)

    @staticmethod
    def _check_scope(role: str, communities: list[str], department: str | None, grids: list[str]) -> None:
        if role not in ROLES:
            raise BadQuery(f"unknown role; one of {', '.join(ROLES)}")
        if role == "community_worker" and not communities and not grids:
            raise BadQuery("a community worker needs at least one community or grid (their scope)")
        if role == "department_reader" and not department:
            raise BadQuery("a department reader needs a department (its grant)")


def _scope_fields(communities: list[str], grids: list[str], department: str | None) -> list[str]:
    return ([f"community={c}" for c in sorted(communities)] + [f"grid={g}" for g in sorted(grids)]
            + ([f"department={department}"] if department else []))


def admin_router(admin: UserAdmin, principal_dep: Any) -> APIRouter:
    router = APIRouter(prefix="/api/v1/users", tags=["admin"])
    Me = Annotated[Principal, Depends(principal_dep)]

    @router.get("")
    def list_users(principal: Me) -> dict[str, Any]:
        """Every user, role, scope and whether it is active (admins only)."""
        return {"users": admin.accounts(principal)}

    @router.post("", status_code=201)
    def create_user(principal: Me, body: NewUser) -> dict[str, Any]:
        """Create a user with a role and scope; the password is hashed (argon2) and never echoed."""
        return admin.create(principal, body)

    @router.post("/{username}/disable")
    def disable_user(principal: Me, username: str) -> dict[str, Any]:
        """Disable a user: its sessions and tokens stop working at once."""
        return admin.set_active(principal, username, False)

    @router.post("/{username}/enable")
    def enable_user(principal: Me, username: str) -> dict[str, Any]:
        return admin.set_active(principal, username, True)

    @router.post("/{username}/role")
    def change_role(principal: Me, username: str, body: RoleChange) -> dict[str, Any]:
        """Change a user's role and scope (communities, department)."""
        return admin.set_role(principal, username, body)

    @router.post("/{username}/tokens", status_code=201)
    def issue_token(principal: Me, username: str, body: TokenRequest | None = None) -> dict[str, Any]:
        """A new bearer token for a machine account; shown once in this answer, stored only as a hash."""
        return admin.issue_token(principal, username, (body or TokenRequest()).label)

    return router
