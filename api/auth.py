"""Who is asking: a bearer token (machines, departments) or a signed session cookie (the console).

The principal behind a token or session is looked up in the store and kept for
:data:`PRINCIPAL_SECONDS`: a change made through this process (disable, new role or scope) drops every
kept principal at once; one made elsewhere (``onceonly users``, another worker process) takes effect
within those seconds. Unknown tokens are never kept, so a new token works at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Callable

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from core.access import Principal
from store.auth_tables import UserStore, token_hash

SESSION_COOKIE = "oo_session"
SESSION_SECONDS = 8 * 3600
PRINCIPAL_SECONDS = 2.0  # how long a looked-up principal is reused (a revocation elsewhere waits this long)


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
    def __init__(self, users: UserStore, sessions: Sessions, *, keep_seconds: float = PRINCIPAL_SECONDS) -> None:
        self.users = users
        self.sessions = sessions
        self.keep_seconds = keep_seconds
        # (kind, token hash or user id) → (store changes seen, looked up at, principal)
        self._kept: dict[tuple[str, str], tuple[int, float, Principal]] = {}
        self._lock = threading.Lock()

    def optional(self, request: Request) -> Principal | None:
        """Who sent ``request`` (``None``: no credentials, or a session of a disabled user); an unknown
        or revoked token is refused (401)."""
        key, look_up = self._credentials(request)
        if key is None or look_up is None:
            return None
        return self._checked(key, self._looked_up(key, look_up))

    async def required(self, request: Request) -> Principal:
        """The dependency of every route that needs a principal: a kept one is answered on the event
        loop; a lookup in the store runs in a worker thread."""
        key, look_up = self._credentials(request)
        principal = None
        if key is not None and look_up is not None:
            principal = self._kept_now(key)
            if principal is None:
                principal = self._checked(key, await run_in_threadpool(self._looked_up, key, look_up))
        if principal is None:
            raise HTTPException(401, "log in (console) or send a bearer token", headers={"WWW-Authenticate": "Bearer"})
        request.state.principal = principal  # read by api.errors to audit a refused read
        return principal

    def _credentials(self, request: Request) -> tuple[tuple[str, str] | None, Callable[[], Principal | None] | None]:
        header = request.headers.get("authorization")
        if header:
            scheme, _, token = header.partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                raise HTTPException(401, "send 'Authorization: Bearer <token>'", headers={"WWW-Authenticate": "Bearer"})
            return ("token", token_hash(token)), lambda: self.users.by_token(token)
        user_id = self.sessions.user_id(request.cookies.get(SESSION_COOKIE))
        if not user_id:
            return None, None
        return ("user", user_id), lambda: self.users.principal(user_id)

    @staticmethod
    def _checked(key: tuple[str, str], principal: Principal | None) -> Principal | None:
        if principal is None and key[0] == "token":
            raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
        return principal

    def _kept_now(self, key: tuple[str, str]) -> Principal | None:
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and kept[0] == self.users.changes and time.monotonic() - kept[1] < self.keep_seconds:
            return kept[2]
        return None

    def _looked_up(self, key: tuple[str, str], look_up: Callable[[], Principal | None]) -> Principal | None:
        changes = self.users.changes  # read first: a change during the lookup makes the entry stale
        kept = self._kept_now(key)
        if kept is not None:
            return kept
        principal = look_up()
        now = time.monotonic()
        with self._lock:
            if principal is None:
                self._kept.pop(key, None)
            else:
                if len(self._kept) > 10_000:  # expired entries of tokens no longer used
                    self._kept = {k: v for k, v in self._kept.items() if now - v[1] < self.keep_seconds}
                self._kept[key] = (changes, now, principal)
        return principal
