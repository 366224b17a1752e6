"""What every request passes before a route sees it, and what every response carries.

:class:`RequestGuard` (pure ASGI, so nothing is read before it decides):

1. **Bounded bodies.** A declared ``Content-Length`` over the path's limit is refused (413) before a
   byte is read; a body without one is counted as it streams and refused when it passes the limit.
2. **Authentication before parsing.** A request with a body (POST, PUT, PATCH, DELETE) to any path but
   the login form and the departments' ingest endpoint (which checks its own tokens before reading)
   must carry a bearer token or a console session: without, 401 (the console: to the login page)
   before the body is read or parsed, so a 64 MiB anonymous POST costs nothing and never gets 422.
3. **CSRF.** Every console POST made with the session cookie must carry the session's token in the
   hidden form field ``csrf`` (:meth:`api.auth.Sessions.csrf_token`), else 403. Templates read it as
   ``request.state.csrf``. The login form has no session yet: it uses a double-submit cookie
   (``oo_login``) checked by ``api.console``. Requests with a bearer token are not checked (a browser
   never adds an ``Authorization`` header to another site's form).
4. **Security headers** on every answer: CSP (no script from anywhere but this origin, none inline,
   no framing), nosniff, no referrer, no caching of pages and API answers (resident data on a shared
   tablet), and HSTS over https. A header a route set itself (the Data Docs' sandbox CSP) is kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request

from api.auth import CSRF_FIELD, SESSION_COOKIE, Authenticator
from api.errors import answer, audit_refusal

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# No inline script and none from elsewhere (the console has none; /docs, which needs a CDN's, is off).
# Inline style is allowed: the console's one stylesheet is in base.html and Jinja escapes all input.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
                           "frame-ancestors 'none'")
HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
HSTS = "max-age=31536000"
MAX_BODY_BYTES = 1024 * 1024  # every body but ingest batches and planner workbooks (their own limits)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Paths that take a body from callers without a principal: the login form, and departments pushing
# batches with their own ingest tokens (checked by the route before it reads the body).
OPEN_PATHS = ("/console/login",)
OPEN_PREFIXES = ("/api/v1/ingest/",)
CSRF_MESSAGE = "表单已失效（缺少或不符的安全令牌），请刷新页面后重新提交"


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes its limit (FastAPI passes it through)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over {_size(limit)}: send less")


class RequestGuard:
    """See the module docstring. ``limits``: (path prefix, bytes) for paths with their own limit."""

    def __init__(self, app: ASGIApp, *, auth: Authenticator, max_body: int,
                 limits: Sequence[tuple[str, int]] = ()) -> None:
        self.app = app
        self.auth = auth
        self.max_body = max_body
        self.limits = tuple(limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_headers(send, https=scope.get("scheme") == "https",
                             no_store=scope["path"].startswith(("/console", "/api/")))
        request = Request(scope)
        path, method = scope["path"], scope["method"]
        state = scope.setdefault("state", {})
        if path.startswith("/console"):
            state["csrf"] = self.auth.csrf_token(request)
        guarded = method in BODY_METHODS and not _open(path)
        if guarded:
            try:
                await self.auth.required(request)  # sets request.state.principal (audited refusals)
            except HTTPException as exc:
                await self._refuse(request, exc.status_code, exc.detail, receive, send,
                                   dict(exc.headers) if exc.headers else None)
                return
        limit = self.limit(path)
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.strip().isdigit() or int(declared) > limit):
            status = 413 if declared.strip().isdigit() else 400
            await self._refuse(request, status, f"request body over {_size(limit)}: send less"
                               if status == 413 else "Content-Length is not a number", receive, send)
            return
        if guarded:
            if (path.startswith("/console") and "authorization" not in request.headers
                    and request.cookies.get(SESSION_COOKIE)):
                body = await _read(receive, limit)
                if body is None:
                    await self._refuse(request, 413, f"request body over {_size(limit)}: send less", receive, send)
                    return
                receive = _replay(body, receive)
                if not await self._csrf_ok(scope, receive, state.get("csrf")):
                    await run_in_threadpool(audit_refusal, request, "console form without its CSRF token")
                    await self._refuse(request, 403, CSRF_MESSAGE, receive, send)
                    return
                receive = _replay(body, receive)
                await self.app(scope, receive, send)
                return
        await self.app(scope, _counted(receive, limit), send)

    def limit(self, path: str) -> int:
        return next((limit for prefix, limit in self.limits if path.startswith(prefix)), self.max_body)

    @staticmethod
    async def _csrf_ok(scope: Scope, receive: Receive, expected: str | None) -> bool:
        import hmac

        if not expected:
            return False
        request = Request(scope, receive)
        try:
            async with request.form() as form:
                given = form.get(CSRF_FIELD)
        except Exception:
            return False
        return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())

    @staticmethod
    async def _refuse(request: Request, status: int, detail: Any, receive: Receive, send: Send,
                      headers: dict[str, str] | None = None) -> None:
        response = answer(request, status, detail, headers)
        if status == 413:
            response.headers["Connection"] = "close"  # the unread body is not drained
        await response(request.scope, receive, send)


def _open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def _with_headers(send: Send, *, https: bool, no_store: bool) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in HEADERS.items():
                if name not in headers:
                    headers[name] = value
            if no_store and "cache-control" not in headers:
                headers["cache-control"] = "no-store"
            if https:
                headers.setdefault("strict-transport-security", HSTS)
        await send(message)

    return sending


async def _read(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or ``None`` once it passes ``limit`` (the rest is not read)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replaying() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: the client's disconnect

    return replaying


def _counted(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def counting() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return counting


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"
