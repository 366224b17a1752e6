"""The collection planner (采集计划, 一表通) behind the query service and in the console.

- ``GET /api/v1/forms``: the form templates of ``config/forms`` and the canonical fields a form
  may ask for (a form can also be built in the console from ticked fields);
- ``POST /api/v1/planner``: per resident of a community, a grid (网格) or a list of profiles, the
  fields already known (value as the profile view shows it, source, observed time) and the gaps,
  with the share of re-collection avoided;
- ``POST /api/v1/planner/xlsx``: the same plan as a pre-filled workbook asking only for the gaps;
- ``POST /api/v1/planner/answers``: the filled workbook back: each resident's answered gaps become
  one community visit record and go through the ingest loop (``api.ingest.IngestService``), so
  they are resolved and published like any other record;
- ``/console/planner``: the same in the zh-CN console.

Community workers plan their own communities; stewards any. Every plan is an audited read.
"""


import logging
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from kafka.errors import KafkaError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from api.errors import audit_refusal
from api.ingest import IngestService
from api.queries import BadQuery, NotFound, ResidentQueries
from connectors.kafka_sink import SinkError
from connectors.rows import CursorLookup, NativeRow, Page, UnreadableRow
from core.access import AccessDenied, Principal, may_see_community, scope_of
from core.planner import (
    CANONICAL_FIELDS,
    MAX_PROFILE_IDS,
    CollectionPlan,
    FormTemplate,
    InvalidTarget,
    PlanTarget,
    PlanView,
    UnknownField,
    as_cell,
    collected_answers,
    plan_collection,
    plan_view,
    require_planner,
    visit_row,
)
from core.privacy import redact_purpose
from core.profile import Profile
from flows.plan import UnknownForm, UnreadableWorkbook, load_form, load_forms, locate, read_workbook, workbook_bytes
from onceonly import bootstrap
from store.audit import AuditLog
from store.profile_tables import profiles as profiles_table
from store.scope_filter import scope_filter

log = logging.getLogger(__name__)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# What a returned workbook may hold, checked on the zip before openpyxl parses anything: a plan has at
# most 5,000 residents (flows.plan.read_workbook) and a few dozen fields, so these are generous; a
# workbook of blank rows or a zip bomb passes none of them and costs milliseconds, not seconds.
MAX_SHEET_ROWS = 6_000  # rows written in all sheets (blank ones count: openpyxl would walk them)
MAX_SHEET_CELLS = 400_000
MAX_UNZIPPED_BYTES = 64 * 1024 * 1024  # all members, as declared and as inflated
MAX_ZIP_MEMBERS = 200
ANSWER_SOURCE = "community"  # what workers collect comes back through the community source (社区 入户走访)
PLAN_PURPOSE = "入户采集计划"
# Attributes a console-built form may tick besides the canonical fields (those of the shipped forms join them).
ATTRIBUTES = ("attributes.living_alone", "attributes.person_category", "attributes.assistance",
              "attributes.disability", "attributes.grid")


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


class PlannerService:
    """Forms, targets and scope; the plan as the principal may see it; answers into the ingest loop."""

    def __init__(self, engine: Engine, queries: ResidentQueries, audit: AuditLog, ingest: IngestService | None) -> None:
        self.engine, self.queries, self.audit, self.ingest = engine, queries, audit, ingest

    # -- forms ----------------------------------------------------------------------------------
    def forms(self) -> list[FormTemplate]:
        return load_forms()

    def choosable_fields(self) -> list[str]:
        extra = [f for form in self.forms() for f in form.fields if f.startswith("attributes.")]
        return list(dict.fromkeys([*CANONICAL_FIELDS, *extra, *ATTRIBUTES]))

    def labeller(self) -> Callable[[str], str]:
        """Field → heading: as a shipped form names it, else as the console does (姓名, 现住地址 …)."""
        from api.console import label

        named = {f: text for form in reversed(self.forms()) for f, text in form.labels.items()}
        return lambda field: named.get(field) or label(field)

    def form(self, name: str | None, fields: Sequence[str] | None, title: str | None) -> FormTemplate:
        if name and fields:
            raise BadQuery("give either a form name or a list of fields, not both")
        if name:
            try:
                return load_form(name)
            except UnknownForm as exc:
                raise BadQuery(str(exc)) from None
        if not fields:
            raise BadQuery("give a form (one of: " + ", ".join(f.name for f in self.forms()) +
                           ") or the fields of an ad-hoc form")
        try:
            chosen, label = tuple(f.strip() for f in fields), self.labeller()
            return FormTemplate(name="adhoc", title=(title or "").strip() or "自定义采集表", fields=chosen,
                                labels={f: label(f) for f in chosen})
        except UnknownField as exc:
            raise BadQuery(str(exc)) from None
        except ValueError as exc:
            raise BadQuery(str(exc)) from None

    def target(self, community: str | None, grid: str | None, profile_ids: Sequence[str] | None) -> PlanTarget:
        try:
            return PlanTarget(community=community, grid=grid, profile_ids=tuple(profile_ids or ()))
        except InvalidTarget as exc:
            raise BadQuery(str(exc)) from None

    # -- scope ----------------------------------------------------------------------------------
    def communities(self, principal: Principal) -> list[str]:
        """The communities the principal may plan: a worker's own, every known one for a steward."""
        require_planner(principal)
        if principal.role == "community_worker":
            return sorted(principal.communities | {g.partition("/")[0] for g in principal.grids})
        with self.engine.connect() as conn:
            return sorted(c for (c,) in conn.execute(select(profiles_table.c.community).distinct()
                                                     .where(profiles_table.c.community.is_not(None))))

    def grids(self, communities: Collection[str], principal: Principal) -> dict[str, list[str]]:
        """The grids named by each community's residents (read from the stored documents) that the
        principal may plan: all of a community in its scope, else only its own grids (网格员)."""
        found: dict[str, set[str]] = {c: set() for c in communities}
        with self.engine.connect() as conn:
            for row in conn.execute(select(profiles_table.c.community, profiles_table.c.doc).where(
                    profiles_table.c.community.in_(sorted(communities)), profiles_table.c.status == "active")):
                grid = (((row.doc or {}).get("golden") or {}).get("attributes") or {}).get("grid")
                if isinstance(grid, Mapping) and grid.get("value"):
                    found[row.community].add(str(grid["value"]))
        for qualified in principal.grids:  # a grid worker's own grids, as its scope names them
            community, _, grid = qualified.partition("/")
            if community in found:
                found[community].add(grid)
        return {c: sorted((g for g in grids if _may_plan(principal, c, f"{c}/{g}")), key=_natural)
                for c, grids in found.items()}

    def _check_community(self, principal: Principal, community: str, grid: str | None) -> None:
        if not _may_plan(principal, community, f"{community}/{grid}" if grid else None):
            where = f"{community} {grid}" if grid else community
            mine = ", ".join(sorted(principal.communities | principal.grids)) or "none"
            raise AccessDenied(f"{where} is outside your communities: you may plan {mine}")

    def residents(self, principal: Principal, target: PlanTarget) -> list[Profile]:
        require_planner(principal)
        if target.community is not None:
            self._check_community(principal, target.community, target.grid)
            # Where the store places each resident (community and qualified grid, core.places): the
            # same rows a profile read is scoped by.
            where = profiles_table.c.community == target.community
            if target.grid:
                where = profiles_table.c.grid == f"{target.community}/{target.grid}"
            with self.engine.connect() as conn:
                rows = conn.execute(select(profiles_table.c.doc, profiles_table.c.community, profiles_table.c.grid).where(
                    where, profiles_table.c.status == "active", scope_filter(scope_of(principal)))).all()
            # A grid worker (网格员) planning a community sees only its own grids' residents (the SQL
            # scope, asked again of each row as a profile read asks it).
            return [Profile.model_validate(r.doc) for r in rows if _may_plan(principal, r.community, r.grid)]
        located, unknown = locate(self.engine, target.profile_ids)
        outside = [f.asked for f in located
                   if not _may_plan(principal, f.community, f.grid)]
        if unknown or outside:
            # The same answer for unknown and out-of-scope ids: a worker learns nothing of other communities.
            missing = unknown + outside
            more = f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""
            raise NotFound(f"no resident profile {', '.join(repr(m) for m in missing[:5])} in your communities{more}")
        return list({f.profile.profile_id: f.profile for f in located}.values())

    # -- plans ----------------------------------------------------------------------------------
    def plan(self, principal: Principal, form: FormTemplate, target: PlanTarget, *,
             purpose: str = PLAN_PURPOSE, action: str = "plan_collection") -> tuple[CollectionPlan, PlanView]:
        people = self.residents(principal, target)
        objections = self.queries.objections
        disputed = ({pid: [o.field for o in found] for pid, found in
                     objections.open_on([p.profile_id for p in people]).items()} if objections is not None else {})
        collection = plan_collection(people, form, disputed=disputed)
        view = plan_view(collection, {p.profile_id: p for p in people}, principal, grants=self.queries.grants)
        self.audit.append(principal, action, redact_purpose(purpose), [r.profile_id for r in collection.residents],
                          view.disclosed)
        return collection, view

    def answer(self, form: FormTemplate, target: PlanTarget, collection: CollectionPlan,
               view: PlanView) -> dict[str, Any]:
        return {
            "form": {"name": form.name, "title": form.title,
                     "fields": [{"field": f, "label": form.label(f)} for f in form.fields]},
            "target": {"kind": target.kind, "community": target.community, "grid": target.grid,
                       "profile_ids": list(target.profile_ids)},
            "residents": view.residents,
            "requested": collection.requested,
            "known": collection.known,
            "missing": collection.requested - collection.known,
            "share_known": round(collection.share_known, 4),
            "min_age": form.min_age,
            "left_out": dict(collection.left_out),  # deceased / under the form's minimum age
        }

    def xlsx(self, collection: CollectionPlan, view: PlanView) -> bytes:
        cells = {r["profile_id"]: {k["field"]: as_cell(k["value"]) for k in r["known"]} for r in view.residents}
        return workbook_bytes(collection, cells)

    # -- the way back ---------------------------------------------------------------------------
    def take_answers(self, principal: Principal, data: bytes, *, purpose: str = "入户采集回流") -> dict[str, Any]:
        """Turn a returned workbook's answered gaps into community visit records and run them through
        the ingest loop: ``rows == empty + read`` and ``read == events + unchanged + dead_letters``."""
        require_planner(principal)
        if self.ingest is None:
            raise HTTPException(503, "answers go in through the ingest loop, which needs the hub's Kafka settings")
        try:
            filled = read_workbook(data)
        except UnreadableWorkbook as exc:
            raise BadQuery(f"the upload is not a plan workbook: {exc}") from None
        try:
            form = FormTemplate(name=filled.form_name, title=filled.form_name, fields=filled.fields)
        except ValueError as exc:
            raise BadQuery(f"the workbook's row 2 does not name a form: {exc}") from None
        spec = self.ingest.spec(ANSWER_SOURCE)
        mapping = spec.field_mapping()
        if mapping is None or len(spec.record_id) != 1:
            raise HTTPException(503, f"the {ANSWER_SOURCE} mapping cannot take answers (no field mapping or record id)")
        batch_id = f"planner-{date.today().isoformat()}-{uuid.uuid4().hex[:8]}"
        located, _ = locate(self.engine, [pid for _, pid, _ in filled.rows if pid])
        by_id = {f.asked: f for f in located}
        rows: list[NativeRow | UnreadableRow] = []
        empty, ignored, not_carried, sent, answered = 0, 0, Counter[str](), [], set[str]()
        for number, profile_id, cells in filled.rows:
            where = f"{batch_id}#row{number}"
            if profile_id is None:
                rows.append(UnreadableRow(where, "no profile_id in column A: the row names no resident"))
                continue
            found = by_id.get(profile_id)
            if found is None or not _may_plan(principal, found.community, found.grid):
                rows.append(UnreadableRow(where, f"no resident profile {profile_id!r} in your communities"))
                continue
            single = plan_collection([found.profile], form)
            if not single.residents:
                rows.append(UnreadableRow(where, "the resident is not one this form is for (deceased, or younger "
                                                 "than its minimum age)"))
                continue
            resident = single.residents[0]
            view = plan_view(single, {found.profile.profile_id: found.profile}, principal, grants=self.queries.grants)
            prefilled = {k["field"]: as_cell(k["value"]) for k in view.residents[0]["known"]}
            collected = collected_answers(resident, cells, prefilled)
            ignored += len(collected.ignored)
            if not collected.answers:
                empty += 1
                continue
            row, uncarried = visit_row(collected, found.profile, form, mapping, spec.record_id[0])
            not_carried.update(uncarried)
            if len(uncarried) == len(collected.answers):
                rows.append(UnreadableRow(where, f"the {ANSWER_SOURCE} source does not carry "
                                                 f"{', '.join(uncarried)}: nothing to take in"))
                continue
            rows.append(NativeRow(where, row))
            sent.append(found.profile.profile_id)
            answered.update(f for f in collected.answers if f not in uncarried)
        counts = None
        try:
            counts = self.ingest.run(spec, batch_id, [], reader=_AnswerRows(rows))
        except (bootstrap.NoBroker, KafkaError, SinkError, SQLAlchemyError, OSError) as exc:
            log.warning("planner answers: batch %s not taken in: %s", batch_id, type(exc).__name__)
            raise HTTPException(503, f"the answers were not taken in ({type(exc).__name__}); "
                                     "upload them again") from exc
        finally:
            self.audit.append(principal, "collect_answers" if counts else "collect_answers_failed", redact_purpose(purpose), sent,
                              sorted(answered))
        return {"source": ANSWER_SOURCE, "batch_id": batch_id, "rows": len(filled.rows), "empty": empty,
                "read": counts.read, "events": counts.events, "unchanged": counts.unchanged,
                "dead_letters": counts.dead_letters, "residents": sent,
                "changed_known_cells": ignored, "not_carried": dict(not_carried)}


class _AnswerRows:
    """The answers as one page for the shared connector loop (rows it could not read included)."""

    def __init__(self, rows: Sequence[NativeRow | UnreadableRow]) -> None:
        self.rows = rows

    def pages(self, cursors: CursorLookup) -> Iterator[Page]:
        yield Page(rows=list(self.rows))

    def scanned_scopes(self) -> Sequence[str] | None:
        return []  # answers say nothing about residents they do not mention: nothing is ended

    def unchanged_scopes(self) -> Sequence[str]:
        return []


def _may_plan(principal: Principal, community: str | None, grid: str | None) -> bool:
    """The principal's scope (``core.access``): its communities, or its grids ("社区/网格")."""
    return may_see_community(principal, community, grid)


def _natural(text: str) -> tuple[object, ...]:
    import re

    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


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


def planner_router(service: PlannerService, principal_dep: Any) -> APIRouter:
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
    def forms(principal: Me) -> dict[str, Any]:
        """The form templates (config/forms/*.yaml) and the fields an ad-hoc form may ask for."""
        require_planner(principal)
        label = service.labeller()
        return {"forms": [{"name": f.name, "title": f.title,
                           "fields": [{"field": n, "label": f.label(n)} for n in f.fields]} for f in service.forms()],
                "fields": [{"field": n, "label": label(n)} for n in service.choosable_fields()]}

    @router.post("/planner")
    def plan(principal: Me, body: PlanBody) -> dict[str, Any]:
        """Per resident: known fields (value as the profile view shows it, source, observed time) and
        the missing ones; ``share_known`` is the share of requested fields not asked again."""
        form, target, collection, view = plan_of(principal, body)
        return service.answer(form, target, collection, view)

    @router.post("/planner/xlsx", response_class=Response,
                 responses={200: {"content": {XLSX: {}}, "description": "the pre-filled workbook"}})
    def plan_xlsx(principal: Me, body: PlanBody) -> Response:
        """The plan as a pre-filled .xlsx: known values filled (masked as in the profile view), gaps empty."""
        form, _, collection, view = plan_of(principal, body)
        return _download(form, service.xlsx(collection, view))

    @router.post("/planner/answers")
    async def answers(principal: Me, file: Annotated[UploadFile, File(description="the filled plan workbook")]
                      ) -> dict[str, Any]:
        """The filled workbook back: answered gaps become community visit records through the ingest
        loop; rows it cannot take become dead letters. ``rows == empty + read``,
        ``read == events + unchanged + dead_letters``."""
        require_planner(principal)
        data = await _upload(file)
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(service.take_answers, principal, data)

    return router


def planner_console_router(service: PlannerService, principal_dep: Any) -> APIRouter:
    """``/console/planner``: choose a form or tick fields, choose whom, see the plan, download, upload."""
    from api.console import templates

    router = APIRouter(prefix="/console", include_in_schema=False)
    Me = Annotated[Principal, Depends(principal_dep)]

    def page(request: Request, principal: Principal, status: int = 200, **ctx: Any) -> HTMLResponse:
        require_planner(principal)
        communities = service.communities(principal)
        grids = service.grids(communities, principal) if principal.role == "community_worker" else {}
        chosen = ctx.pop("chosen", {})
        return templates.TemplateResponse(request, "planner.html", {
            "me": principal, "forms": service.forms(), "fields": service.choosable_fields(),
            "label": service.labeller(),
            "communities": communities, "grids": grids, "chosen": chosen,
            "whole": {c for c in communities if _may_plan(principal, c, None)}, **ctx}, status_code=status)

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
        except (BadQuery, NotFound, AccessDenied) as exc:
            status = 403 if isinstance(exc, AccessDenied) else 404 if isinstance(exc, NotFound) else 400
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
        except BadQuery as exc:
            return await run_in_threadpool(page, request, principal, 400,
                                           error=f"未能读取上传的采集表：{exc}")
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


def include_planner(app: Any, service: PlannerService, principal_dep: Any) -> None:
    """Mount the planner's JSON routes and console page on the query service."""
    app.include_router(planner_router(service, principal_dep))
    app.include_router(planner_console_router(service, principal_dep))
