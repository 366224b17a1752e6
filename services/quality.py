"""Data quality for stewards (数据质量): the validated batches, their reports and the GX Data Docs.

The validation service (``services.validation``) records every batch it checked in ``flow_batches`` (passed,
quarantined, published, superseded), writes a steward's report (markdown) under
``<data_dir>/quarantine/`` and rebuilds the Great Expectations Data Docs under
``<data_dir>/gx/uncommitted/data_docs/local_site/``. This module reads those three things for the
API and the console, and serves the files read-only: a path that would leave its folder is refused.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from core.access import Principal, require
from core.privacy import redact
from services.ports import Auditor
from services.queries import BadQuery, NotFound, Unavailable
from store.flow_batches import PASSED, PUBLISHED, QUARANTINED, SUPERSEDED, flow_batches

DOCS_SITE = Path("gx") / "uncommitted" / "data_docs" / "local_site"
STATUS_ORDER = {QUARANTINED: 0, PASSED: 1, PUBLISHED: 2, SUPERSEDED: 3}
STATUS_NAMES = {QUARANTINED: "已隔离", PASSED: "已通过", PUBLISHED: "已发布", SUPERSEDED: "已被后续批次取代"}


@dataclass(frozen=True)
class Finding:
    """One failed expectation as the report lists it (examples are record ids or code values)."""

    suite: str
    expectation: str
    column: str
    unexpected: str
    examples: str

    def as_dict(self) -> dict[str, str]:
        return {"suite": self.suite, "expectation": self.expectation, "column": self.column,
                "unexpected": self.unexpected, "examples": self.examples}


def failed_expectations(report: str) -> list[Finding]:
    """The rows of the report's "Failed expectations" table (``services.validation.write_report``).

    >>> failed_expectations("## Failed expectations\\n\\n| suite | expectation | column | unexpected | examples |\\n"
    ...                     "|---|---|---|---|---|\\n| batch.x | expect_y | sex | 2 (50.0 %) | a, b |\\n\\n## What")
    [Finding(suite='batch.x', expectation='expect_y', column='sex', unexpected='2 (50.0 %)', examples='a, b')]
    """
    found: list[Finding] = []
    inside = False
    for line in report.splitlines():
        if line.startswith("## "):
            inside = line.strip() == "## Failed expectations"
            continue
        if not inside or not line.startswith("|") or line.startswith("|---") or line.startswith("| suite |"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4:
            continue
        suite, expectation, column, unexpected, *rest = cells
        found.append(Finding(suite, expectation, column, unexpected, redact(" | ".join(rest))))
    return found


def unknown_code_values(report: str) -> list[dict[str, Any]]:
    """The rows of the report's "Unknown code values" table (``services.validation.write_report``): per
    batch, the coded values outside their code tables and how many records carry each.

    >>> unknown_code_values("## Unknown code values\\n\\n| batch | source | field | value | records |\\n"
    ...                     "|---|---|---|---|---|\\n| community-1-9 | community | ethnicity | 火星族 | 2 |\\n")
    [{'batch_id': 'community-1-9', 'source': 'community', 'field': 'ethnicity', 'value': '火星族', 'records': 2}]
    """
    found: list[dict[str, Any]] = []
    inside = False
    for line in report.splitlines():
        if line.startswith("## "):
            inside = line.strip() == "## Unknown code values"
            continue
        if not inside or not line.startswith("|") or line.startswith("|---") or line.startswith("| batch |"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or not cells[4].isdigit():
            continue
        batch_id, source, field, value, records = cells
        found.append({"batch_id": batch_id, "source": source, "field": field, "value": redact(value),
                      "records": int(records)})
    return found


class QualityViews:
    """A steward's data-quality reads, each with its access check; a steward report or a Data Docs
    page quotes the rows that failed validation, so reading one is audited here, for every entry point."""

    def __init__(self, engine: Engine, data_dir: Path, audit: Auditor | None = None) -> None:
        self.engine = engine
        self.audit = audit
        self.data_dir = data_dir
        self.docs_root = data_dir / DOCS_SITE
        self.quarantine_root = data_dir / "quarantine"

    # -- the batches ------------------------------------------------------------------------------
    def _rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(flow_batches).order_by(
                flow_batches.c.checked_at.desc(), flow_batches.c.batch_id))]

    def summary(self, principal: Principal, *, per_source: int = 5) -> dict[str, Any]:
        """The latest batches of each source (newest first), quarantined ones first in ``batches``,
        and the latest validation run's pass rate (counts and expectations, no resident data)."""
        require(principal, "health")
        rows = self._rows()
        shown: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            kept = shown.setdefault(row["source"], [])
            if len(kept) < per_source:
                kept.append(row)
        reports: dict[str, str] = {}
        batches = [self._batch(row, reports) for kept in shown.values() for row in kept]
        batches.sort(key=lambda b: (STATUS_ORDER.get(b["status"], 9), _neg_time(b["checked_at"])))
        run = latest_run(rows)
        run_findings = [f for f in failed_expectations(self._report_text(run[0]["report"], reports))
                        if not f.suite.startswith("batch.")] if run else []
        return {
            "sources": [{"source": s, "latest_status": kept[0]["status"], "latest_checked_at": _iso(kept[0]["checked_at"]),
                         "batches": [b for b in batches if b["source"] == s]} for s, kept in sorted(shown.items())],
            "batches": batches,
            "latest_run": None if not run else {
                "checked_at": _iso(run[0]["checked_at"]), "batches": len(run),
                "quarantined": sum(1 for r in run if r["status"] == QUARANTINED),
                "pass_rate": pass_rate(run), "store_failed_expectations": [f.as_dict() for f in run_findings]},
            "pass_rate": pass_rate(run) if run else None,
            "data_docs_url": "/console/data-docs/index.html" if (self.docs_root / "index.html").is_file() else None,
        }

    def _batch(self, row: dict[str, Any], reports: dict[str, str]) -> dict[str, Any]:
        text = self._report_text(row["report"], reports)
        findings = [f.as_dict() for f in failed_expectations(text) if f.suite == f"batch.{row['source']}"]
        suite_page = self._suite_page(f"batch.{row['source']}")
        return {
            "batch_id": row["batch_id"], "source": row["source"], "status": row["status"],
            "status_name": STATUS_NAMES.get(row["status"], row["status"]), "records": row["records"],
            "ledger_rows": [row["first_ledger_id"] + 1, row["last_ledger_id"]],
            "checked_at": _iso(row["checked_at"]), "failed_expectations": findings,
            "unknown_values": [u for u in unknown_code_values(text) if u["batch_id"] == row["batch_id"]],
            "report": Path(row["report"]).name if row["report"] else None,
            "report_url": f"/console/quarantine/{row['batch_id']}" if text else None,
            "data_docs_url": self.docs_url(row["data_docs"]),
            "validation_url": suite_page,
        }

    def _report_text(self, report: str, cache: dict[str, str]) -> str:
        if not report:
            return ""
        if report not in cache:
            path = self._inside(self.quarantine_root, Path(report))
            cache[report] = path.read_text(encoding="utf-8") if path is not None and path.is_file() else ""
        return cache[report]

    def docs_url(self, path: str) -> str | None:
        inside = self._inside(self.docs_root, Path(path)) if path else None
        if inside is None or not inside.is_file():
            return None
        return "/console/data-docs/" + inside.relative_to(self.docs_root.resolve()).as_posix()

    def _suite_page(self, suite: str) -> str | None:
        """The newest Data Docs page of ``suite``'s validation results, when there is one."""
        folder = self.docs_root / "validations" / Path(*suite.split("."))
        if not folder.is_dir():
            return None
        pages = sorted(folder.rglob("*.html"), key=lambda p: p.stat().st_mtime)
        return self.docs_url(str(pages[-1])) if pages else None

    # -- the files ---------------------------------------------------------------------------------
    def report(self, principal: Principal, batch_id: str) -> tuple[dict[str, Any], str]:
        """The batch and its steward report (markdown), ID-number-like text masked; audited (the report
        quotes the rows that failed validation)."""
        require(principal, "review")
        with self.engine.connect() as conn:
            row = conn.execute(select(flow_batches).where(flow_batches.c.batch_id == batch_id)).first()
        if row is None:
            raise NotFound("no such validated batch")
        text = self._report_text(row.report, {})
        if not text:
            raise NotFound("the batch's report is no longer on disk")
        self._audited(principal, "read_validation_report", f"batch={batch_id[:100]}")
        return self._batch(dict(row._mapping), {row.report: text}), redact(text)

    def docs_file(self, principal: Principal, relative: str) -> tuple[Path, str]:
        """A file of the Data Docs site and its media type; refuses a path that leaves the site. A page
        (GX's HTML over the rows that failed validation, not its stylesheet or images) is audited."""
        require(principal, "review")
        if not relative or relative.endswith("/"):
            relative += "index.html"
        if "\x00" in relative or Path(relative).is_absolute() or ".." in Path(relative).parts:
            raise BadQuery("the path leaves the Data Docs site")
        path = self._inside(self.docs_root, self.docs_root / relative)
        if path is None:
            raise BadQuery("the path leaves the Data Docs site")
        if not path.is_file():
            raise NotFound("no such Data Docs page (has a validation run yet?)")
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if media == "text/html":
            self._audited(principal, "read_data_docs", f"page={relative[:100]}")
        return path, media

    def _audited(self, principal: Principal, action: str, what: str) -> None:
        if self.audit is None:
            raise Unavailable("the audit log is not configured: steward reports are not shown")
        self.audit.append(principal, action, "数据质量核查", [], [what])

    @staticmethod
    def _inside(root: Path, path: Path) -> Path | None:
        """``path`` resolved (symlinks followed), when it lies inside ``root``; else ``None``."""
        try:
            resolved, base = path.resolve(), root.resolve()
        except (OSError, RuntimeError):
            return None
        return resolved if resolved.is_relative_to(base) else None


def latest_run(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The batches of the newest validation run (one run writes one report for all its batches)."""
    if not rows:
        return []
    newest = max(rows, key=lambda r: _aware(r["checked_at"]))
    key = newest["report"]
    return [r for r in rows if r["report"] == key] if key else [newest]


def pass_rate(run: list[dict[str, Any]]) -> float | None:
    """Share of a run's batches not quarantined (a published batch had passed)."""
    if not run:
        return None
    return round(sum(1 for r in run if r["status"] != QUARANTINED) / len(run), 4)


def latest_pass_rate(engine: Engine) -> float | None:
    """The pass rate of the newest validation run (read without scanning older runs)."""
    with engine.connect() as conn:
        newest = conn.execute(select(flow_batches.c.report, flow_batches.c.status)
                              .order_by(flow_batches.c.checked_at.desc()).limit(1)).first()
        if newest is None:
            return None
        if not newest.report:
            return pass_rate([{"status": newest.status}])
        statuses = conn.execute(select(flow_batches.c.status).where(flow_batches.c.report == newest.report)).all()
    return pass_rate([{"status": r.status} for r in statuses])


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _iso(at: datetime | None) -> str | None:
    return _aware(at).isoformat() if at is not None else None


def _neg_time(iso: str | None) -> float:
    return -datetime.fromisoformat(iso).timestamp() if iso else 0.0
