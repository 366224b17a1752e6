"""Source scorecards on the real broker: dead letters from the topic, records from the ledger,
objections, overruled fields and reviews from the store, per department and month; the monthly
report as XLSX and as HTML with charts; a department sees only its own."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from kafka import KafkaProducer
from openpyxl import load_workbook

from api.app import create_app
from core.planner.fields import read_field
from schemas.codec import encode
from schemas.source_record import DeadLetter, SourceRecord
from store.ledger import Delivered, SourceRecordLedger
from tests.integration.api_world import PASSWORD, World, build_world, kafka_settings

pytestmark = pytest.mark.kafka
MONTH = datetime.now(UTC).strftime("%Y-%m")


@pytest.fixture
def world(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path, tmp_path_factory.getbasetemp())


def test_a_departments_month_counts_what_it_sent_and_how_it_fared(world: World, kafka_broker: object,
                                                                   tmp_path: Path) -> None:
    settings = kafka_settings(tmp_path, kafka_broker.bootstrap, "sc")  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    for n, reason in enumerate(["unreadable date: 出生日期 '1985年13月'", "unreadable date: 出生日期 'x'",
                                "no record id"]):
        letter = DeadLetter(source="civil_affairs", location=f"低保台账.csv:row {n}", reason=reason, observed_at=now)
        producer.send(settings.deadletter_topic, key=b"civil_affairs", value=encode(letter))
    producer.flush()
    producer.close()
    SourceRecordLedger(world.engine).apply([
        Delivered("raw.civil_affairs", 0, n, SourceRecord.of(source="civil_affairs", record_id=f"MZ-{n}",
                                                            payload={"姓名": "张三"}, mapping_version="t",
                                                            observed_at=now)) for n in range(4)])
    profile = next(p for p in world.profiles_in(world.community_a) if read_field(p.golden, "name") is not None)
    holder = read_field(profile.golden, "name").source  # type: ignore[union-attr]
    world.users.add("dept_holder", PASSWORD, "department_reader", department=holder)

    def client(username: str) -> TestClient:
        made = TestClient(create_app(world.engine, ["civil_affairs"], settings), raise_server_exceptions=False)
        made.headers["Authorization"] = f"Bearer {world.users.issue_token(username)}"
        return made

    with client("worker_a") as worker, client("dept_holder") as department, client("steward") as steward:
        oid = worker.post(f"/api/v1/residents/{profile.profile_id}/objections",
                          json={"field": "name", "reason": "姓名有误"}).json()["objection_id"]
        assert department.post(f"/api/v1/objections/{oid}/answer",
                               json={"answer": "confirmed", "note": "核对无误"}).status_code == 200
        answer = steward.get("/api/v1/scorecards", params={"month": MONTH}).json()
        assert answer["not_counted"] == []
        cards = {c["department"]: c for c in answer["scorecards"]}
        civil = cards["civil_affairs"]
        assert civil["records_sent"] == 4 and civil["dead_letters"] == 3
        assert civil["dead_letters_by_reason"] == {"unreadable date": 2, "no record id": 1}
        held = cards[holder]
        assert held["objections_received"] == 1 and held["objections_answered"] == 1
        assert held["median_answer_days"] is not None and held["median_answer_days"] >= 0
        every = steward.get("/api/v1/scorecards").json()["scorecards"]  # the district's own months
        assert sum(c["overruled_fields"] for c in every) > 0 and sum(c["reviews_caused"] for c in every) > 0

        own = department.get("/api/v1/scorecards").json()["scorecards"]
        assert own and {c["department"] for c in own} == {holder}
        other = next(d for d in ("housing", "social_security", "civil_affairs") if d != holder)
        assert department.get("/api/v1/scorecards", params={"department": other}).status_code == 403
        assert worker.get("/api/v1/scorecards").status_code == 403

        sheet = steward.get("/api/v1/scorecards/civil_affairs/report", params={"format": "xlsx", "month": MONTH})
        rows = list(load_workbook(io.BytesIO(sheet.content)).active.iter_rows(values_only=True))
        assert rows[1][:3] == ("月份", "报送记录", "死信") and rows[2][:3] == (MONTH, 4, 3)
        page = steward.get("/api/v1/scorecards/civil_affairs/report", params={"month": MONTH})
        assert page.status_code == 200 and 'id="chart-monthly"' in page.text and 'data-label="unreadable date"' in page.text
        console = steward.get("/console/scorecards")
        assert console.status_code == 200 and 'data-department="civil_affairs"' in console.text
