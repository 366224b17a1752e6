"""Held pulls for stewards (批量注销确认): list the pulls whose ends the mass-change guard kept back,
and accept or reject each (parse → ``services.pull_holds`` → answer), as JSON and as a console page."""


from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from kafka.errors import KafkaError
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from core.access import Principal
from services.pull_holds import EndSender, HoldDecided, HoldDecision, PullHoldService, UnknownHold
from services.queries import NotFound, Unavailable
from store.pull_holds import HeldRecord, PullHold


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=500, description="why (kept with the decision)")


class HoldOut(BaseModel):
    hold_id: str
    source: str
    run_id: str
    held_at: str
    reasons: list[str]
    live: int
    to_end: int
    status: str
    decided_by: str
    decided_at: str | None
    ended: int
    note: str


class DecisionOut(BaseModel):
    hold: HoldOut
    ended: int


def hold_out(hold: PullHold) -> HoldOut:
    return HoldOut(**hold.as_dict())


def unavailable_when_down(send: EndSender) -> EndSender:
    """The broker or the mapping file missing is a 503 with a message, never a stack trace; the
    hold stays pending (the service reopens it) and a retry sends no end twice."""

    def guarded(source: str, records: Sequence[HeldRecord], note: str) -> int:
        try:
            return send(source, records, note)
        except (LookupError, RuntimeError, OSError, KafkaError) as exc:
            raise Unavailable(f"the held ends were not sent ({type(exc).__name__}): Kafka or the mapping file "
                              f"of {source} is not reachable; the hold stays pending, try again") from None

    return guarded


def _decide(service: PullHoldService, decision: str, principal: Principal, hold_id: str, note: str) -> HoldDecision:
    try:
        result: HoldDecision = getattr(service, decision)(principal, hold_id, note)
    except UnknownHold as exc:
        raise NotFound(str(exc)) from exc
    except HoldDecided as exc:
        raise HTTPException(409, str(exc)) from exc
    return result


def pull_holds_router(service: PullHoldService, principal_dep: Any) -> APIRouter:
    router = APIRouter(prefix="/api/v1/pull-holds", tags=["pipeline"])
    Me = Annotated[Principal, Depends(principal_dep)]

    @router.get("")
    def pending(principal: Me, source: Annotated[str | None, Query(max_length=64)] = None) -> list[HoldOut]:
        """Pulls whose ends wait for a steward: counts and reasons, newest first."""
        return [hold_out(h) for h in service.pending(principal, source=source)]

    @router.post("/{hold_id}/accept")
    async def accept(principal: Me, hold_id: str, body: DecisionBody) -> DecisionOut:
        """Send the held end events now (once), as a connector run of their own; audited."""
        decided = await run_in_threadpool(_decide, service, "accept", principal, hold_id, body.note)
        return DecisionOut(hold=hold_out(decided.hold), ended=decided.ended)

    @router.post("/{hold_id}/reject")
    async def reject(principal: Me, hold_id: str, body: DecisionBody) -> DecisionOut:
        """End nothing: the records stay as they were; audited."""
        decided = await run_in_threadpool(_decide, service, "reject", principal, hold_id, body.note)
        return DecisionOut(hold=hold_out(decided.hold), ended=0)

    return router


def pull_holds_console_router(service: PullHoldService, principal_dep: Any) -> APIRouter:
    """The steward's 待确认注销 page: pending holds with their reasons, an accept and a reject form."""
    from fastapi import Form, Request
    from fastapi.responses import HTMLResponse

    from api.console import templates

    router = APIRouter(prefix="/console", include_in_schema=False)
    Me = Annotated[Principal, Depends(principal_dep)]

    def page(request: Request, principal: Principal, status: int = 200, **ctx: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, "pull_holds.html", {
            "me": principal, "pending": service.pending(principal), "recent": service.recent(principal), **ctx},
            status_code=status)

    @router.get("/pull-holds")
    def holds_page(request: Request, principal: Me) -> HTMLResponse:
        return page(request, principal)

    @router.post("/pull-holds")
    async def decide(request: Request, principal: Me, hold_id: Annotated[str, Form(max_length=32)],
                     decision: Annotated[str, Form(max_length=10)],
                     note: Annotated[str, Form(max_length=500)] = "") -> HTMLResponse:
        if decision not in ("accept", "reject"):
            return page(request, principal, status=400, error="请选择确认注销或驳回")
        try:
            decided = await run_in_threadpool(_decide, service, decision, principal, hold_id, note)
        except NotFound:
            return page(request, principal, status=404, error="没有这条待确认记录")
        except HTTPException:
            return page(request, principal, status=409, error="这条记录已处理过")
        done = (f"已确认注销：{decided.hold.source} 发送注销事件 {decided.ended} 条" if decision == "accept"
                else f"已驳回：{decided.hold.source} 的 {decided.hold.to_end} 条记录保持不变")
        return page(request, principal, done=done)

    return router
