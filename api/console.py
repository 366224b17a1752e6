"""The web console (工作台), server-rendered in zh-CN: log in, search, profile, household, history;
for stewards the review queue, dead letters and pipeline health; for auditors the audit log.

Pages call the same queries as the JSON API, so masking, scope and audit are identical. Unmasking
and decisions are POST forms (nothing sensitive in a URL); the session cookie is HttpOnly and
SameSite=Strict, so another site cannot post these forms with it.
"""


from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.auth import SESSION_COOKIE, SESSION_SECONDS, Authenticator
from api.pipeline import PipelineViews
from api.queries import BadQuery, ResidentQueries, SearchQuery, Unavailable
from core.access import AccessDenied, Principal, can
from core.resolution.errors import ResolutionError
from schemas.profile_events import ConfirmMatch, RejectMatch
from store.audit import AuditLog
from store.auth_tables import UserStore
from store.resolver_state import ResolverState

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

LABELS = {
    "name": "姓名", "id_number": "公民身份号码", "sex": "性别", "birth_date": "出生日期", "birth_month": "出生年月",
    "phones": "联系电话", "registered_address": "户籍地址", "residential_address": "现住地址",
    "property_address": "房产地址", "household_id": "户号", "relation_to_head": "与户主关系", "ethnicity": "民族",
    "marital_status": "婚姻状况", "nationality": "国籍", "deceased_on": "死亡日期", "moved_out_on": "迁出日期",
}
SOURCES = {"public_security": "公安", "social_security": "人社", "civil_affairs": "民政", "housing": "住建",
           "community": "社区"}
ROLES = {"community_worker": "社区工作者", "steward": "数据管理员", "department_reader": "部门读取方",
         "auditor": "审计员", "admin": "系统管理员"}
SEX = {"male": "男", "female": "女", "unknown": "未知"}


def label(field: str) -> str:
    if field.startswith("attributes."):
        return {"attributes.assistance": "救助类别", "attributes.monthly_amount": "发放金额",
                "attributes.person_category": "人员类型", "attributes.grid": "网格",
                "attributes.community": "社区", "attributes.street": "街道"}.get(field, field.split(".", 1)[1])
    return LABELS.get(field, field)


templates.env.globals.update(label=label, source_name=lambda s: SOURCES.get(s, s), role_name=lambda r: ROLES.get(r, r),
                             sex_name=lambda s: SEX.get(s or "", s or ""), can=can)


def console_router(queries: ResidentQueries, pipeline: PipelineViews, resolver: ResolverState, audit: AuditLog,
                   users: UserStore, auth: Authenticator) -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)

    def page(request: Request, name: str, principal: Principal | None, status: int = 200, **ctx: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"me": principal, **ctx}, status_code=status)

    Me = Annotated[Principal, Depends(auth.required)]

    @router.get("/login")
    def login_form(request: Request) -> HTMLResponse:
        return page(request, "login.html", None)

    @router.post("/login")
    def login(request: Request, username: Annotated[str, Form(max_length=100)],
              password: Annotated[str, Form(max_length=200)]) -> Response:
        principal = users.authenticate(username, password)
        if principal is None:
            return page(request, "login.html", None, status=401, error="用户名或密码错误")
        response = RedirectResponse(_home(principal), status_code=303)
        response.set_cookie(SESSION_COOKIE, auth.sessions.issue(principal.user_id), max_age=SESSION_SECONDS,
                            httponly=True, samesite="strict", path="/")
        return response

    @router.post("/logout")
    def logout() -> Response:
        response = RedirectResponse("/console/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.get("/")
    def home(request: Request, principal: Me, name: str = "", address: str = "", household: str = "",
             p: int = 1) -> Response:
        if not can(principal, "search"):
            return RedirectResponse(_home(principal), status_code=303)
        return _search(request, principal, SearchQuery(name=name or None, address=address or None,
                                                       household=household or None), p, form={"name": name,
                                                       "address": address, "household": household})

    @router.post("/search")
    def search_post(request: Request, principal: Me, id_number: Annotated[str, Form(max_length=40)] = "",
                    phone: Annotated[str, Form(max_length=40)] = "") -> Response:
        # ID and phone numbers come by POST so that they never appear in a URL or a log line.
        return _search(request, principal, SearchQuery(id_number=id_number or None, phone=phone or None), 1,
                       form={})

    def _search(request: Request, principal: Principal, query: SearchQuery, p: int, form: dict[str, str]) -> Response:
        result, error = None, None
        if query.kinds():
            try:
                result = queries.search(principal, query, page=max(p, 1), size=20)
            except (BadQuery, AccessDenied) as exc:
                error = str(exc)
        return page(request, "search.html", principal, result=result, error=error, form=form, page_no=max(p, 1))

    @router.get("/residents/{profile_id}")
    def resident(request: Request, principal: Me, profile_id: str, as_of: str = "") -> Response:
        at = None
        if as_of:
            try:
                at = datetime.fromisoformat(as_of)
            except ValueError:
                raise BadQuery("时间格式应为 2025-06-01T08:00") from None
            at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
        view = queries.profile(principal, profile_id, at=at)
        return page(request, "profile.html", principal, p=view, as_of=as_of)

    @router.post("/residents/{profile_id}/unmask")
    def unmask(request: Request, principal: Me, profile_id: str,
               purpose: Annotated[str, Form(max_length=200)] = "",
               fields: Annotated[list[str] | None, Form()] = None) -> Response:
        chosen = {f for f in (fields or ["id_number", "phones", "attributes"])
                  if f in ("id_number", "phones", "attributes")}
        if len(purpose.strip()) < 4:
            view = queries.profile(principal, profile_id)
            return page(request, "profile.html", principal, status=400, p=view, as_of="",
                        error="查看完整信息须填写用途（至少 4 个字）")
        view = queries.profile(principal, profile_id, unmask=chosen, purpose=purpose.strip())
        return page(request, "profile.html", principal, p=view, as_of="", unmasked=True)

    @router.get("/households/{household_id}")
    def household(request: Request, principal: Me, household_id: str) -> Response:
        return page(request, "household.html", principal, h=queries.household(principal, household_id))

    @router.get("/reviews")
    def reviews(request: Request, principal: Me) -> Response:
        return page(request, "reviews.html", principal, q=queries.reviews(principal, limit=50))

    @router.post("/reviews/{review_id}")
    def decide(request: Request, principal: Me, review_id: str, decision: Annotated[str, Form()],
               profile_id: Annotated[str, Form(max_length=64)] = "",
               note: Annotated[str, Form(max_length=500)] = "") -> Response:
        if not can(principal, "review"):
            raise AccessDenied("role may not review")
        now = datetime.now(timezone.utc)
        if decision == "confirm":
            command: ConfirmMatch | RejectMatch = ConfirmMatch(steward=principal.username, issued_at=now,
                                                               review_id=review_id, profile_id=profile_id, note=note)
        elif decision == "reject":
            command = RejectMatch(steward=principal.username, issued_at=now, review_id=review_id, note=note)
        else:
            raise BadQuery("decision must be confirm or reject")
        try:
            events = resolver.handle_command(command)
        except ResolutionError as exc:
            return page(request, "reviews.html", principal, status=409, q=queries.reviews(principal, limit=50),
                        error=f"未能处理：{exc}")
        pipeline.publish(resolver.publish_outbox)
        audit.append(principal, f"{decision}_review", "人工复核", [profile_id] if profile_id else [], ["review"])
        return page(request, "reviews.html", principal, q=queries.reviews(principal, limit=50),
                    done=f"已{'确认' if decision == 'confirm' else '驳回'}复核 {review_id}，产生 {len(events)} 个事件")

    @router.get("/dead-letters")
    def dead_letters(request: Request, principal: Me, source: str = "") -> Response:
        if not can(principal, "dead_letters"):
            raise AccessDenied("role may not browse dead letters")
        try:
            letters, error = pipeline.dead_letters(source=source or None, limit=200), None
        except Unavailable as exc:
            letters, error = None, str(exc)
        return page(request, "deadletters.html", principal, d=letters, error=error, source=source)

    @router.get("/health")
    def health(request: Request, principal: Me) -> Response:
        if not can(principal, "health"):
            raise AccessDenied("role may not see pipeline health")
        return page(request, "health.html", principal, h=pipeline.health())

    @router.get("/audit")
    def audit_page(request: Request, principal: Me, resident: str = "") -> Response:
        if not can(principal, "audit"):
            raise AccessDenied("role may not read the audit log")
        entries = audit.entries(resident=resident or None, limit=200)
        return page(request, "audit.html", principal, entries=entries, resident=resident, verification=audit.verify())

    return router


def _home(principal: Principal) -> str:
    if can(principal, "search"):
        return "/console/"
    if can(principal, "audit"):
        return "/console/audit"
    return "/console/health"
