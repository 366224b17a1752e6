"""The web console (工作台), server-rendered in zh-CN: log in, search, profile, household, history;
for stewards the review queue, dead letters and pipeline health; for auditors the audit log.

Pages call the same queries as the JSON API, so masking, scope and audit are identical. Unmasking
and decisions are POST forms (nothing sensitive in a URL); the session cookie is HttpOnly,
SameSite=Strict and Secure (over https, or whenever the service is not bound to loopback), and every
form carries the session's CSRF token (checked by ``api.security``). The login form carries a
double-submit token (cookie ``oo_login`` and the form field agree); failed logins are throttled per
account and per address and audited; logout ends every session of the user on the server.
"""


import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import SecretStr, ValidationError

from api.admin import NewUser, RoleChange
from api.auth import CSRF_FIELD, LOGIN_COOKIE, SESSION_COOKIE, SESSION_SECONDS, Authenticator, new_login_token
from api.charts import line_chart
from core.access import ROLES, AccessDenied, Principal, can
from core.access.catalogue import catalogue
from core.access.views import history_line, link_reasons, link_summary, local_time
from core.privacy import redact
from core.resolution.errors import ResolutionError
from services.dead_letters import DeadLetterService
from services.home import AGE_BANDS, DEFAULT_SINCE, SORTS, HomeFilters, HomeQueries
from services.pipeline import PipelineViews
from services.quality import QualityViews
from services.queries import BadQuery, ResidentQueries, SearchQuery, Unavailable
from services.stewarding import StewardingService
from services.user_admin import AccountConflict, UserAdmin
from store.audit import AuditLog
from store.auth_tables import UserStore

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

ROLE_NAMES = {"community_worker": "社区工作者", "steward": "数据管理员", "department_reader": "部门读取方",
         "auditor": "审计员", "admin": "系统管理员"}


def label(field: str) -> str:
    """The Chinese heading of a field (``config/fields.yaml``), never its English key."""
    return catalogue().label(field)


def role_name(role: str) -> str:
    return ROLE_NAMES.get(role, role)


def source_name(source: str) -> str:
    return catalogue().department(source)


def code_name(field: str, value: Any) -> Any:
    """A stored value by name (``02`` → 户主, ``01`` → 汉族, ``CHN`` → 中国, ``female`` → 女); lists item by item."""
    if isinstance(value, (list, tuple)):
        return [catalogue().display(field, v) for v in value]
    return catalogue().display(field, value) if isinstance(value, str) else ("" if value is None else value)


def home_url(form: dict[str, Any], **changes: Any) -> str:
    """The home page's address with ``form``'s choices and ``changes`` (page 1 unless a page is given)."""
    from urllib.parse import urlencode

    chosen = {**form, "p": 1, **changes}
    return "/console/?" + urlencode({k: ("1" if v is True else v) for k, v in chosen.items()
                                     if v not in (False, None, "") and not (k == "p" and v == 1)})


templates.env.globals.update(home_url=home_url, label=label, source_name=source_name, role_name=role_name, code_name=code_name,
                             sex_name=lambda s: code_name("sex", s or ""), local_time=local_time,
                             link_reasons=link_reasons, link_summary=link_summary, can=can,
                             evidence_text=lambda field, level: catalogue().evidence_text(field, level))


def console_router(queries: ResidentQueries, pipeline: PipelineViews, stewarding: StewardingService, audit: AuditLog,
                   users: UserStore, auth: Authenticator, *, dead_letter_service: DeadLetterService,
                   quality: QualityViews | None = None,
                   user_admin: UserAdmin | None = None, home_queries: HomeQueries | None = None) -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)
    homes = home_queries or HomeQueries(queries.engine, audit, queries.grants)

    def page(request: Request, name: str, principal: Principal | None, status: int = 200, **ctx: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"me": principal, **ctx}, status_code=status)

    Me = Annotated[Principal, Depends(auth.required)]

    def login_page(request: Request, status: int = 200, **ctx: Any) -> HTMLResponse:
        """The login form with its double-submit token: the one in the browser's cookie, or a new one."""
        token = request.cookies.get(LOGIN_COOKIE) or ""
        fresh = not (20 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum())
        token = new_login_token() if fresh else token
        request.state.csrf = token
        response = page(request, "login.html", None, status=status, **ctx)
        if fresh:
            response.set_cookie(LOGIN_COOKIE, token, max_age=SESSION_SECONDS, httponly=True, samesite="strict",
                                secure=auth.cookie_secure(request), path="/console/login")
        return response

    @router.get("/login")
    def login_form(request: Request) -> HTMLResponse:
        return login_page(request)

    @router.post("/login")
    def login(request: Request, username: Annotated[str, Form(max_length=100)],
              password: Annotated[str, Form(max_length=200)],
              csrf: Annotated[str, Form(alias=CSRF_FIELD, max_length=100)] = "") -> Response:
        import hmac

        expected = request.cookies.get(LOGIN_COOKIE) or ""
        if not expected or not hmac.compare_digest(csrf.encode(), expected.encode()):
            return login_page(request, status=403, error="登录页已失效，请重新输入用户名和密码")
        address = request.client.host if request.client else "unknown"
        wait = auth.throttle.wait_seconds(username, address)
        if wait > 0:  # not audited again: the failures that led here were
            return login_page(request, status=429, error=f"登录失败次数过多，请 {max(int(wait // 60), 1)} 分钟后再试")
        principal = users.authenticate(username, password)
        if principal is None:
            auth.throttle.failed(username, address)
            _audit_failed_login(username, address, "login_failed")
            return login_page(request, status=401, error="用户名或密码错误")
        auth.throttle.succeeded(username, address)
        audit.append(principal, "login", "登录工作台", [], [])  # the home page's "since your last visit"
        response = RedirectResponse(_home(principal), status_code=303)
        cookie = auth.sessions.issue(principal.user_id, generation=users.session_generation(principal.user_id))
        response.set_cookie(SESSION_COOKIE, cookie, max_age=SESSION_SECONDS, httponly=True, samesite="strict",
                            secure=auth.cookie_secure(request), path="/")
        response.delete_cookie(LOGIN_COOKIE, path="/console/login")
        return response

    def _audit_failed_login(username: str, address: str, action: str) -> None:
        """A principal-less entry: the name as typed (ID-number-like text masked), the address, no user id.
        At most ``login_failures`` per address per window: further attempts are throttled first."""
        typed = redact(username.strip())[:100] or "-"
        attempt = Principal(user_id="", username=typed, role="anonymous")  # type: ignore[arg-type]
        audit.append(attempt, action, f"登录失败（用户名或密码错误），来自 {redact(address)[:64]}", [], [])

    @router.post("/logout")
    def logout(principal: Me) -> Response:
        users.end_sessions(principal.user_id)  # every session issued so far stops working, here and elsewhere
        response = RedirectResponse("/console/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.get("/")
    def home(request: Request, principal: Me, name: str = "", address: str = "", household: str = "",
             p: int = 1, community: str = "", age: str = "", alone: bool = False, assistance: bool = False,
             disability: bool = False, apart: bool = False, contested: bool = False, gone: bool = False, sort: str = "name",
             desc: bool = False, since: str = "", purpose: str = "") -> Response:
        if not can(principal, "search"):
            return RedirectResponse(_home(principal), status_code=303)
        if name or address or household:  # the search's old address
            return search_get(request, principal, name, address, household, p)
        communities = homes.communities(principal)
        chosen = community or (communities[0] if communities else "")
        form: dict[str, Any] = {"community": chosen, "age": age if age in AGE_BANDS else "", "alone": alone, "assistance": assistance,
                "disability": disability, "apart": apart, "contested": contested, "gone": gone,
                "sort": sort if sort in SORTS else "name",
                "desc": desc, "since": since, "purpose": purpose}
        ctx: dict[str, Any] = {"communities": communities, "form": form, "sorts": SORTS, "age_bands": AGE_BANDS}
        if not chosen:
            return page(request, "home.html", principal, listing=None, changes=None, since_at=None, **ctx)
        filters = HomeFilters(age=form["age"], alone=alone, assistance=assistance, disability=disability,
                              apart=apart, contested=contested, gone=gone)
        error = None
        if filters.sensitive and len(purpose.strip()) < 4:
            error = "按享受救助、残疾筛选须填写用途（至少 4 个字），将记入审计日志"
            filters = HomeFilters(age=filters.age, alone=alone, apart=apart, contested=contested, gone=gone)
        listing = homes.residents(principal, chosen, filters, sort=form["sort"], descending=desc, page=max(p, 1),
                                  purpose=purpose if filters.sensitive else "")
        typed, last = _since(since), homes.last_visit(principal)
        since_at = typed or last or datetime.now(UTC) - DEFAULT_SINCE
        since_kind = "typed" if typed else ("last_login" if last else "week")
        changes = homes.changes(principal, chosen, since_at)
        return page(request, "home.html", principal, listing=listing, changes=changes, since_at=since_at,
                    since_kind=since_kind, error=error, page_no=max(p, 1), **ctx)

    @router.get("/search")
    def search_get(request: Request, principal: Me, name: str = "", address: str = "", household: str = "",
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
            except BadQuery as exc:  # a refusal (AccessDenied) goes to the handler, which audits it
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
            at = at if at.tzinfo else at.replace(tzinfo=UTC)
        view = queries.profile(principal, profile_id, at=at)
        return page(request, "profile.html", principal, p=with_history_lines(view), as_of=as_of)

    def with_history_lines(view: dict[str, Any]) -> dict[str, Any]:
        """Each history entry with its line in Chinese, from the logged event (the fold's summary
        when the event is not in the log)."""
        history = view.get("history") or []
        events = homes.events(view["profile_id"], [h["version"] for h in history])
        for h in history:
            event = events.get(h["version"])
            h["line"] = history_line(event) if event is not None else h["summary"]
        return view

    @router.post("/residents/{profile_id}/unmask")
    def unmask(request: Request, principal: Me, profile_id: str,
               purpose: Annotated[str, Form(max_length=200)] = "",
               fields: Annotated[list[str] | None, Form()] = None) -> Response:
        chosen = {f for f in (fields or ["id_number", "phones", "attributes"])
                  if f in ("id_number", "phones", "attributes")}
        if len(purpose.strip()) < 4:
            view = queries.profile(principal, profile_id)
            return page(request, "profile.html", principal, status=400, p=with_history_lines(view), as_of="",
                        error="查看完整信息须填写用途（至少 4 个字）")
        view = queries.profile(principal, profile_id, unmask=chosen, purpose=purpose.strip())
        return page(request, "profile.html", principal, p=with_history_lines(view), as_of="", unmasked=True)

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
        if decision not in ("confirm", "reject"):
            raise BadQuery("decision must be confirm or reject")
        try:
            result = (stewarding.confirm(principal, review_id, profile_id, note) if decision == "confirm"
                      else stewarding.reject(principal, review_id, note))
        except ResolutionError as exc:
            return page(request, "reviews.html", principal, status=409, q=queries.reviews(principal, limit=50),
                        error=f"未能处理：{exc}")
        return page(request, "reviews.html", principal, q=queries.reviews(principal, limit=50),
                    done=f"已{'确认' if decision == 'confirm' else '驳回'}复核 {review_id}，产生 {len(result.events)} 个事件")

    def letters_page(request: Request, principal: Principal, source: str, status: int = 200, **ctx: Any) -> Response:
        try:
            letters, error = dead_letter_service.letters(principal, source=source or None, limit=200), ctx.pop("error", None)
        except Unavailable as exc:
            letters, error = None, str(exc)
        return page(request, "deadletters.html", principal, status=status, d=letters, error=error, source=source,
                    can_reprocess=dead_letter_service.can_reprocess, **ctx)

    @router.get("/dead-letters")
    def dead_letters(request: Request, principal: Me, source: str = "") -> Response:
        if not can(principal, "dead_letters"):
            raise AccessDenied("role may not browse dead letters")
        return letters_page(request, principal, source)

    @router.post("/dead-letters/reprocess")
    def reprocess(request: Request, principal: Me, source: Annotated[str, Form(max_length=64)] = "",
                  event_ids: Annotated[list[str] | None, Form()] = None) -> Response:
        if not can(principal, "dead_letters"):
            raise AccessDenied("role may not re-process dead letters")
        if not dead_letter_service.can_reprocess:
            raise Unavailable("重处理需要 Kafka 与映射文件的配置")
        ids = [i for i in (event_ids or []) if i]
        if not source and not ids:
            return letters_page(request, principal, "", status=400, error="请选择来源或勾选要重处理的死信")
        result = dead_letter_service.reprocess(principal, source=source or None, event_ids=ids)
        done = (f"已重处理：选中 {result['selected']} 条，可读 {result['resolved']} 条（发送 {result['sent']} 条），"
                f"仍无法读取 {result['still_unreadable']} 条，跳过 {result['skipped']} 条")
        return letters_page(request, principal, source, done=done, result=result)

    @router.get("/health")
    def health(request: Request, principal: Me, hours: int = 24) -> Response:
        reading = pipeline.health_now(principal)
        hours = min(max(hours, 1), 24 * 7)
        _, history = pipeline.health_since(principal, datetime.now(UTC) - timedelta(hours=hours))
        return page(request, "health.html", principal, h=reading, charts=health_charts(history), hours=hours,
                    samples=len(history))

    # -- data quality (数据质量) --------------------------------------------------------------------
    def quality_views() -> QualityViews:
        if quality is None:
            raise Unavailable("数据质量视图未配置")
        return quality

    @router.get("/quality")
    def quality_page(request: Request, principal: Me) -> Response:
        return page(request, "quality.html", principal, q=quality_views().summary(principal))

    @router.get("/quarantine/{batch_id}")
    def quarantine_report(request: Request, principal: Me, batch_id: str) -> Response:
        batch, text = quality_views().report(principal, batch_id)  # checked and audited by the service
        return page(request, "quality_report.html", principal, b=batch, report_html=render_report(text))

    @router.get("/data-docs/{path:path}")
    def data_docs(principal: Me, path: str) -> Response:
        found, media = quality_views().docs_file(principal, path)  # checked, a page audited, by the service
        # Read-only and never cached. The pages are GX's HTML over resident rows: sandboxed (no script
        # runs, the page gets no access to the console's origin) and nothing is fetched from elsewhere.
        return FileResponse(found, media_type=media, headers={
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox allow-popups; default-src 'self' 'unsafe-inline' data:"})

    @router.get("/data-docs")
    def data_docs_home() -> Response:
        return RedirectResponse("/console/data-docs/index.html", status_code=307)

    # -- users (用户管理) ----------------------------------------------------------------------------
    def admin_views() -> UserAdmin:
        if user_admin is None:
            raise Unavailable("用户管理未配置")
        return user_admin

    def users_page(request: Request, principal: Principal, status: int = 200, **ctx: Any) -> Response:
        if not can(principal, "manage_users"):
            raise AccessDenied("role may not manage users")
        return page(request, "users.html", principal, status=status, accounts=admin_views().accounts(principal),
                    roles=ROLES, min_password=admin_views().min_password_length, **ctx)

    @router.get("/users")
    def users_list(request: Request, principal: Me) -> Response:
        return users_page(request, principal)

    @router.post("/users")
    def users_create(request: Request, principal: Me, username: Annotated[str, Form(max_length=64)],
                     password: Annotated[str, Form(max_length=200)], role: Annotated[str, Form(max_length=32)],
                     communities: Annotated[str, Form(max_length=2000)] = "",
                     grids: Annotated[str, Form(max_length=2000)] = "",
                     department: Annotated[str, Form(max_length=64)] = "",
                     display_name: Annotated[str, Form(max_length=200)] = "") -> Response:
        if not can(principal, "manage_users"):
            raise AccessDenied("role may not manage users")
        try:
            new = NewUser(username=username, password=SecretStr(password), role=role,
                          display_name=display_name, communities=_items(communities), grids=_items(grids),
                          department=department or None)
            created = admin_views().create(principal, new)
        except (ValidationError, BadQuery, AccountConflict) as exc:
            # Never echo the password: the form comes back empty, with the reason only.
            return users_page(request, principal, status=400, error=f"未能创建用户：{_why(exc)}")
        if created.get("awaiting_approval"):
            return users_page(request, principal, done=f"已申请创建用户 {username}（{role_name(role)}），"
                                                       "待数据管理员或审计员批准后启用")
        return users_page(request, principal, done=f"已创建用户 {username}（{role_name(role)}）")

    @router.post("/users/{username}/disable")
    def users_disable(request: Request, principal: Me, username: str) -> Response:
        try:
            admin_views().set_active(principal, username, False)
        except BadQuery as exc:
            return users_page(request, principal, status=400, error=f"未能停用：{exc}")
        return users_page(request, principal, done=f"已停用用户 {username}")

    @router.post("/users/{username}/enable")
    def users_enable(request: Request, principal: Me, username: str) -> Response:
        admin_views().set_active(principal, username, True)
        return users_page(request, principal, done=f"已启用用户 {username}")

    @router.post("/users/{username}/role")
    def users_role(request: Request, principal: Me, username: str, role: Annotated[str, Form(max_length=32)],
                   communities: Annotated[str, Form(max_length=2000)] = "",
                   grids: Annotated[str, Form(max_length=2000)] = "",
                   department: Annotated[str, Form(max_length=64)] = "") -> Response:
        try:
            change = RoleChange(role=role, communities=_items(communities), grids=_items(grids),
                                department=department or None)
            changed = admin_views().set_role(principal, username, change)
        except (ValidationError, BadQuery, AccountConflict) as exc:
            return users_page(request, principal, status=400, error=f"未能更改角色：{_why(exc)}")
        if changed.get("awaiting_approval"):
            return users_page(request, principal, done=f"已申请将用户 {username} 的角色改为 {role_name(role)}，"
                                                       "待数据管理员或审计员批准后生效")
        return users_page(request, principal, done=f"已将用户 {username} 的角色改为 {role_name(role)}")

    @router.post("/users/{username}/tokens")
    def users_token(request: Request, principal: Me, username: str,
                    label: Annotated[str, Form(max_length=200)] = "") -> Response:
        try:
            issued = admin_views().issue_token(principal, username, label)
        except BadQuery as exc:
            return users_page(request, principal, status=400, error=f"未能签发令牌：{exc}")
        response = users_page(request, principal, done=f"已为 {username} 签发机器令牌（仅显示这一次）",
                              token=issued["token"], token_user=username)
        response.headers["Cache-Control"] = "no-store"
        return response

    # -- account requests (账号审批): the second person, a steward or an auditor -------------------------
    def requests_page(request: Request, principal: Principal, status: int = 200, **ctx: Any) -> Response:
        return page(request, "account_requests.html", principal, status=status,
                    requests=admin_views().requests(principal), **ctx)

    @router.get("/account-requests")
    def account_requests(request: Request, principal: Me) -> Response:
        return requests_page(request, principal)

    @router.post("/account-requests/{request_id}/{decision}")
    def account_request_decide(request: Request, principal: Me, request_id: str, decision: str) -> Response:
        if decision not in ("approve", "refuse"):
            raise HTTPException(404, "no such decision")
        decided = admin_views().decide(principal, request_id, approve=decision == "approve")
        verb = "已批准" if decision == "approve" else "已拒绝"
        return requests_page(request, principal, done=f"{verb} {decided['username']}（{role_name(decided['role'])}）")

    @router.get("/audit")
    def audit_page(request: Request, principal: Me, resident: str = "") -> Response:
        if not can(principal, "audit"):
            raise AccessDenied("role may not read the audit log")
        entries = audit.who_looked(resident, limit=200)[1] if resident else audit.entries(limit=200)
        verification = audit.verify()
        audit.append(principal, "read_audit", "审计查阅", [],  # as GET /api/v1/audit: the auditor's read, logged
                     ["audit_entries", "audit_verify", *([f"who_looked:{redact(resident)}"] if resident else [])])
        return page(request, "audit.html", principal, entries=entries, resident=resident, verification=verification)

    return router


def _home(principal: Principal) -> str:
    if can(principal, "search"):
        return "/console/"
    if can(principal, "audit"):
        return "/console/audit"
    return "/console/health"


def _since(text: str) -> datetime | None:
    """A ``since`` typed by a worker (``2025-06-01`` or ``2025-06-01T08:00``), in Asia/Shanghai time."""
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadQuery("时间格式应为 2025-06-01 或 2025-06-01T08:00") from None
    return at if at.tzinfo else at.replace(tzinfo=ZoneInfo("Asia/Shanghai"))


def _items(text: str) -> list[str]:
    """Communities or grids typed as one line: separated by commas (either width), 、 or spaces."""
    return [part for part in re.split(r"[,，、\s]+", text.strip()) if part]


def _why(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        # Field names and messages only: pydantic's text would echo the submitted values.
        return "；".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    if isinstance(exc, HTTPException):
        return str(exc.detail)
    return str(exc)


def render_report(markdown: str) -> str:
    """The steward report (markdown) as HTML; raw HTML in it is escaped, not rendered."""
    from markdown_it import MarkdownIt

    html: str = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return html


THROUGHPUT_LABELS = {"ledger": "原始记录入账", "profiles": "画像投影"}


def health_charts(history: list[dict[str, Any]]) -> dict[str, str]:
    """The health page's charts (inline SVG): throughput, lag, data quality, dead letters."""
    def when(sample: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(sample["taken_at"])

    def series(key: str) -> dict[str, list[tuple[datetime, float]]]:
        found: dict[str, list[tuple[datetime, float]]] = {}
        for sample in history:
            for name, value in (sample.get(key) or {}).items():
                if value is not None:
                    found.setdefault(THROUGHPUT_LABELS.get(name, name), []).append((when(sample), float(value)))
        return found

    quality_points = [(when(s), float(s["validation_pass_rate"])) for s in history
                      if s.get("validation_pass_rate") is not None]
    dead: dict[str, list[tuple[datetime, float]]] = {}
    for sample in history:
        letters = sample.get("dead_letters") or {}
        if letters.get("in_topic") is not None:
            dead.setdefault("死信主题累计", []).append((when(sample), float(letters["in_topic"])))
        for src, n in (letters.get("per_source") or {}).items():
            dead.setdefault(source_name(src), []).append((when(sample), float(n)))
    return {
        "throughput": line_chart(series("records_per_s"), title="吞吐量（条/秒）", y_label="条/秒",
                                 chart_id="chart-throughput"),
        "lag": line_chart(series("lag"), title="消费积压（条）", y_label="积压条数", chart_id="chart-lag"),
        "quality": line_chart({"校验通过率": quality_points} if quality_points else {},
                              title="数据质量：最近一次校验的批次通过率", y_label="通过率", chart_id="chart-quality",
                              y_max=1.0, percent=True),
        "dead_letters": line_chart(dead, title="死信数量", y_label="条", chart_id="chart-dead-letters"),
    }
