"""User administration over HTTP (用户管理, ``/api/v1/users``): the request bodies and the routes. The use
case (create, disable, change role, issue a machine token, and the second person's approval) is
:class:`services.user_admin.UserAdmin`; an admin never echoes a password and a token is shown once.
"""


from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from api.user_responses import AccountDecisionOut, AccountOut, AccountRequestsOut, AccountsOut, IssuedTokenOut
from core.access import Principal, Role
from services.user_admin import UserAdmin

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
