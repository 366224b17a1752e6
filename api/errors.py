"""Every error as a short 4xx/5xx answer: a clear message, never a stack trace, SQL or submitted value."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.access import AccessDenied
from core.objections import ObjectionError
from core.privacy import redact
from core.resolution.errors import ResolutionError
from services.dead_letters import ReprocessRefused, ReprocessStopped
from services.ingest import BatchNotTaken, UnknownSource
from services.objections import UnknownObjection
from services.planning import AnswersNotTaken, NoResident, PlanRefused
from services.queries import BadQuery, NotFound, Unavailable
from services.user_admin import AccountConflict

log = logging.getLogger(__name__)


def answer(request: Request, status: int, detail: Any, headers: dict[str, str] | None = None) -> Response:
    """The refusal as the caller reads it: JSON ``{"detail": …}`` for the API, a short zh-CN page (or
    the login page, for 401) for the console. A text answer passes the redactor here, whatever raised it."""
    if isinstance(detail, str):
        detail = redact(detail)
    if request.url.path.startswith("/console"):
        if status == 401:
            return RedirectResponse("/console/login", status_code=303)
        message = detail if isinstance(detail, str) else str(detail)
        return HTMLResponse(f"<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>错误 {status}</title>"
                            f"<body><h1>出错了（{status}）</h1><p class='error'>{_html(message)}</p>"
                            "<p><a href='/console/'>返回首页</a></p></body></html>", status_code=status,
                            headers=headers)
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Paths that read resident data (or rows of it: reviews, dead letters, quality reports): a refused
# or out-of-scope read there is audited like a read.
RESIDENT_PATHS = ("/api/v1/residents", "/api/v1/households", "/api/v1/reviews", "/api/v1/dead-letters",
                  "/console/residents", "/console/households", "/console/search", "/console/reviews",
                  "/console/dead-letters", "/console/quarantine", "/console/data-docs", "/api/v1/objections",
                  "/console/objections", "/api/v1/planner", "/console/planner")


def _about_residents(path: str) -> bool:
    return path.startswith(RESIDENT_PATHS) or path in ("/console", "/console/")


def audit_refusal(request: Request, why: str) -> None:
    """Append ``refused:<route>`` for an authenticated caller: who, role, what was asked (method and
    path, ID-number-like text masked; ID numbers only ever travel in bodies), never resident data.
    The residents column stays empty: a refused caller did not look at anyone."""
    principal = getattr(request.state, "principal", None)
    audit = getattr(request.app.state, "audit", None)
    if principal is None or audit is None:
        return
    route = request.scope.get("route")
    name = getattr(route, "name", None) or "request"
    asked = redact(f"{request.method} {request.url.path}")[:300]
    try:
        audit.append(principal, f"refused:{name}"[:64], f"{asked} — {redact(why)[:200]}", [], [])
    except Exception as exc:
        log.error("auditing a refused request failed: %s", type(exc).__name__)


def install(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return answer(request, exc.status_code, exc.detail, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        # FastAPI's default echoes the input, which may hold an ID number: name the place only.
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()][:10]
        return answer(request, 422, {"message": "the request is not valid", "problems": problems})

    @app.exception_handler(BadQuery)
    @app.exception_handler(PlanRefused)
    @app.exception_handler(ReprocessRefused)
    async def bad_query(request: Request, exc: ValueError) -> Response:
        return answer(request, 400, redact(str(exc)))

    @app.exception_handler(NotFound)
    @app.exception_handler(UnknownObjection)
    @app.exception_handler(NoResident)
    async def not_found(request: Request, exc: LookupError) -> Response:
        if _about_residents(request.url.path):
            await run_in_threadpool(audit_refusal, request, "not found or outside the caller's scope")
        return answer(request, 404, redact(str(exc)))

    @app.exception_handler(UnknownSource)
    async def not_pushed(request: Request, exc: UnknownSource) -> Response:
        # Not a read of resident data: no refusal to audit (the planner's answers meet it when the
        # community source has no mapping file).
        return answer(request, 404, str(exc))

    @app.exception_handler(Unavailable)
    @app.exception_handler(AnswersNotTaken)
    @app.exception_handler(BatchNotTaken)
    @app.exception_handler(ReprocessStopped)
    async def unavailable(request: Request, exc: RuntimeError) -> Response:
        return answer(request, 503, str(exc))

    @app.exception_handler(AccessDenied)
    async def denied(request: Request, exc: AccessDenied) -> Response:
        await run_in_threadpool(audit_refusal, request, str(exc))
        return answer(request, 403, str(exc))

    @app.exception_handler(ObjectionError)
    async def objection_refused(request: Request, exc: ObjectionError) -> Response:
        return answer(request, 409, redact(str(exc)))

    @app.exception_handler(AccountConflict)
    async def account_conflict(request: Request, exc: AccountConflict) -> Response:
        # The user exists, or a request for it already waits (the admin's API; the console shows it on its page).
        return answer(request, 409, str(exc))

    @app.exception_handler(ResolutionError)
    async def refused(request: Request, exc: ResolutionError) -> Response:
        return answer(request, 409, redact(f"the resolver refused: {exc}"))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
        return answer(request, 500, "internal error; the failure was logged without resident data")
