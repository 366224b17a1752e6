"""A resident's own access report (PIPL Art. 45): every read of their data, following a merge,
with role, department, fields and purpose, as JSON, XLSX and print-ready HTML; itself audited."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from onceonly.bootstrap import resolver_state
from store.audit import AuditLog
from tests.integration.api_world import World, build_world, project_outbox


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("access-report"), tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def clients(world: World) -> Iterator[dict[str, TestClient]]:
    made = {}
    for name in ("steward", "auditor", "dept_civil", "worker_a"):
        client = world.app_client()
        client.headers["Authorization"] = f"Bearer {world.users.issue_token(name)}"
        made[name] = client
    yield made
    for client in made.values():
        client.close()


def test_the_report_lists_every_read_following_a_merge_and_is_itself_audited(
        world: World, clients: dict[str, TestClient]) -> None:
    steward, auditor = clients["steward"], clients["auditor"]
    review = steward.get("/api/v1/reviews").json()["reviews"][0]
    state = resolver_state(world.engine)
    away = state.partition()[f"{review['record']['source']}:{review['record']['record_id']}"]
    survivor = review["candidates"][0]["profile_id"]
    assert away != survivor
    assert steward.post(f"/api/v1/residents/{away}/unmask", json={"fields": ["id_number"],
                                                                  "purpose": "核对身份信息"}).status_code == 200

    # the steward confirms the review: the two profiles merge (the older id survives)
    assert steward.post(f"/api/v1/reviews/{review['review_id']}/confirm", json={"profile_id": survivor}).status_code == 200
    project_outbox(world.engine, state)
    merged = steward.get(f"/api/v1/residents/{away}").json()
    resident = merged["profile_id"]
    assert merged["redirected_from"] == away and resident != away
    assert clients["dept_civil"].get(f"/api/v1/residents/{resident}").status_code == 200

    report = auditor.get(f"/api/v1/residents/{away}/access-report").json()
    assert report["resident"] == resident and set(report["profile_ids"]) >= {resident, away}
    reads = report["reads"]
    assert [r["at"] for r in reads] == sorted(r["at"] for r in reads)
    unmasked = [r for r in reads if r["action"] == "unmask"]
    assert unmasked and unmasked[0]["profile_id"] == away and unmasked[0]["purpose"] == "核对身份信息"
    assert unmasked[0]["fields"] and unmasked[0]["role"] == "steward"  # the fields disclosed, as audited
    department = [r for r in reads if r["role"] == "department_reader"]
    assert department and department[-1]["department"] == "civil_affairs" and department[-1]["profile_id"] == resident
    assert all(r["action_name"] for r in reads)

    # the export is audited, and the next report shows it
    exports = [e for e in AuditLog(world.engine).entries(resident=resident, limit=50) if e.action == "access_report"]
    assert exports and exports[0].username == "auditor"
    again = auditor.get(f"/api/v1/residents/{resident}/access-report").json()
    assert any(r["action"] == "access_report" for r in again["reads"]) and len(again["reads"]) > len(reads)

    sheet = auditor.get(f"/api/v1/residents/{resident}/access-report", params={"format": "xlsx"})
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = list(load_workbook(io.BytesIO(sheet.content)).active.iter_rows(values_only=True))
    assert rows[2][0] == "时间（UTC）" and len(rows) - 3 >= len(again["reads"])
    page = auditor.get(f"/api/v1/residents/{resident}/access-report", params={"format": "html"})
    assert page.status_code == 200 and "个人信息查阅记录" in page.text and "第四十五条" in page.text
    assert "<script" not in page.text


def test_only_stewards_and_auditors_export_it(world: World, clients: dict[str, TestClient]) -> None:
    some = world.one(world.community_a).profile_id
    assert clients["worker_a"].get(f"/api/v1/residents/{some}/access-report").status_code == 403
    assert clients["dept_civil"].get(f"/api/v1/residents/{some}/access-report").status_code == 403
    assert clients["auditor"].get("/api/v1/residents/no-such-profile/access-report").status_code == 404
    assert clients["steward"].get(f"/api/v1/residents/{some}/access-report").status_code == 200
