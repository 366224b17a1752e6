"""Who is asking: a bearer token (machines, departments) or a signed session cookie (the console).

A session cookie names the user and the user's session generation: logging out moves the generation
on (``UserStore.end_sessions``), so every session issued before stops working, on every device. Each
session has a CSRF token derived from its cookie (:meth:`Sessions.csrf_token`), which every console
form carries. Bearer tokens expire (``ONCEONLY_TOKEN_DAYS``). Failed logins are counted in the store
per account and address, and per address (:class:`LoginThrottle`).

The principal behind a token or session is looked up in the store and kept for
:data:`PRINCIPAL_SECONDS`: a change made through this process (disable, new role or scope) drops every
kept principal at once; one made elsewhere (``onceonly users``, another worker process) takes effect
within those seconds. Unknown tokens are never kept, so a new token works at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from core.access import Principal
from store.auth_tables import UserStore, token_hash
from store.login_failures import LoginFailures

SESSION_COOKIE = "oo_session"
LOGIN_COOKIE = "oo_login"  # the login form's double-submit CSRF token (there is no session yet)
CSRF_FIELD = "csrf"  # the hidden field of every console form
SESSION_SECONDS = 8 * 3600
LOGIN_FAILURES = 5  # failed logins per account, and per address, within LOGIN_WINDOW_SECONDS ...
LOGIN_WINDOW_SECONDS = 15 * 60  # ... before further logins are refused (429) until the oldest ages out
PRINCIPAL_SECONDS = 2.0  # how long a looked-up principal is reused (a revocation elsewhere waits this long)


class Sessions:
    """``user_id.generation.expiry.signature`` (HMAC-SHA256). The server keeps one number per user,
    the session generation: a cookie of an older generation (issued before a logout) is refused."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def issue(self, user_id: str, now: float | None = None, generation: int = 0) -> str:
        expiry = int((now or time.time()) + SESSION_SECONDS)
        body = f"{user_id}.{generation}.{expiry}"
        return f"{body}.{self._sign(body)}"

    def session(self, cookie: str | None, now: float | None = None) -> tuple[str, int] | None:
        """The user id and session generation of a well-signed, unexpired cookie."""
        if not cookie or cookie.count(".") != 3:
            return None
        user_id, generation, expiry, signature = cookie.split(".")
        if not hmac.compare_digest(signature, self._sign(f"{user_id}.{generation}.{expiry}")):
            return None
        if not generation.isdigit() or not expiry.isdigit() or int(expiry) < (now or time.time()):
            return None
        return user_id, int(generation)

    def user_id(self, cookie: str | None, now: float | None = None) -> str | None:
        found = self.session(cookie, now)
        return found[0] if found else None

    def csrf_token(self, cookie: str) -> str:
        """The session's CSRF token: another site can neither read the (HttpOnly) cookie nor compute it."""
        return self._sign(f"csrf:{cookie}")

    def _sign(self, body: str) -> str:
        digest = hmac.new(self.secret, body.encode("utf-8"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def session_secret(session_key: str) -> bytes:
    """The signing secret of sessions, from ``ONCEONLY_SESSION_KEY`` (its own key, not the ID-hash key)."""
    return hmac.new(session_key.encode("utf-8"), b"onceonly-console-session", hashlib.sha256).digest()


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


class LoginThrottle:
    """Failed logins in a sliding window: after ``limit`` failures within ``window`` seconds, further
    attempts are refused (429) until the oldest of them ages out — counted per account *and* address
    (guessing one account's password from one place), and per address (one place trying many accounts).

    Counted in the store (:class:`store.login_failures.LoginFailures`), so every service process
    shares the counts. The per-account count is per (account, address) pair: someone who only knows an
    account's name throttles their own attempts, not its owner's login from elsewhere. A successful
    login clears its pair's count, not its address's."""

    def __init__(self, failures: LoginFailures, limit: int = LOGIN_FAILURES, window: float = LOGIN_WINDOW_SECONDS,
                 *, clock: Callable[[], float] = time.time) -> None:
        self.failures = failures
        self.limit, self.window, self.clock = limit, window, clock

    @staticmethod
    def _keys(username: str, address: str) -> tuple[str, str]:
        return f"user:{username.strip().lower()}|addr:{address}", f"addr:{address}"

    def wait_seconds(self, username: str, address: str) -> float:
        """0 when a login may be tried now, else how long until it may."""
        now = self.clock()
        waits = [0.0]
        for key in self._keys(username, address):
            recent = self.failures.recent(key, since=now - self.window, limit=self.limit)
            if len(recent) >= self.limit:
                waits.append(max(recent[0] + self.window - now, 0.0))
        return max(waits)

    def failed(self, username: str, address: str) -> None:
        now = self.clock()
        self.failures.add(self._keys(username, address), now, forget_before=now - self.window)

    def succeeded(self, username: str, address: str) -> None:
        self.failures.clear(self._keys(username, address)[0])


class Authenticator:
    def __init__(self, users: UserStore, sessions: Sessions, *, keep_seconds: float = PRINCIPAL_SECONDS,
                 secure_cookies: bool = False, throttle: LoginThrottle | None = None) -> None:
        self.users = users
        self.sessions = sessions
        self.keep_seconds = keep_seconds
        self.secure_cookies = secure_cookies  # Secure even over http: the service sits behind a TLS proxy
        self.throttle = throttle or LoginThrottle(LoginFailures(users.engine))
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

    def cookie_secure(self, request: Request) -> bool:
        """Whether console cookies carry the Secure flag: over https always, else as configured."""
        return self.secure_cookies or request.url.scheme == "https"

    def csrf_token(self, request: Request) -> str | None:
        """The CSRF token of the request's session cookie (``None`` without one)."""
        cookie = request.cookies.get(SESSION_COOKIE)
        return self.sessions.csrf_token(cookie) if cookie and self.sessions.session(cookie) else None

    def _credentials(self, request: Request) -> tuple[tuple[str, str] | None, Callable[[], Principal | None] | None]:
        header = request.headers.get("authorization")
        if header:
            scheme, _, token = header.partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                raise HTTPException(401, "send 'Authorization: Bearer <token>'", headers={"WWW-Authenticate": "Bearer"})
            return ("token", token_hash(token)), lambda: self.users.by_token(token)
        session = self.sessions.session(request.cookies.get(SESSION_COOKIE))
        if not session:
            return None, None
        user_id, generation = session
        return ("user", f"{user_id}.{generation}"), lambda: self.users.principal(user_id, session_generation=generation)

    @staticmethod
    def _checked(key: tuple[str, str], principal: Principal | None) -> Principal | None:
        if principal is None and key[0] == "token":
            raise HTTPException(401, "unknown, revoked or expired token", headers={"WWW-Authenticate": "Bearer"})
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
