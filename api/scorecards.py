"""Source scorecards' routes: JSON for every department and month, a department's monthly report
as XLSX or as an HTML page with charts, and the stewards' console page."""


import io
from datetime import UTC, datetime
from html import escape
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from api.charts import bar_chart, line_chart
from api.scorecard_responses import ScorecardsOut
from core.access import Principal
from core.access.catalogue import catalogue
from core.scorecards import SourceMonth
from services.scorecards import ScorecardService

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Month = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")]
Department = Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
COLUMNS = (("month", "月份"), ("records_sent", "报送记录"), ("dead_letters", "死信"),
           ("unreadable_fields", "无法识别的字段"), ("validated_batches", "校验批次"),
           ("quarantined_batches", "隔离批次"), ("overruled_fields", "被其他部门取代的字段"),
           ("objections_received", "收到异议"), ("objections_answered", "已答复"), ("objections_overdue", "逾期"),
           ("median_answer_days", "答复用时中位数（天）"), ("reviews_caused", "引发人工复核"))


def department_name(source: str) -> str:
    return catalogue().department(source)


def report_xlsx(department: str, cards: list[SourceMonth]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference

    book = Workbook()
    sheet = book.active
    sheet.title = "记分卡"
    sheet.append([f"{department_name(department)}（{department}）数据源质量记分卡"])
    sheet.append([label for _, label in COLUMNS])
    for card in sorted(cards, key=lambda c: c.month):
        row = card.as_dict()
        sheet.append([row[key] if row[key] is not None else "" for key, _ in COLUMNS])
    if cards:
        chart = BarChart()
        chart.title = "报送记录与死信"
        data = Reference(sheet, min_col=2, max_col=3, min_row=2, max_row=2 + len(cards))
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(Reference(sheet, min_col=1, min_row=3, max_row=2 + len(cards)))
        sheet.add_chart(chart, f"A{len(cards) + 5}")
    reasons = book.create_sheet("死信原因")
    reasons.append(["月份", "原因", "条数"])
    for card in sorted(cards, key=lambda c: c.month):
        for reason, count in card.dead_letters.most_common():
            reasons.append([card.month, reason, count])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def report_html(department: str, cards: list[SourceMonth], missing: list[str]) -> str:
    ordered = sorted(cards, key=lambda c: c.month)

    def at(month: str) -> datetime:
        return datetime.strptime(month + "-01", "%Y-%m-%d").replace(tzinfo=UTC)

    sent = line_chart({"报送记录": [(at(c.month), float(c.records_sent)) for c in ordered],
                       "死信": [(at(c.month), float(c.dead_letter_total)) for c in ordered],
                       "被取代的字段": [(at(c.month), float(c.overruled_fields)) for c in ordered]},
                      title="每月报送、死信与被取代的字段", y_label="条数", chart_id="chart-monthly")
    reasons: dict[str, int] = {}
    for card in ordered:
        for reason, count in card.dead_letters.items():
            reasons[reason] = reasons.get(reason, 0) + count
    by_reason = bar_chart(sorted(((r, float(n)) for r, n in reasons.items()), key=lambda b: -b[1])[:12],
                          title="死信原因", chart_id="chart-reasons")
    head = "".join(f"<th>{escape(label)}</th>" for _, label in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(v) if v is not None else '')}</td>"
                                    for v in (c.as_dict()[key] for key, _ in COLUMNS)) + "</tr>" for c in ordered)
    gaps = "".join(f"<p class='missing'>未能统计：{escape(m)}</p>" for m in missing)
    return ("<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>数据源质量记分卡</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #999;padding:4px;font-size:12px}@media print{body{margin:1cm}}</style><body>"
            f"<h1>{escape(department_name(department))}（{escape(department)}）数据源质量记分卡</h1>{gaps}"
            f"<table id='scorecard'><tr>{head}</tr>{body}</table>{sent}{by_reason}</body></html>")


def scorecards_router(service: ScorecardService, principal_dep: Any) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["stewards"])
    Me = Annotated[Principal, Depends(principal_dep)]

    @router.get("/scorecards")
    async def scorecards(principal: Me, department: Department = None, month: Month = None) -> ScorecardsOut:
        """Per department and month: records sent, dead letters by reason, unreadable fields kept,
        validation batches quarantined, fields overruled by another source, objections received,
        answered, overdue and the median days to answer, reviews caused."""
        found = await run_in_threadpool(service.cards, principal, department=department, month=month)
        return ScorecardsOut.model_validate({"scorecards": [c.as_dict() for c in found.cards],
                                             "not_counted": found.missing})

    @router.get("/scorecards/{department}/report", response_model=None, response_class=HTMLResponse,
                responses={200: {"content": {XLSX: {}}, "description": "the report, print-ready HTML or XLSX"}})
    async def report(principal: Me, department: str, format: Annotated[Literal["html", "xlsx"], Query()] = "html",
                     month: Month = None) -> Response:
        """A department's report (every month, or one) as a print-ready HTML page with charts, or XLSX."""
        found = await run_in_threadpool(service.cards, principal, department=department, month=month)
        if format == "xlsx":
            return Response(report_xlsx(department, found.cards), media_type=XLSX, headers={
                "Content-Disposition": f'attachment; filename="scorecard-{department}.xlsx"'})
        return HTMLResponse(report_html(department, found.cards, found.missing))

    return router


def scorecards_console_router(service: ScorecardService, principal_dep: Any) -> APIRouter:
    from api.console import templates

    router = APIRouter(prefix="/console", include_in_schema=False)
    Me = Annotated[Principal, Depends(principal_dep)]

    @router.get("/scorecards")
    def scorecards_page(request: Request, principal: Me, month: str = "") -> HTMLResponse:
        found = service.cards(principal, month=month or None)
        return templates.TemplateResponse(request, "scorecards.html", {
            "me": principal, "cards": found.cards, "missing": found.missing, "columns": COLUMNS, "month": month,
            "department_name": department_name}, status_code=200)

    return router
