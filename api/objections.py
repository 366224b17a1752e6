"""Data objections' routes (数据异议): raise one on a resident's field, list and read them, a
department's answer, withdraw, and the stewards' sweep (parse → ``services.objections`` → answer).
The console's page lists them per role and takes the same decisions by form."""


from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.objection_responses import ObjectionOut, ObjectionsOut, SweptOut
from core.access import AccessDenied, Principal
from core.objections import ObjectionError
from services.objections import ObjectionService
from services.queries import BadQuery

Reply = Literal["corrected", "confirmed", "not_ours"]
Status = Literal["open", "closed", "all"]


class RaiseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(min_length=2, max_length=100, description='a canonical field, e.g. "phones", "attributes.assistance"')
    reason: str = Field(min_length=2, max_length=500, description="what is wrong, as the resident or the worker says")
    proposed_value: str | None = Field(default=None, max_length=200, description="the value believed right, if known")


class AnswerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: Reply
    note: str = Field(default="", max_length=500, description="required for confirmed: the reason the worker reads")
    suggested_department: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$", max_length=64,
                                             description="with not_ours: whose field it is")


class WithdrawBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=500)


def objections_router(service: ObjectionService, principal_dep: Any) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["objections"])
    Me = Annotated[Principal, Depends(principal_dep)]

    @router.post("/residents/{profile_id}/objections", status_code=201)
    async def raise_objection(principal: Me, profile_id: str, body: RaiseBody) -> ObjectionOut:
        """Say a field of a resident in your scope is wrong: the objection goes to the department whose
        record holds the value, with a due date; the field shows 有异议 until it is settled."""
        found = await run_in_threadpool(service.raise_, principal, profile_id, body.field, body.reason,
                                        body.proposed_value)
        return ObjectionOut.model_validate(service.view(found, principal))

    @router.get("/objections")
    def list_objections(principal: Me, status: Annotated[Status, Query()] = "open",
                        escalated: Annotated[bool | None, Query()] = None,
                        limit: Annotated[int, Query(ge=1, le=500)] = 200) -> ObjectionsOut:
        """The objections you may see: a steward all, a worker those of their communities, a
        department those routed to it (the proposed value masked unless its grant shows the field)."""
        return ObjectionsOut.model_validate({"objections": service.for_principal(
            principal, status=None if status == "all" else status, escalated=escalated, limit=limit)})

    @router.get("/objections/{objection_id}")
    def one(principal: Me, objection_id: str) -> ObjectionOut:
        """One objection with its history (raised, routed, answered, escalated, closed)."""
        return ObjectionOut.model_validate(service.one(principal, objection_id))

    @router.post("/objections/{objection_id}/answer")
    async def answer(principal: Me, objection_id: str, body: AnswerBody) -> ObjectionOut:
        """The department's answer: ``corrected`` (closed once the corrected version arrives),
        ``confirmed`` (the value stands; ``note`` says why), ``not_ours`` (sent on)."""
        found = await run_in_threadpool(service.answer, principal, objection_id, body.answer, body.note,
                                        body.suggested_department)
        return ObjectionOut.model_validate(service.view(found, principal))

    @router.post("/objections/{objection_id}/withdraw")
    async def withdraw(principal: Me, objection_id: str, body: WithdrawBody) -> ObjectionOut:
        """Take back an objection you raised (a steward may withdraw any)."""
        withdrawn = await run_in_threadpool(service.withdraw, principal, objection_id, body.note)
        return ObjectionOut.model_validate(service.view(withdrawn, principal))

    @router.post("/objections/sweep")
    async def sweep(principal: Me) -> SweptOut:
        """Close what the sources corrected, escalate what is overdue (the workers do this on a timer)."""
        if principal.role != "steward":
            raise AccessDenied(f"role {principal.role} may not sweep objections")
        swept = await run_in_threadpool(service.sweep)
        return SweptOut(closed=swept.closed, escalated=swept.escalated)

    return router


REPLY_NAMES = {"corrected": "已在源头更正", "confirmed": "核实无误", "not_ours": "非本部门数据"}
OUTCOME_NAMES = {"corrected_at_source": "源头已更正", "confirmed": "部门核实无误", "withdrawn": "已撤回"}


def objections_console_router(service: ObjectionService, principal_dep: Any) -> APIRouter:
    """The console's 数据异议 page, and the forms that raise, answer and withdraw."""
    from api.console import templates

    templates.env.globals.update(reply_name=lambda r: REPLY_NAMES.get(r or "", r or ""),
                                 outcome_name=lambda o: OUTCOME_NAMES.get(o or "", o or ""))
    router = APIRouter(prefix="/console", include_in_schema=False)
    Me = Annotated[Principal, Depends(principal_dep)]

    def page(request: Request, principal: Principal, status: int = 200, show: str = "open", **ctx: Any) -> HTMLResponse:
        rows = service.for_principal(principal, status=None if show == "all" else show)
        rows.sort(key=lambda o: (not o["escalated"], not o["overdue"], o["raised_at"]))
        return templates.TemplateResponse(request, "objections.html", {"me": principal, "rows": rows, "show": show,
                                                                        **ctx}, status_code=status)

    @router.get("/objections")
    def objections_page(request: Request, principal: Me, show: Literal["open", "closed", "all"] = "open") -> HTMLResponse:
        return page(request, principal, show=show)

    @router.post("/residents/{profile_id}/objections")
    async def raise_form(principal: Me, profile_id: str, field: Annotated[str, Form(max_length=100)],
                         reason: Annotated[str, Form(max_length=500)] = "",
                         proposed_value: Annotated[str, Form(max_length=200)] = "") -> Response:
        if len(reason.strip()) < 2:
            raise BadQuery("请写明异议原因（至少 2 个字）")
        await run_in_threadpool(service.raise_, principal, profile_id, field, reason.strip(),
                                proposed_value.strip() or None)
        return RedirectResponse(f"/console/residents/{profile_id}?objection=raised", status_code=303)

    @router.post("/objections/{objection_id}")
    async def decide(request: Request, principal: Me, objection_id: str, action: Annotated[str, Form(max_length=20)],
                     note: Annotated[str, Form(max_length=500)] = "",
                     suggested_department: Annotated[str, Form(max_length=64)] = "") -> HTMLResponse:
        try:
            if action == "withdraw":
                await run_in_threadpool(service.withdraw, principal, objection_id, note.strip())
            elif action in ("corrected", "confirmed", "not_ours"):
                reply: Reply = action  # type: ignore[assignment]
                await run_in_threadpool(service.answer, principal, objection_id, reply, note.strip(),
                                        suggested_department.strip() or None)
            else:
                raise BadQuery("action must be corrected, confirmed, not_ours or withdraw")
        except ObjectionError as exc:
            return page(request, principal, status=409, error=f"未能处理：{exc}")
        return page(request, principal, done=f"已处理异议 {objection_id}")

    return router
