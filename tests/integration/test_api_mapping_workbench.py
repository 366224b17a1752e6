"""The mapping workbench over HTTP (FastAPI TestClient, real SQLite store and audit log): a steward
uploads a sample of a department's file, with or without a draft mapping, and reads the report as
JSON or on the console page (a CSRF-protected multipart form); other roles are refused; a bad draft
is a 400 with a message; re-standardising without Kafka settings is a 503, never a stack trace."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from store.audit import audit_log
from store.auth_tables import UserStore
from store.engine import make_engine
from tests.helpers import PROJECT
from tests.integration.api_world import form_token

COLUMNS = ["走访编号", "姓名", "性别", "与户主关系", "联系电话", "社区"]
ROWS = [
    ["V-1", "王芳", "女", "本人", "13912345671", "夫子庙社区"],
    ["V-2", "李雷", "男", "表舅", "13912345672", "夫子庙社区"],  # 表舅: not in the shipped codes
    ["V-3", "", "女", "本人", "", "夫子庙社区"],  # nothing identifies her: refused
]


def _sample() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(ROWS)
    return out.getvalue().encode("utf-8")


@pytest.fixture
def client(tmp_path: object) -> Iterator[TestClient]:
    engine = make_engine(f"sqlite:///{tmp_path}/store.db")
    UserStore(engine).add("steward", "steward-password", "steward")
    UserStore(engine).add("worker", "worker-password", "community_worker", communities=["夫子庙社区"])
    with TestClient(create_app(engine, ["community"]), raise_server_exceptions=False) as test_client:
        test_client.post("/console/login", data={"username": "steward", "password": "steward-password",
                                                 "csrf": form_token(test_client)})
        yield test_client
    engine.dispose()


def _check(client: TestClient, draft: bytes | None = None) -> dict[str, object]:
    files: dict[str, tuple[str, bytes]] = {"file": ("visits.csv", _sample())}
    if draft is not None:
        files["mapping"] = ("community.yaml", draft)
    answer = client.post("/api/v1/mappings/community/check", files=files)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def test_a_steward_checks_a_sample_and_a_draft_that_fixes_it(client: TestClient) -> None:
    report = _check(client)
    assert (report["rows"], report["accepted"], report["refused_count"]) == (3, 2, 1)
    assert report["coded"]["relation_to_head"]["outside_code_table"] == {"表舅": 1}  # type: ignore[index]
    assert "no name" in report["refused"][0]["reason"]  # type: ignore[index]
    assert report["evidence"]["phone"] == 2  # type: ignore[index]
    shipped = (PROJECT / "mappings" / "community.yaml").read_text(encoding="utf-8")
    draft = shipped.replace('relation_to_head: {本人: "02", 合租: "99"}', 'relation_to_head: {本人: "02", 合租: "99", 表舅: "99"}')
    fixed = _check(client, draft.encode("utf-8"))
    assert fixed["coded"]["relation_to_head"]["outside_code_table"] == {}  # type: ignore[index]
    with client.app.state.audit.engine.connect() as conn:  # type: ignore[attr-defined]
        actions = [a for (a,) in conn.execute(select(audit_log.c.action))]
    assert actions.count("mapping_check") == 2


def test_a_bad_draft_is_a_400_with_a_message(client: TestClient) -> None:
    bad = client.post("/api/v1/mappings/community/check",
                      files={"file": ("visits.csv", _sample()),
                             "mapping": ("m.yaml", b"source: community\nkind: ingest\nversion: x\nrecord_id: [a]\n"
                                                   b"standardise: {fields: {nmae: x}}\n")})
    assert bad.status_code == 400 and "not a canonical field" in bad.text
    other = client.post("/api/v1/mappings/community/check",
                        files={"file": ("visits.csv", _sample()), "mapping": ("m.yaml", (PROJECT / "mappings" /
                                                                                         "housing.yaml").read_bytes())})
    assert other.status_code == 400 and "housing" in other.text
    assert client.post("/api/v1/mappings/nowhere/check",
                       files={"file": ("visits.csv", _sample())}).status_code == 404


def test_the_console_page_shows_the_report_and_refuses_restandardising_without_kafka(client: TestClient) -> None:
    page = client.get("/console/mappings")
    assert page.status_code == 200 and 'id="check-form"' in page.text
    shown = client.post("/console/mappings/check", data={"source": "community",
                                                         "csrf": form_token(client, "/console/mappings")},
                        files={"file": ("visits.csv", _sample())})
    assert shown.status_code == 200, shown.text
    assert 'id="field-rates"' in shown.text and "表舅×1" in shown.text and "139****5672" in shown.text
    assert "13912345672" not in shown.text  # phones masked on both sides
    down = client.post("/console/mappings/restandardise", data={"source": "community",
                                                                "csrf": form_token(client, "/console/mappings")})
    assert down.status_code == 503 and "未能重新标准化" in down.text


def test_other_roles_are_refused(client: TestClient) -> None:
    worker = TestClient(client.app, raise_server_exceptions=False)
    worker.post("/console/login", data={"username": "worker", "password": "worker-password",
                                        "csrf": form_token(worker)})
    assert worker.get("/console/mappings").status_code == 403
    token = form_token(worker, "/console/")
    assert worker.post("/api/v1/mappings/community/check",
                       files={"file": ("visits.csv", _sample())}).status_code == 403
    assert worker.post("/console/mappings/restandardise", data={"source": "community", "csrf": token}).status_code == 403
