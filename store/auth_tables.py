"""Users, roles and machine tokens of the query service (argon2 password hashes, hashed tokens)."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, Column, DateTime, Engine, Integer, String, Table, Text, delete, select, update

from core.access import MACHINE_ROLES, ROLES, Principal, Role
from store.tables import metadata

users = Table(
    "users",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False, default=""),
    Column("password_hash", Text, nullable=False),
    Column("role", String(32), nullable=False),
    Column("communities", Text, nullable=False, default="[]"),  # JSON list: a community worker's scope
    # JSON list of grids ("秦虹社区/第2网格"): a grid worker's (网格员) scope, beside or instead of communities
    Column("grids", Text, nullable=False, default="[]", server_default="[]"),
    Column("department", String(64)),  # a department reader's grant
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Moved on at every logout: a console session names the generation it was issued in (api.auth).
    Column("session_generation", Integer, nullable=False, default=0, server_default="0"),
)

# Bearer tokens for machines: only the SHA-256 of a token is kept, so the table leaks none.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(64), nullable=False, index=True),
    Column("label", String(200), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),  # refused from then on (401)
)

# An admin's request that waits for a second person (a steward or an auditor): a new account with a
# reading role (created disabled) or a change of an account toward a reading role (applied on approval).
account_requests = Table(
    "account_requests",
    metadata,
    Column("request_id", String(32), primary_key=True),
    Column("username", String(100), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # "create" | "role"
    Column("role", String(32), nullable=False),
    Column("communities", Text, nullable=False, default="[]"),
    Column("grids", Text, nullable=False, default="[]"),
    Column("department", String(64)),
    Column("requested_by", String(100), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("decision", String(16)),  # None while pending, then "approved" | "refused"
    Column("decided_by", String(100)),
    Column("decided_at", DateTime(timezone=True)),
)

TOKEN_LIFETIME = timedelta(days=90)

_hasher = PasswordHasher()
# Verifying against this keeps an unknown username as slow as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-password")


_CHANGES: dict[str, int] = {}  # database URL → user changes made in this process (UserStore.changes)


class UserExists(ValueError):
    pass


class UnknownUser(LookupError):
    pass


class UnknownRequest(LookupError):
    """No pending account request with that id (never made, or already decided)."""


class RequestPending(ValueError):
    """The account already has a request waiting for approval."""


@dataclass(frozen=True)
class AccountRequest:
    """A new reading account, or a change toward a reading role, waiting for a steward or an auditor."""

    request_id: str
    username: str
    kind: Literal["create", "role"]
    role: Role
    communities: frozenset[str]
    grids: frozenset[str]
    department: str | None
    requested_by: str
    requested_at: datetime
    decision: Literal["approved", "refused"] | None = None
    decided_by: str | None = None


def ensure_tables(engine: Engine) -> None:
    metadata.create_all(engine, tables=[users, api_tokens, account_requests])


class UserStore:
    def __init__(self, engine: Engine, *, token_lifetime: timedelta = TOKEN_LIFETIME) -> None:
        self.engine = engine
        self.token_lifetime = token_lifetime
        self._database = str(engine.url)
        ensure_tables(engine)

    @property
    def changes(self) -> int:
        """Changes of users (role, scope, disabled) made in this process, through any store on this
        database: a reader that keeps principals (api.auth) drops them when it moves."""
        return _CHANGES.get(self._database, 0)

    def add(self, username: str, password: str, role: Role, *, communities: Iterable[str] = (),
            grids: Iterable[str] = (), department: str | None = None, display_name: str = "",
            active: bool = True) -> str:
        """A new user; ``grids`` are written "社区/网格" ("秦虹社区/第2网格"), as the store qualifies them.
        ``active=False``: created disabled (a reading account waiting for approval)."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        grids = sorted(set(grids))
        for grid in grids:
            community, _, name = grid.partition("/")
            if not community.strip() or not name.strip() or "/" in name:
                raise ValueError(f"a grid is written community/grid, e.g. 秦虹社区/第2网格 (got {grid!r})")
        if role == "department_reader" and not department:
            raise ValueError("a department reader needs a department (its grant)")
        with self.engine.begin() as conn:
            if conn.execute(select(users.c.user_id).where(users.c.username == username)).first():
                raise UserExists(f"user {username!r} exists")
            user_id = uuid.uuid4().hex
            conn.execute(users.insert().values(
                user_id=user_id, username=username, display_name=display_name or username,
                password_hash=_hasher.hash(password), role=role, communities=json.dumps(sorted(set(communities)),
                                                                                         ensure_ascii=False),
                grids=json.dumps(grids, ensure_ascii=False), department=department, active=active,
                created_at=datetime.now(UTC)))
        return user_id

    def authenticate(self, username: str, password: str) -> Principal | None:
        """The user, when the password is right; ``None`` otherwise (same cost either way)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.username == username, users.c.active.is_(True))).first()
        try:
            _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if _hasher.check_needs_rehash(row.password_hash):
            with self.engine.begin() as conn:
                conn.execute(update(users).where(users.c.user_id == row.user_id)
                             .values(password_hash=_hasher.hash(password)))
        return _principal(row)

    def principal(self, user_id: str, *, session_generation: int | None = None) -> Principal | None:
        """The active user; with ``session_generation``, only while the user has not logged out since."""
        stmt = select(users).where(users.c.user_id == user_id, users.c.active.is_(True))
        if session_generation is not None:
            stmt = stmt.where(users.c.session_generation == session_generation)
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
        return _principal(row) if row else None

    def session_generation(self, user_id: str) -> int:
        """The generation a new console session of ``user_id`` is issued in."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(users.c.session_generation).where(users.c.user_id == user_id)).scalar() or 0)

    def end_sessions(self, user_id: str) -> None:
        """Logout: every console session of the user issued so far stops working (on every device)."""
        with self.engine.begin() as conn:
            conn.execute(update(users).where(users.c.user_id == user_id)
                         .values(session_generation=users.c.session_generation + 1))
        _CHANGES[self._database] = _CHANGES.get(self._database, 0) + 1

    def issue_token(self, username: str, label: str = "", *, lifetime: timedelta | None = None) -> str:
        """A new bearer token for ``username``, valid for ``lifetime`` (the store's default: 90 days);
        shown once, stored only as its hash."""
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            user_id = conn.execute(select(users.c.user_id).where(users.c.username == username)).scalar()
            if user_id is None:
                raise UnknownUser(f"no user {username!r}")
            token = "oo_" + secrets.token_urlsafe(32)
            conn.execute(api_tokens.insert().values(token_hash=token_hash(token), user_id=user_id, label=label,
                                                    created_at=now, expires_at=now + (lifetime or self.token_lifetime)))
        return token

    def by_token(self, token: str, *, now: datetime | None = None) -> Principal | None:
        """The token's active holder; ``None`` for an unknown, revoked or expired token."""
        with self.engine.connect() as conn:
            row = conn.execute(select(users).join(api_tokens, api_tokens.c.user_id == users.c.user_id)
                               .where(api_tokens.c.token_hash == token_hash(token), users.c.active.is_(True),
                                      api_tokens.c.expires_at > (now or datetime.now(UTC)))).first()
        return _principal(row) if row else None

    def list(self) -> list[Principal]:
        with self.engine.connect() as conn:
            return [_principal(r) for r in conn.execute(select(users).order_by(users.c.role, users.c.username))]

    # -- administration (the admin role: services/user_admin.py, over HTTP api/admin.py) ----------
    def accounts(self) -> tuple[tuple[Principal, bool, datetime], ...]:
        """Every user with whether it is active and when it was created (disabled ones too)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(users).order_by(users.c.username)).all()
        return tuple((_principal(r), bool(r.active), r.created_at) for r in rows)

    def set_active(self, username: str, active: bool) -> None:
        """Disable (or re-enable) a user: its sessions and tokens stop working at once."""
        self._update(username, active=active)

    def set_role(self, username: str, role: Role, *, communities: Iterable[str] = (), grids: Iterable[str] = (),
                 department: str | None = None) -> None:
        """A new role and scope (replacing the old scope whole)."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        if role == "department_reader" and not department:
            raise ValueError("a department reader needs a department (its grant)")
        grids = sorted(set(grids))
        if any(not c.strip() or not n.strip() or "/" in n for c, _, n in (g.partition("/") for g in grids)):
            raise ValueError("a grid is written community/grid, e.g. 秦虹社区/第2网格")
        self._update(username, role=role, communities=json.dumps(sorted(set(communities)), ensure_ascii=False),
                     grids=json.dumps(grids, ensure_ascii=False), department=department)

    def revoke_tokens(self, username: str) -> int:
        """Every bearer token of ``username`` stops working (an account that stops being a machine)."""
        with self.engine.begin() as conn:
            user_id = conn.execute(select(users.c.user_id).where(users.c.username == username)).scalar()
            if user_id is None:
                raise UnknownUser(f"no user {username!r}")
            revoked = conn.execute(delete(api_tokens).where(api_tokens.c.user_id == user_id)).rowcount
        _CHANGES[self._database] = _CHANGES.get(self._database, 0) + 1
        return int(revoked or 0)

    # -- requests waiting for a second person (separation of duties) --------------------------------
    def request(self, username: str, kind: Literal["create", "role"], role: Role, *, requested_by: str,
                communities: Iterable[str] = (), grids: Iterable[str] = (), department: str | None = None) -> str:
        """Record an admin's request for ``username``; refused while another one waits."""
        with self.engine.begin() as conn:
            if conn.execute(select(users.c.user_id).where(users.c.username == username)).first() is None:
                raise UnknownUser(f"no user {username!r}")
            if conn.execute(select(account_requests.c.request_id).where(
                    account_requests.c.username == username, account_requests.c.decision.is_(None))).first():
                raise RequestPending(f"user {username!r} has a request waiting for approval")
            request_id = uuid.uuid4().hex
            conn.execute(account_requests.insert().values(
                request_id=request_id, username=username, kind=kind, role=role,
                communities=json.dumps(sorted(set(communities)), ensure_ascii=False),
                grids=json.dumps(sorted(set(grids)), ensure_ascii=False), department=department,
                requested_by=requested_by, requested_at=datetime.now(UTC)))
        return request_id

    def requests(self, *, pending_only: bool = True) -> tuple[AccountRequest, ...]:
        stmt = select(account_requests).order_by(account_requests.c.requested_at)
        if pending_only:
            stmt = stmt.where(account_requests.c.decision.is_(None))
        with self.engine.connect() as conn:
            return tuple(_request(r) for r in conn.execute(stmt))

    def pending_for(self, username: str) -> AccountRequest | None:
        return next((r for r in self.requests() if r.username == username), None)

    def pending_request(self, request_id: str) -> AccountRequest:
        with self.engine.connect() as conn:
            row = conn.execute(select(account_requests).where(account_requests.c.request_id == request_id,
                                                              account_requests.c.decision.is_(None))).first()
        if row is None:
            raise UnknownRequest(f"no pending request {request_id!r}")
        return _request(row)

    def decide(self, request_id: str, *, approve: bool, decided_by: str) -> AccountRequest:
        """Approve (the account is enabled, or takes the new role and scope; a non-machine role loses
        its tokens) or refuse; one transaction, so a request is decided once."""
        with self.engine.begin() as conn:
            row = conn.execute(select(account_requests).where(account_requests.c.request_id == request_id,
                                                              account_requests.c.decision.is_(None))).first()
            if row is None:
                raise UnknownRequest(f"no pending request {request_id!r}")
            decided = conn.execute(update(account_requests).where(
                account_requests.c.request_id == request_id, account_requests.c.decision.is_(None)).values(
                decision="approved" if approve else "refused", decided_by=decided_by, decided_at=datetime.now(UTC)))
            if decided.rowcount != 1:
                raise UnknownRequest(f"no pending request {request_id!r}")
            if approve and row.kind == "create":
                conn.execute(update(users).where(users.c.username == row.username).values(active=True))
            elif approve:
                conn.execute(update(users).where(users.c.username == row.username).values(
                    role=row.role, communities=row.communities, grids=row.grids, department=row.department))
                if row.role not in MACHINE_ROLES:
                    user_id = select(users.c.user_id).where(users.c.username == row.username).scalar_subquery()
                    conn.execute(delete(api_tokens).where(api_tokens.c.user_id == user_id))
        _CHANGES[self._database] = _CHANGES.get(self._database, 0) + 1
        return self._decided(request_id)

    def _decided(self, request_id: str) -> AccountRequest:
        with self.engine.connect() as conn:
            return _request(conn.execute(select(account_requests).where(
                account_requests.c.request_id == request_id)).one())

    def _update(self, username: str, **values: object) -> None:
        with self.engine.begin() as conn:
            if conn.execute(update(users).where(users.c.username == username).values(**values)).rowcount == 0:
                raise UnknownUser(f"no user {username!r}")
        _CHANGES[self._database] = _CHANGES.get(self._database, 0) + 1


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _principal(row: object) -> Principal:
    return Principal(user_id=row.user_id, username=row.username, role=row.role,  # type: ignore[attr-defined]
                     communities=frozenset(json.loads(row.communities)),  # type: ignore[attr-defined]
                     grids=frozenset(json.loads(row.grids)),  # type: ignore[attr-defined]
                     department=row.department)  # type: ignore[attr-defined]


def _request(row: object) -> AccountRequest:
    r: Any = row
    return AccountRequest(request_id=r.request_id, username=r.username, kind=r.kind, role=r.role,
                          communities=frozenset(json.loads(r.communities)), grids=frozenset(json.loads(r.grids)),
                          department=r.department, requested_by=r.requested_by, requested_at=r.requested_at,
                          decision=r.decision, decided_by=r.decided_by)
