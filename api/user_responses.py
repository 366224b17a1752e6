"""The shapes of user administration (``/api/v1/users``): accounts, the requests waiting for a second
person, and a machine token shown once."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.responses import ResponseModel, Timestamp
from core.access import Role


class AccountRequestOut(ResponseModel):
    """A new reading account, or a change toward a reading role, waiting for a steward or an auditor."""

    request_id: str
    username: str
    kind: Literal["create", "role"]
    role: Role
    communities: list[str]
    grids: list[str]
    department: str | None
    requested_by: str
    requested_at: Timestamp
    decision: Literal["approved", "refused"] | None
    decided_by: str | None


class AccountOut(ResponseModel):
    username: str
    role: Role
    communities: list[str]
    grids: list[str]
    department: str | None
    active: bool
    created_at: Timestamp | None
    awaiting_approval: AccountRequestOut | None


class AccountsOut(ResponseModel):
    users: list[AccountOut]


class AccountRequestsOut(ResponseModel):
    requests: list[AccountRequestOut]


class AccountDecisionOut(AccountRequestOut):
    """The request as decided, and the account as it now is."""

    account: AccountOut


class IssuedTokenOut(ResponseModel):
    username: str
    label: str
    token: str = Field(description="shown once: only its hash is stored")
    note: str
