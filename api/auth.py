"""Who is asking: a bearer token (machines, departments) or a signed session cookie (the console)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from fastapi import HTTPException, Request

from core.access import Principal
from store.auth_tables import UserStore

SESSION_COOKIE = "oo_session"
SESSION_SECONDS = 8 * 3600


class Sessions:
    """``user_id.expiry.signature`` (HMAC-SHA256): the server keeps no session state."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def issue(self, user_id: str, now: float | None = None) -> str:
        expiry = int((now or time.time()) + SESSION_SECONDS)
        body = f"{user_id}.{expiry}"
        return f"{body}.{self._sign(body)}"

    def user_id(self, cookie: str | None, now: float | None = None) -> str | None:
        if not cookie or cookie.count(".") != 2:
            return None
        user_id, expiry, signature = cookie.split(".")
        if not hmac.compare_digest(signature, self._sign(f"{user_id}.{expiry}")):
            return None
        if not expiry.isdigit() or int(expiry) < (now or time.time()):
            return None
        return user_id

    def _sign(self, body: str) -> str:
        digest = hmac.new(self.secret, body.encode("utf-8"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def session_secret(id_hash_key: str) -> bytes:
    """Derived from the deployment's secret key, so one secret configures both."""
    return hmac.new(id_hash_key.encode("utf-8"), b"onceonly-console-session", hashlib.sha256).digest()


class Authenticator:
    def __init__(self, users: UserStore, sessions: Sessions) -> None:
        self.users = users
        self.sessions = sessions

    def optional(self, request: Request) -> Principal | None:
        header = request.headers.get("authorization")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise HTTPException(401, "send 'Authorization: Bearer <token>'", headers={"WWW-Authenticate": "Bearer"})
            principal = self.users.by_token(token.strip())
            if principal is None:
                raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
            return principal
        user_id = self.sessions.user_id(request.cookies.get(SESSION_COOKIE))
        return self.users.principal(user_id) if user_id else None

    def required(self, request: Request) -> Principal:
        principal = self.optional(request)
        if principal is None:
            raise HTTPException(401, "log in (console) or send a bearer token", headers={"WWW-Authenticate": "Bearer"})
        return principal
