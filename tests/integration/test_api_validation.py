"""Data quality for stewards: the validation service's real Great Expectations run over community visits
in the ledger (one passing batch, then one with relations outside GB/T 4761), read back through
``GET /api/v1/validation``, the 数据质量 console page, the steward report and the Data Docs site
served read-only (a path leaving the site is refused)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from onceonly import bootstrap
from onceonly.settings import Settings
from schemas.source_record import SourceRecord
from services.validation import ValidateBatches
from store import flow_batches
from store.auth_tables import UserStore
from store.engine import make_engine
from store.ledger import Delivered, SourceRecordLedger
from tests.integration.api_world import form_token

PASSWORD = "validation-pw-123"


def _visits(first_offset: int, record_ids: list[str], relation: str) -> list[Delivered]:
    """Community visits as the ledger agent stores them; ``relation`` is the value under test."""
    now = datetime.now(UTC)
    return [Delivered("raw.community", 0, first_offset + i, SourceRecord.of(
        source="community", record_id=rid, mapping_version="cm-1", observed_at=now,
        payload={"走访编号": rid, "姓名": f"测试{i}", "性别": "女", "与户主关系": relation, "社区": "夫子庙社区"}))
        for i, rid in enumerate(record_ids)]


@pytest.fixture(scope="module")
def validated(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    tmp = tmp_path_factory.mktemp("validation")
    settings = Settings(data_dir=tmp / "var", id_hash_key="validation-key", _env_file=None)
    engine = make_engine(settings.store_url)
    ledger = SourceRecordLedger(engine)
    ledger.apply(_visits(0, ["V-1", "V-2"], relation="妻"))
    first = bootstrap.hub(settings).validation.validate(ValidateBatches())  # real GX, Data Docs, report, flow_batches
    assert first.passed
    ledger.apply(_visits(2, ["V-900", "V-901"], relation="火星人"))  # outside GB/T 4761
    second = bootstrap.hub(settings).validation.validate(ValidateBatches())
    assert not second.passed
    users = UserStore(engine)
    for name, role, extra in (("steward", "steward", {}), ("admin", "admin", {}), ("auditor", "auditor", {}),
                              ("worker", "community_worker", {"communities": ["夫子庙社区"]})):
        users.add(name, PASSWORD, role, **extra)  # type: ignore[arg-type]
    engine.dispose()
    return settings


@pytest.fixture(scope="module")
def app(validated: Settings) -> Iterator[tuple[TestClient, Settings]]:
    engine = make_engine(validated.store_url)
    with TestClient(create_app(engine, [], validated), raise_server_exceptions=False) as client:
        yield client, validated
    engine.dispose()


def _as(client: TestClient, username: str) -> TestClient:
    client.cookies.clear()
    answer = client.post("/console/login", data={"username": username, "password": PASSWORD,
                                                 "csrf": form_token(client)}, follow_redirects=False)
    assert answer.status_code == 303
    return client


def test_the_latest_batches_come_with_status_failed_expectations_and_links(app: tuple[TestClient, Settings]) -> None:
    client, settings = _as(app[0], "steward"), app[1]
    found = client.get("/api/v1/validation").json()
    batches = found["batches"]
    assert [b["status"] for b in batches] == ["quarantined", "passed"]  # quarantined first
    bad = batches[0]
    assert bad["source"] == "community" and bad["records"] == 4 and bad["status_name"] == "已隔离"
    assert any(f["column"] == "relation_to_head" and f["expectation"] == "expect_column_values_to_be_in_set"
               for f in bad["failed_expectations"])
    assert not batches[1]["failed_expectations"]
    assert bad["report_url"] == f"/console/quarantine/{bad['batch_id']}"
    assert bad["data_docs_url"] == "/console/data-docs/index.html"
    assert bad["validation_url"] and bad["validation_url"].startswith("/console/data-docs/validations/batch/community/")
    assert found["latest_run"]["quarantined"] == 1 and found["pass_rate"] == 0.0
    assert [s["source"] for s in found["sources"]] == ["community"]
    assert str(settings.data_dir) not in str(found)  # links, not server paths


def test_the_steward_report_and_the_data_docs_open_through_the_console(app: tuple[TestClient, Settings]) -> None:
    client = _as(app[0], "steward")
    bad = client.get("/api/v1/validation").json()["batches"][0]
    report = client.get(bad["report_url"])
    assert report.status_code == 200 and "text/html" in report.headers["content-type"]
    assert "FAILED" in report.text and "relation_to_head" in report.text and "<table>" in report.text
    index = client.get(bad["data_docs_url"])
    assert index.status_code == 200 and "text/html" in index.headers["content-type"]
    assert "Validation" in index.text and index.headers["cache-control"] == "no-store"
    assert index.headers["content-security-policy"].startswith("sandbox")  # GX scripts get no console origin
    suite_page = client.get(bad["validation_url"])
    assert suite_page.status_code == 200 and "relation_to_head" in suite_page.text
    assert client.get("/console/data-docs/").status_code == 200  # a folder opens its index.html
    page = client.get("/console/quality")
    assert page.status_code == 200 and "数据质量" in page.text
    assert page.text.index(bad["batch_id"]) < page.text.index("已通过")  # quarantined listed first
    assert bad["report_url"] in page.text and "GX 校验结果" in page.text


@pytest.mark.parametrize("path", [
    "..%2F..%2Fonceonly.db",  # the store, two folders up
    "..%2F..%2F..%2F..%2Fquarantine",
    "%2Fetc%2Fpasswd",  # an absolute path
    "static/..%2F..%2F..%2F..%2F..%2Fonceonly.db",
    "..%5C..%5Conceonly.db",
])
def test_a_path_leaving_the_data_docs_site_is_refused(app: tuple[TestClient, Settings], path: str) -> None:
    client = _as(app[0], "steward")
    answer = client.get(f"/console/data-docs/{path}")
    assert answer.status_code in (400, 404), answer.status_code
    assert "SQLite format" not in answer.text and "root:" not in answer.text


def test_a_symlink_out_of_the_site_is_refused(app: tuple[TestClient, Settings]) -> None:
    client, settings = _as(app[0], "steward"), app[1]
    site = settings.data_dir / "gx" / "uncommitted" / "data_docs" / "local_site"
    link = site / "store-link.db"
    link.unlink(missing_ok=True)
    link.symlink_to(settings.sqlite_path)
    try:
        answer = client.get("/console/data-docs/store-link.db")
        assert answer.status_code == 400 and "SQLite format" not in answer.text
    finally:
        link.unlink()


def test_the_admin_sees_quality_figures_but_not_reports_and_others_nothing(app: tuple[TestClient, Settings]) -> None:
    client = app[0]
    _as(client, "admin")
    assert client.get("/api/v1/validation").status_code == 200
    bad = client.get("/api/v1/validation").json()["batches"][0]
    assert client.get(bad["report_url"]).status_code == 403
    assert client.get("/console/data-docs/index.html").status_code == 403
    assert "质量报告" not in client.get("/console/quality").text  # no links it could not open
    _as(client, "worker")
    assert client.get("/api/v1/validation").status_code == 403
    assert client.get(bad["report_url"]).status_code == 403
    _as(client, "auditor")
    refusals = [e for e in client.get("/api/v1/audit").json()["entries"] if e["action"].startswith("refused:")]
    assert {(e["username"], e["action"]) for e in refusals} >= {("worker", "refused:quarantine_report"),
                                                                ("admin", "refused:data_docs")}
    client.cookies.clear()
    assert client.get("/console/quality", follow_redirects=False).status_code == 303  # to the login page


def test_an_unknown_batch_or_a_report_gone_from_disk_is_a_404(app: tuple[TestClient, Settings]) -> None:
    client, settings = _as(app[0], "steward"), app[1]
    assert client.get("/console/quarantine/no-such-batch").status_code == 404
    passed = next(b for b in flow_batches.batches(make_engine(settings.store_url)) if b["status"] == flow_batches.PASSED)
    report = Path(str(passed["report"]))
    moved = report.with_suffix(".bak")
    report.rename(moved)
    try:
        answer = client.get(f"/console/quarantine/{passed['batch_id']}")
        assert answer.status_code == 404 and "Traceback" not in answer.text
    finally:
        moved.rename(report)


def test_the_quality_page_lists_the_values_outside_the_code_tables_with_their_counts(
        app: tuple[TestClient, Settings]) -> None:
    client = _as(app[0], "steward")
    batches = client.get("/api/v1/validation").json()["batches"]
    unknown = [u for b in batches for u in b["unknown_values"]]
    assert [(u["field"], u["value"], u["records"]) for u in unknown] == [("relation_to_head", "火星人", 2)]
    page = client.get("/console/quality").text
    assert 'id="unknown-values"' in page and "火星人" in page
