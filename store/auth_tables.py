"""Users, roles and machine tokens of the query service (argon2 password hashes, hashed tokens)."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, Column, DateTime, Engine, String, Table, Text, select, update

from core.access import ROLES, Principal, Role
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
    Column("department", String(64)),  # a department reader's grant
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Bearer tokens for machines: only the SHA-256 of a token is kept, so the table leaks none.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(64), nullable=False, index=True),
    Column("label", String(200), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

_hasher = PasswordHasher()
# Verifying against this keeps an unknown username as slow as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-password")


class UserExists(ValueError):
    pass


class UnknownUser(LookupError):
    pass


def ensure_tables(engine: Engine) -> None:
    metadata.create_all(engine, tables=[users, api_tokens])


class UserStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        ensure_tables(engine)

    def add(self, username: str, password: str, role: Role, *, communities: Iterable[str] = (),
            department: str | None = None, display_name: str = "") -> str:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
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
                department=department, active=True, created_at=datetime.now(timezone.utc)))
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

    def principal(self, user_id: str) -> Principal | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.user_id == user_id, users.c.active.is_(True))).first()
        return _principal(row) if row else None

    def issue_token(self, username: str, label: str = "") -> str:
        """A new bearer token for ``username``; shown once, stored only as its hash."""
        with self.engine.begin() as conn:
            user_id = conn.execute(select(users.c.user_id).where(users.c.username == username)).scalar()
            if user_id is None:
                raise UnknownUser(f"no user {username!r}")
            token = "oo_" + secrets.token_urlsafe(32)
            conn.execute(api_tokens.insert().values(token_hash=token_hash(token), user_id=user_id, label=label,
                                                    created_at=datetime.now(timezone.utc)))
        return token

    def by_token(self, token: str) -> Principal | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).join(api_tokens, api_tokens.c.user_id == users.c.user_id)
                               .where(api_tokens.c.token_hash == token_hash(token), users.c.active.is_(True))).first()
        return _principal(row) if row else None

    def list(self) -> list[Principal]:
        with self.engine.connect() as conn:
            return [_principal(r) for r in conn.execute(select(users).order_by(users.c.role, users.c.username))]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _principal(row: object) -> Principal:
    return Principal(user_id=row.user_id, username=row.username, role=row.role,  # type: ignore[attr-defined]
                     communities=frozenset(json.loads(row.communities)),  # type: ignore[attr-defined]
                     department=row.department)  # type: ignore[attr-defined]
