"""The collection planner (采集计划, 一表通) behind the query service and in the console.

- ``GET /api/v1/forms``: the form templates of ``config/forms`` and the canonical fields a form
  may ask for (a form can also be built in the console from ticked fields);
- ``POST /api/v1/planner``: per resident of a community, a grid (网格) or a list of profiles, the
  fields already known (value as the profile view shows it, source, observed time) and the gaps,
  with the share of re-collection avoided;
- ``POST /api/v1/planner/xlsx``: the same plan as a pre-filled workbook asking only for the gaps;
- ``POST /api/v1/planner/answers``: the filled workbook back: each resident's answered gaps become
  one community visit record and go through the ingest loop (``services.ingest.IngestService``), so
  they are resolved and published like any other record;
- ``/console/planner``: the same in the zh-CN console.

Community workers plan their own communities; stewards any. Every plan is an audited read. The use
cases, their scope and audit are ``services.planning``; these routes parse, call it and answer.
"""


from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api.errors import audit_refusal
from api.planner_responses import AnswersTakenOut, FormFieldOut, FormOut, FormsOut, PlanOut
from core.access import AccessDenied, Principal
from core.planner import MAX_PROFILE_IDS, CollectionPlan, FormTemplate, PlanTarget, PlanView, require_planner
from services.planning import PLAN_PURPOSE, AnswersNotTaken, NoResident, PlanningService, PlanRefused, may_plan
from services.queries import BadQuery

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# What a returned workbook may hold, checked on the zip before openpyxl parses anything: a plan has at
# most 5,000 residents (services.plan_workbook.read_workbook) and a few dozen fields, so these are generous; a
# workbook of blank rows or a zip bomb passes none of them and costs milliseconds, not seconds.
MAX_SHEET_ROWS = 6_000  # rows written in all sheets (blank ones count: openpyxl would walk them)
MAX_SHEET_CELLS = 400_000
MAX_UNZIPPED_BYTES = 64 * 1024 * 1024  # all members, as declared and as inflated
MAX_ZIP_MEMBERS = 200


class PlanBody(BaseModel):
    """A form (by name, or ad hoc as canonical fields) and whom to plan it for."""

    model_config = ConfigDict(extra="forbid")

    form: str | None = Field(default=None, max_length=64, description="a form template of config/forms")
    fields: list[str] | None = Field(default=None, min_length=1, max_length=64,
                                     description="an ad-hoc form: canonical fields (attributes.<key> for attributes)")
    title: str | None = Field(default=None, max_length=100, description="the ad-hoc form's title")
    community: str | None = Field(default=None, max_length=100, description="plan every resident of this community")
    grid: str | None = Field(default=None, max_length=50,
                             description="only the community's residents in this grid (网格)")
    profile_ids: list[str] | None = Field(default=None, max_length=MAX_PROFILE_IDS,
                                          description="plan these residents instead of a community")
    purpose: str = Field(default=PLAN_PURPOSE, min_length=2, max_length=200, description="logged in the audit log")


def _download(form: FormTemplate, content: bytes) -> Response:
    name = f"plan-{form.name}-{date.today().isoformat()}.xlsx"
    return Response(content, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def _upload(file: UploadFile) -> bytes:
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise HTTPException(413, f"the workbook is over {MAX_UPLOAD_BYTES // (1024 * 1024)} MB: split it")
    if not data:
        raise BadQuery("the upload is empty: choose the filled workbook")
    from starlette.concurrency import run_in_threadpool

    await run_in_threadpool(check_workbook_size, data)
    return data


def check_workbook_size(data: bytes) -> None:
    """Refuse (413) a workbook over :data:`MAX_SHEET_ROWS` rows, :data:`MAX_SHEET_CELLS` cells or
    :data:`MAX_UNZIPPED_BYTES` inflated, by streaming its sheets' XML once and counting the row and
    cell elements, before openpyxl reads it. Not a zip at all: left to the reader, which says so."""
    import io
    import re
    import zipfile

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS or sum(m.file_size for m in members) > MAX_UNZIPPED_BYTES:
            raise HTTPException(413, "the workbook unpacks to more than a plan holds: upload the planner's workbook")
        rows = cells = inflated = 0
        row_tag, cell_tag = re.compile(rb"<(?:\w+:)?row[\s/>]"), re.compile(rb"<(?:\w+:)?c[\s/>]")
        for member in members:
            if not member.filename.startswith("xl/worksheets/"):
                continue
            tail = b""
            try:
                with archive.open(member) as stream:
                    while chunk := stream.read(1024 * 1024):
                        inflated += len(chunk)
                        text = tail + chunk
                        # Count the tags that end in this chunk: one ending in the tail was counted before.
                        rows += sum(1 for m in row_tag.finditer(text) if m.end() > len(tail))
                        cells += sum(1 for m in cell_tag.finditer(text) if m.end() > len(tail))
                        tail = text[-64:]
                        if rows > MAX_SHEET_ROWS or cells > MAX_SHEET_CELLS or inflated > MAX_UNZIPPED_BYTES:
                            raise HTTPException(413, f"the workbook holds more than {MAX_SHEET_ROWS:,} rows or "
                                                     f"{MAX_SHEET_CELLS:,} cells (blank ones count): upload the "
                                                     "planner's workbook, split if need be")
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError):
                return  # damaged or encrypted: the reader refuses it with its own message


def planner_router(service: PlanningService, principal_dep: Any) -> APIRouter:
    """The JSON routes under ``/api/v1``."""
    router = APIRouter(prefix="/api/v1", tags=["planner"])
    Me = Annotated[Principal, Depends(principal_dep)]

    def plan_of(principal: Principal, body: PlanBody) -> tuple[FormTemplate, PlanTarget, CollectionPlan, PlanView]:
        require_planner(principal)
        form = service.form(body.form, body.fields, body.title)
        target = service.target(body.community, body.grid, body.profile_ids)
        collection, view = service.plan(principal, form, target, purpose=body.purpose)
        return form, target, collection, view

    @router.get("/forms")
    def forms(principal: Me) -> FormsOut:
        """The form templates (config/forms/*.yaml) and the fields an ad-hoc form may ask for."""
        require_planner(principal)
        label = service.labeller()
        return FormsOut(forms=[FormOut(name=f.name, title=f.title,
                                       fields=[FormFieldOut(field=n, label=f.label(n)) for n in f.fields])
                               for f in service.forms()],
                        fields=[FormFieldOut(field=n, label=label(n)) for n in service.choosable_fields()])

    @router.post("/planner")
    def plan(principal: Me, body: PlanBody) -> PlanOut:
        """Per resident: known fields (value as the profile view shows it, source, observed time) and
        the missing ones; ``share_known`` is the share of requested fields not asked again."""
        form, target, collection, view = plan_of(principal, body)
        return PlanOut.model_validate(service.answer(form, target, collection, view))

    @router.post("/planner/xlsx", response_class=Response,
                 responses={200: {"content": {XLSX: {}}, "description": "the pre-filled workbook"}})
    def plan_xlsx(principal: Me, body: PlanBody) -> Response:
        """The plan as a pre-filled .xlsx: known values filled (masked as in the profile view), gaps empty."""
        form, _, collection, view = plan_of(principal, body)
        return _download(form, service.xlsx(collection, view))

    @router.post("/planner/answers")
    async def answers(principal: Me, file: Annotated[UploadFile, File(description="the filled plan workbook")]
                      ) -> AnswersTakenOut:
        """The filled workbook back: answered gaps become community visit records through the ingest
        loop; rows it cannot take become dead letters. ``rows == empty + read``,
        ``read == events + unchanged + dead_letters``."""
        require_planner(principal)
        data = await _upload(file)
        from starlette.concurrency import run_in_threadpool

        return AnswersTakenOut.model_validate(await run_in_threadpool(service.take_answers, principal, data))

    return router


def planner_console_router(service: PlanningService, principal_dep: Any) -> APIRouter:
    """``/console/planner``: choose a form or tick fields, choose whom, see the plan, download, upload."""
    from api.console import templates

    router = APIRouter(prefix="/console", include_in_schema=False)
    Me = Annotated[Principal, Depends(principal_dep)]

    def page(request: Request, principal: Principal, status: int = 200, **ctx: Any) -> HTMLResponse:
        require_planner(principal)
        communities = service.communities(principal)
        grids = service.grids(communities, principal) if principal.role == "community_worker" else {}
        chosen = ctx.pop("chosen", {})
        if "plan" in ctx:  # the plan's own column headings (a door check's 现住地址（入户核实）), as its workbook has them
            ctx["heading"] = {f["field"]: f["label"] for f in ctx["plan"]["form"]["fields"]}
        return templates.TemplateResponse(request, "planner.html", {
            "me": principal, "forms": service.forms(), "fields": service.choosable_fields(),
            "label": service.labeller(),
            "communities": communities, "grids": grids, "chosen": chosen,
            "whole": {c for c in communities if may_plan(principal, c, None)}, **ctx}, status_code=status)

    def chosen_of(form: str, fields: list[str] | None, title: str, scope: str, profile_ids: str) -> dict[str, Any]:
        return {"form": form, "fields": fields or [], "title": title, "scope": scope, "profile_ids": profile_ids}

    def plan_from_form(principal: Principal, chosen: dict[str, Any]) -> tuple[FormTemplate, PlanTarget,
                                                                                CollectionPlan, PlanView]:
        form = service.form(chosen["form"] or None, chosen["fields"] or None, chosen["title"])
        community, grid = _scope(chosen["scope"])
        ids = [i for i in chosen["profile_ids"].replace(",", " ").split() if i]
        if community and ids:
            raise BadQuery("选择了社区/网格，又粘贴了居民编号：二者选其一")
        target = service.target(community, grid, ids)
        collection, view = service.plan(principal, form, target)
        return form, target, collection, view

    FormName = Annotated[str, Form(max_length=64)]
    Fields = Annotated[list[str] | None, Form()]
    Title = Annotated[str, Form(max_length=100)]
    Scope = Annotated[str, Form(max_length=200)]
    Ids = Annotated[str, Form(max_length=MAX_PROFILE_IDS * 70)]

    def plan_or_error_page(request: Request, principal: Principal, chosen: Any, failed: str) -> Any:
        """The plan of the console form's choice, or the page again with the reason it could not be made."""
        try:
            return plan_from_form(principal, chosen)
        except (BadQuery, PlanRefused, NoResident, AccessDenied) as exc:
            status = 403 if isinstance(exc, AccessDenied) else 404 if isinstance(exc, NoResident) else 400
            if status != 400:  # a refusal, answered on the page rather than by api.errors: audited the same
                audit_refusal(request, str(exc))
            return page(request, principal, status=status, chosen=chosen, error=f"{failed}：{exc}")

    @router.get("/planner")
    def planner_page(request: Request, principal: Me) -> Response:
        return page(request, principal)

    @router.post("/planner")
    def planner_plan(request: Request, principal: Me, form: FormName = "", fields: Fields = None, title: Title = "",
                     scope: Scope = "", profile_ids: Ids = "") -> Response:
        chosen = chosen_of(form, fields, title, scope, profile_ids)
        planned = plan_or_error_page(request, principal, chosen, "未能生成采集计划")
        if isinstance(planned, Response):
            return planned
        form_t, target, collection, view = planned
        return page(request, principal, chosen=chosen, plan=service.answer(form_t, target, collection, view))

    @router.post("/planner/xlsx")
    def planner_xlsx(request: Request, principal: Me, form: FormName = "", fields: Fields = None, title: Title = "",
                     scope: Scope = "", profile_ids: Ids = "") -> Response:
        chosen = chosen_of(form, fields, title, scope, profile_ids)
        planned = plan_or_error_page(request, principal, chosen, "未能生成采集表")
        if isinstance(planned, Response):
            return planned
        form_t, _, collection, view = planned
        return _download(form_t, service.xlsx(collection, view))

    @router.post("/planner/answers")
    async def planner_answers(request: Request, principal: Me, file: Annotated[UploadFile, File()]) -> Response:
        from starlette.concurrency import run_in_threadpool

        require_planner(principal)
        try:
            data = await _upload(file)
            taken = await run_in_threadpool(service.take_answers, principal, data)
        except (BadQuery, PlanRefused) as exc:
            return await run_in_threadpool(page, request, principal, 400,
                                           error=f"未能读取上传的采集表：{exc}")
        except AnswersNotTaken as exc:
            return await run_in_threadpool(page, request, principal, 503, error=f"采集结果未能提交：{exc}")
        except HTTPException as exc:
            if exc.status_code < 500 and exc.status_code != 413:
                raise
            return await run_in_threadpool(page, request, principal, exc.status_code,
                                           error=f"采集结果未能提交：{exc.detail}")
        done = (f"已提交采集结果：读取 {taken['read']} 行，产生 {taken['events']} 个事件，"
                f"未变化 {taken['unchanged']} 行，死信 {taken['dead_letters']} 行")
        return await run_in_threadpool(page, request, principal, taken=taken, done=done)

    return router


def _scope(scope: str) -> tuple[str | None, str | None]:
    """The console's one scope choice: ``c:<community>`` or ``g:<community>|<grid>`` ("" = by ids)."""
    kind, _, rest = scope.partition(":")
    if kind == "c" and rest:
        return rest, None
    if kind == "g" and "|" in rest:
        community, _, grid = rest.partition("|")
        return community, grid
    if scope:
        raise BadQuery("不认识的社区/网格选项")
    return None, None


def include_planner(app: Any, service: PlanningService, principal_dep: Any) -> None:
    """Mount the planner's JSON routes and console page on the query service."""
    app.include_router(planner_router(service, principal_dep))
    app.include_router(planner_console_router(service, principal_dep))
