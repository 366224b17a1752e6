"""A resident's own access report (PIPL Art. 45) as JSON, XLSX or a print-ready HTML page
(``services.access_report`` builds it; this module renders)."""


import io
from html import escape
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from api.audit_responses import AccessReadOut, AccessReportOut
from core.access import Principal
from services.access_report import AccessReport, AccessReportService
from services.queries import NotFound

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADINGS = ("时间（UTC）", "账号", "角色", "部门", "操作", "用途", "涉及字段", "画像编号")


def rows(report: AccessReport) -> list[tuple[str, ...]]:
    return [(line.at.isoformat(timespec="seconds"), line.username, line.role, line.department or "", line.action_name,
             line.purpose, "、".join(line.fields), line.profile_id) for line in report.lines]


def as_json(report: AccessReport) -> AccessReportOut:
    return AccessReportOut(resident=report.resident, profile_ids=list(report.profile_ids),
                           generated_at=report.generated_at.isoformat(), generated_by=report.generated_by,
                           reads=[AccessReadOut(at=line.at.isoformat(), username=line.username, role=line.role,
                                                department=line.department, action=line.action,
                                                action_name=line.action_name, purpose=line.purpose,
                                                fields=list(line.fields), profile_id=line.profile_id)
                                  for line in report.lines])


def as_xlsx(report: AccessReport) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "查阅记录"
    sheet.append([f"居民 {report.resident} 的个人信息查阅记录（含已合并画像 {'、'.join(report.profile_ids)}）"])
    sheet.append([f"导出：{report.generated_by}，{report.generated_at.isoformat(timespec='seconds')}；共 {len(report.lines)} 条"])
    sheet.append(list(HEADINGS))
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    for row in rows(report):
        sheet.append([_cell(v) for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _cell(value: str) -> str:
    """A cell that a spreadsheet never evaluates (a purpose typed as "=..." stays text)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def as_html(report: AccessReport) -> str:
    body = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>" for row in rows(report))
    return ("<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>个人信息查阅记录</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;width:100%}"
            "td,th{border:1px solid #999;padding:4px;font-size:12px;text-align:left}"
            "@media print{body{margin:1cm}a{display:none}}</style><body>"
            f"<h1>个人信息查阅记录</h1><p id='resident'>居民画像 {escape(report.resident)}"
            f"（含已合并画像：{escape('、'.join(report.profile_ids))}）</p>"
            f"<p>依据《个人信息保护法》第四十五条导出。导出人 {escape(report.generated_by)}，"
            f"{escape(report.generated_at.isoformat(timespec='seconds'))}；共 <span id='count'>{len(report.lines)}</span> 条。</p>"
            "<table id='reads'><tr>" + "".join(f"<th>{h}</th>" for h in HEADINGS) + f"</tr>{body}</table></body></html>")


def access_report_router(service: AccessReportService, principal_dep: Any) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["audit"])
    Me = Annotated[Principal, Depends(principal_dep)]

    @router.get("/residents/{profile_id}/access-report", response_model=AccessReportOut,
                responses={200: {"content": {XLSX: {}, "text/html": {}},
                                 "description": "the report as JSON, XLSX or a print-ready HTML page (format)"}})
    async def access_report(principal: Me, profile_id: str,
                            format: Annotated[Literal["json", "xlsx", "html"], Query()] = "json"
                            ) -> AccessReportOut | Response:
        """Every read of this resident's data (following merges): when, role, department, fields,
        purpose. Stewards and auditors; the export is audited. ``format``: json, xlsx, html (print-ready)."""
        try:
            report = await run_in_threadpool(service.report, principal, profile_id)
        except LookupError as exc:
            raise NotFound(str(exc)) from exc
        if format == "xlsx":
            return Response(as_xlsx(report), media_type=XLSX, headers={
                "Content-Disposition": f'attachment; filename="access-report-{report.resident}.xlsx"'})
        if format == "html":
            return HTMLResponse(as_html(report))
        return as_json(report)

    return router
