"""The query service keeps a looked-up principal for a moment, and still honours a revocation:
at once when it is made through the same process, within ``keep_seconds`` when made elsewhere."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from fastapi import HTTPException
from sqlalchemy import update
from starlette.requests import Request

from api.auth import Authenticator, Sessions
from core.access import Principal
from store.auth_tables import UserStore, users
from store.engine import make_engine


def _request(token: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "query_string": b"",
                    "headers": [(b"authorization", f"Bearer {token}".encode())]})


def _principal(auth: Authenticator, request: Request) -> Principal:
    return asyncio.run(auth.required(request))


def test_a_user_disabled_elsewhere_loses_access_within_the_keep_time(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'users.db'}")
    service = UserStore(engine)
    service.add("reader", "a-long-password", "steward")
    token = service.issue_token("reader")
    auth = Authenticator(service, Sessions(b"secret"), keep_seconds=0.5)
    assert _principal(auth, _request(token)).role == "steward"
    with engine.begin() as conn:  # another process (another worker, `onceonly users`) disables the user
        conn.execute(update(users).where(users.c.username == "reader").values(active=False))
    assert _principal(auth, _request(token)).role == "steward"  # kept for a moment
    time.sleep(0.6)
    with pytest.raises(HTTPException) as refused:
        _principal(auth, _request(token))
    assert refused.value.status_code == 401
    engine.dispose()


def test_a_change_through_the_same_process_takes_effect_at_once(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'users.db'}")
    users = UserStore(engine)
    users.add("reader", "a-long-password", "steward")
    token = users.issue_token("reader")
    auth = Authenticator(users, Sessions(b"secret"), keep_seconds=60)
    assert _principal(auth, _request(token)).role == "steward"
    users.set_role("reader", "auditor")
    assert _principal(auth, _request(token)).role == "auditor"
    users.set_active("reader", False)
    with pytest.raises(HTTPException):
        _principal(auth, _request(token))
    fresh = users.issue_token("reader")  # unknown tokens are never kept: a new one is looked up
    users.set_active("reader", True)
    assert _principal(auth, _request(fresh)).username == "reader"
    engine.dispose()
