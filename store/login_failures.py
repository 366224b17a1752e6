"""Failed console logins, counted in the store: every query-service process (uvicorn's workers, every
replica behind the proxy) reads and writes the same counts, so N processes do not give N × the tries.

A row is one failure under one throttling key (``api.auth.LoginThrottle``: an account with an address,
or an address); the key is kept as its SHA-256, so a name typed into the login form (an ID number,
a password typed in the wrong box) is not stored. Rows older than the window are deleted as new
failures come in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy import Column, Engine, Float, Index, Integer, String, Table, delete, insert, select

from store.tables import metadata

login_failures = Table(
    "login_failures",
    metadata,
    Column("failure_id", Integer, primary_key=True, autoincrement=True),
    Column("key_hash", String(64), nullable=False),  # SHA-256 of the throttling key
    Column("at", Float, nullable=False),  # seconds since the epoch
)
Index("ix_login_failures_key_at", login_failures.c.key_hash, login_failures.c.at)
Index("ix_login_failures_at", login_failures.c.at)


def _hashed(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class LoginFailures:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def recent(self, key: str, *, since: float, limit: int) -> list[float]:
        """When the newest ``limit`` failures under ``key`` after ``since`` happened, oldest first."""
        with self.engine.connect() as conn:
            found = conn.execute(select(login_failures.c.at).where(
                login_failures.c.key_hash == _hashed(key), login_failures.c.at > since)
                .order_by(login_failures.c.at.desc()).limit(limit)).scalars().all()
        return sorted(found)

    def add(self, keys: Sequence[str], at: float, *, forget_before: float) -> None:
        """One failure under each key; failures before ``forget_before`` no longer count and go."""
        with self.engine.begin() as conn:
            conn.execute(delete(login_failures).where(login_failures.c.at < forget_before))
            conn.execute(insert(login_failures), [{"key_hash": _hashed(k), "at": at} for k in keys])

    def clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(login_failures).where(login_failures.c.key_hash == _hashed(key)))
