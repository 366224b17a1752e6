"""Data objections (数据异议) through the query service on the real broker: raising, routing to the
department holding the value, each answer, automatic closing after a correction at source,
escalation, scoping, the planner's gaps, replay of the objections topic, and the broker away."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.matching import default_matcher
from core.planner.fields import read_field
from core.profile import Profile
from onceonly import bootstrap
from onceonly.bootstrap import resolver_state
from onceonly.settings import Settings
from schemas.objection_events import ObjectionClosed, ObjectionRaised, ObjectionRouted
from schemas.profile_events import ConfirmMatch
from schemas.record_events import RecordStandardised
from services.objections import ObjectionService, load_policy
from store.audit import AuditLog
from store.objections import ObjectionStore
from tests.helpers import read_topic
from tests.integration.api_world import KEY, PASSWORD, RESIDENTS, World, build_world, kafka_settings, project_outbox
from tests.integration.test_resolver_state import district

pytestmark = pytest.mark.kafka


@pytest.fixture
def world(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path, tmp_path_factory.getbasetemp())


@pytest.fixture
def settings(world: World, kafka_broker: object, tmp_path: Path) -> Settings:
    return kafka_settings(tmp_path, kafka_broker.bootstrap, "obj")  # type: ignore[attr-defined]


def client_for(world: World, settings: Settings, username: str) -> TestClient:
    client = TestClient(create_app(world.engine, ["public_security"], settings), raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {world.users.issue_token(username)}"
    return client


@pytest.fixture
def clients(world: World, settings: Settings) -> Iterator[dict[str, TestClient]]:
    made = {name: client_for(world, settings, name) for name in ("worker_a", "worker_b", "steward", "dept_civil")}
    yield made
    for client in made.values():
        client.close()


def held_field(world: World, field: str) -> tuple[Profile, str]:
    """A resident of community A holding ``field``, and the department whose record holds its value."""
    for profile in world.profiles_in(world.community_a):
        known = read_field(profile.golden, field)
        if known is not None:
            return profile, known.source
    raise AssertionError(f"no resident of {world.community_a} holds {field}")


def department_client(world: World, settings: Settings, department: str) -> TestClient:
    username = f"dept_{department}"
    if all(p.username != username for p in world.users.list()):
        world.users.add(username, PASSWORD, "department_reader", department=department)
    return client_for(world, settings, username)


def test_a_worker_raises_an_objection_that_reaches_the_department_holding_the_value(
        world: World, settings: Settings, clients: dict[str, TestClient]) -> None:
    profile, holder = held_field(world, "name")
    worker = clients["worker_a"]
    raised = worker.post(f"/api/v1/residents/{profile.profile_id}/objections",
                         json={"field": "name", "reason": "居民说姓名登记错了一个字", "proposed_value": "王小明"})
    assert raised.status_code == 201, raised.text
    objection = raised.json()
    days = load_policy().days.get(holder, load_policy().default_days)
    assert objection["department"] == holder and objection["status"] == "open"
    assert objection["due_on"] == (date.today() + timedelta(days=days)).isoformat()
    assert [s["kind"] for s in objection["history"]] == ["raised", "routed"]

    # the field shows 有异议 on the profile, to the worker and the steward
    for who in ("worker_a", "steward"):
        view = clients[who].get(f"/api/v1/residents/{profile.profile_id}").json()
        assert next(f for f in view["fields"] if f["field"] == "name")["disputed"] is True
        assert [o["objection_id"] for o in view["objections"]] == [objection["objection_id"]]
    # one open objection per field: a second is refused, another field is fine
    again = worker.post(f"/api/v1/residents/{profile.profile_id}/objections", json={"field": "name", "reason": "又错"})
    assert again.status_code == 409 and "already open" in again.json()["detail"]
    assert worker.post(f"/api/v1/residents/{profile.profile_id}/objections",
                       json={"field": "no_such_field", "reason": "错了"}).status_code == 409

    # the topic holds the raising and the routing, keyed by the objection
    events = [e for e in read_topic(settings.kafka_bootstrap or "", settings.objections_topic)]
    assert [type(e) for e in events] == [ObjectionRaised, ObjectionRouted]
    assert all(e.objection_id == objection["objection_id"] for e in events)

    # scope: a worker of another community and another department see nothing of it
    other = clients["worker_b"]
    oid = objection["objection_id"]
    assert other.get(f"/api/v1/objections/{oid}").status_code == 404
    assert other.get("/api/v1/objections").json()["objections"] == []
    assert other.post(f"/api/v1/residents/{profile.profile_id}/objections",
                      json={"field": "sex", "reason": "性别错"}).status_code == 404
    stranger = next(d for d in ("housing", "social_security", "civil_affairs") if d != holder)
    with department_client(world, settings, stranger) as wrong_department:
        assert wrong_department.get(f"/api/v1/objections/{oid}").status_code == 404
        assert wrong_department.post(f"/api/v1/objections/{oid}/answer", json={"answer": "confirmed",
                                                                                 "note": "无误"}).status_code == 404
        assert wrong_department.get("/api/v1/objections").json()["objections"] == []
    # a department may not raise, an auditor may not read
    assert clients["dept_civil"].post(f"/api/v1/residents/{profile.profile_id}/objections",
                                      json={"field": "sex", "reason": "性别错"}).status_code == 403

    # the holding department confirms: a reason is required, and the worker reads it
    with department_client(world, settings, holder) as department:
        listed = department.get("/api/v1/objections").json()["objections"]
        assert [o["objection_id"] for o in listed] == [oid]
        assert listed[0]["proposed_value"] in ("王小明", "***")  # masked unless its grant shows names
        assert department.post(f"/api/v1/objections/{oid}/answer", json={"answer": "confirmed"}).status_code == 409
        done = department.post(f"/api/v1/objections/{oid}/answer",
                               json={"answer": "confirmed", "note": "与户籍底册核对无误"}).json()
    assert done["status"] == "closed" and done["outcome"] == "confirmed"
    seen = worker.get(f"/api/v1/objections/{oid}").json()
    assert seen["answer_note"] == "与户籍底册核对无误" and seen["awaiting"] == "已办结"
    view = worker.get(f"/api/v1/residents/{profile.profile_id}").json()
    assert next(f for f in view["fields"] if f["field"] == "name")["disputed"] is False

    actions = [e.action for e in AuditLog(world.engine).entries(resident=profile.profile_id, limit=100)]
    assert {"raise_objection", "answer_objection", "read_objections"} <= set(actions)


def test_not_ours_sends_it_on_and_nobody_left_escalates_to_the_stewards(
        world: World, settings: Settings, clients: dict[str, TestClient]) -> None:
    profile, holder = held_field(world, "residential_address")
    oid = clients["worker_a"].post(f"/api/v1/residents/{profile.profile_id}/objections",
                                   json={"field": "residential_address", "reason": "已搬走"}).json()["objection_id"]
    asked = [holder]
    suggested = next(d for d in ("housing", "civil_affairs", "social_security") if d != holder)
    with department_client(world, settings, holder) as department:
        moved = department.post(f"/api/v1/objections/{oid}/answer",
                                json={"answer": "not_ours", "suggested_department": suggested}).json()
    assert moved["department"] == suggested and moved["status"] == "open" and moved["routed_to"] == [holder, suggested]
    asked.append(suggested)
    # each "not ours" without a suggestion goes to the next authority not yet asked, until none is left
    for _ in range(10):
        current = clients["steward"].get(f"/api/v1/objections/{oid}").json()
        if current["escalated"]:
            break
        with department_client(world, settings, current["department"]) as department:
            answered = department.post(f"/api/v1/objections/{oid}/answer", json={"answer": "not_ours"})
            assert answered.status_code == 200, answered.text
    final = clients["steward"].get(f"/api/v1/objections/{oid}").json()
    assert final["escalated"] and final["status"] == "open"
    assert len(final["routed_to"]) == len(set(final["routed_to"])) >= 3
    escalated = clients["steward"].get("/api/v1/objections", params={"escalated": True}).json()["objections"]
    assert [o["objection_id"] for o in escalated] == [oid]


def test_a_correction_at_source_closes_the_objection_once_the_new_version_is_resolved(
        world: World, settings: Settings, clients: dict[str, TestClient]) -> None:
    profile, holder = held_field(world, "phones")
    known = read_field(profile.golden, "phones")
    assert known is not None
    oid = clients["worker_a"].post(f"/api/v1/residents/{profile.profile_id}/objections",
                                   json={"field": "phones", "reason": "号码已停用"}).json()["objection_id"]
    with department_client(world, settings, holder) as department:
        answered = department.post(f"/api/v1/objections/{oid}/answer",
                                   json={"answer": "corrected", "note": "已在系统中更正"}).json()
    assert answered["status"] == "open" and answered["awaiting"] == "部门已更正，待新数据到达"
    assert clients["steward"].post("/api/v1/objections/sweep").json() == {"closed": 0, "escalated": 0}

    # the department's next pull brings the corrected version of its record
    original = next(item for item in district(RESIDENTS) if item.key == f"{holder}:{known.record_id}")
    assert original.record is not None
    record = original.record.model_copy(update={"phones": ("+8613800138000",)})
    corrected = RecordStandardised(event_id=f"{original.event_id}-fix", source=original.source,
                                   record_id=original.record_id, change="upsert", content_hash="f" * 64,
                                   observed_at=datetime.now(UTC), record=record)
    state = resolver_state(world.engine)
    state.resolve_batch([corrected], default_matcher())
    project_outbox(world.engine, state)

    assert clients["steward"].post("/api/v1/objections/sweep").json() == {"closed": 1, "escalated": 0}
    closed = clients["worker_a"].get(f"/api/v1/objections/{oid}").json()
    assert closed["status"] == "closed" and closed["outcome"] == "corrected_at_source"
    assert (closed["new_source"], closed["new_record_id"]) == (holder, known.record_id)
    view = clients["worker_a"].get(f"/api/v1/residents/{profile.profile_id}").json()
    assert next(f for f in view["fields"] if f["field"] == "phones")["disputed"] is False
    assert clients["steward"].post("/api/v1/objections/sweep").json() == {"closed": 0, "escalated": 0}
    kinds = [type(e).__name__ for e in read_topic(settings.kafka_bootstrap or "", settings.objections_topic)]
    assert kinds[-1] == "ObjectionClosed"


def test_an_overdue_objection_is_escalated_once_and_the_planner_asks_the_field_again(
        world: World, settings: Settings, clients: dict[str, TestClient]) -> None:
    profile, _ = held_field(world, "name")
    raised = clients["worker_a"].post(f"/api/v1/residents/{profile.profile_id}/objections",
                                      json={"field": "name", "reason": "名字写错，身份证 11010519491231002X"}).json()
    oid = raised["objection_id"]
    assert "11010519491231002X" not in str(raised) and "110105********002X" in raised["reason"]
    plan = clients["worker_a"].post("/api/v1/planner", json={
        "fields": ["name", "sex"], "profile_ids": [profile.profile_id]})
    assert plan.status_code == 200, plan.text
    resident = plan.json()["residents"][0]
    assert "name" in resident["missing"] and resident["disputed"] == ["name"]

    later = datetime.now(UTC) + timedelta(days=60)
    service = bootstrap.objection_service(settings, world.engine, AuditLog(world.engine))
    late = ObjectionService(service.store, service.publish, service.audit, digest_key=KEY, clock=lambda: later)
    assert (late.sweep().escalated, late.sweep().escalated) == (1, 0)
    steward_view = clients["steward"].get("/api/v1/objections", params={"escalated": True}).json()["objections"]
    assert [o["objection_id"] for o in steward_view] == [oid] and steward_view[0]["escalated"]


def test_replaying_the_objections_topic_rebuilds_the_table(
        world: World, settings: Settings, clients: dict[str, TestClient]) -> None:
    profile, holder = held_field(world, "sex")
    first = clients["worker_a"].post(f"/api/v1/residents/{profile.profile_id}/objections",
                                     json={"field": "sex", "reason": "性别登记错误"}).json()["objection_id"]
    clients["worker_a"].post(f"/api/v1/residents/{profile.profile_id}/objections",
                             json={"field": "birth_date", "reason": "出生日期不对"})
    clients["worker_a"].post(f"/api/v1/objections/{first}/withdraw", json={"note": "问清楚了，是误会"})
    store = ObjectionStore(world.engine)
    before = store.checksum_rows()
    assert [status for _, _, status in before].count("closed") == 1

    events = read_topic(settings.kafka_bootstrap or "", settings.objections_topic)
    service = bootstrap.objection_service(settings, world.engine, AuditLog(world.engine))
    assert service.matches_log(events)
    assert not service.matches_log(events[:-1])  # the withdrawal missing: not the same table
    assert service.replay(events) == len(events)
    assert store.checksum_rows() == before
    assert service.replay([*events, *events]) == len(events)  # a resent event applies once
    assert store.checksum_rows() == before
    assert any(isinstance(e, ObjectionClosed) and e.outcome == "withdrawn" for e in events)


def test_with_the_broker_away_an_objection_is_refused_and_nothing_is_stored(world: World, tmp_path: Path) -> None:
    away = Settings(data_dir=tmp_path / "away", id_hash_key=KEY, kafka_bootstrap="127.0.0.1:1",
                    _env_file=None)
    profile, _ = held_field(world, "name")
    with client_for(world, away, "worker_a") as worker:
        answer = worker.post(f"/api/v1/residents/{profile.profile_id}/objections",
                             json={"field": "name", "reason": "名字写错"})
    assert answer.status_code == 503 and "Kafka" in answer.json()["detail"]
    assert ObjectionStore(world.engine).checksum_rows() == []


def test_a_review_shows_the_departments_and_open_objections_a_confirm_would_touch(
        world: World, settings: Settings, clients: dict[str, TestClient]) -> None:
    from onceonly.bootstrap import access_grants as load_grants

    steward = clients["steward"]
    review = steward.get("/api/v1/reviews").json()["reviews"][0]
    candidate = review["candidates"][0]["profile_id"]
    raised = steward.post(f"/api/v1/residents/{candidate}/objections", json={"field": "sex", "reason": "性别存疑"})
    assert raised.status_code == 201, raised.text
    touched = next(r for r in steward.get("/api/v1/reviews").json()["reviews"] if r["review_id"] == review["review_id"])
    preview = next(t for t in touched["touches"]["candidates"] if t["profile_id"] == candidate)
    assert [o["objection_id"] for o in preview["objections"]] == [raised.json()["objection_id"]]
    grants = load_grants()
    assert [d["department"] for d in preview["departments"]] == sorted(grants)
    assert all(grants[d["department"]].allows(f) for d in preview["departments"] for f in d["fields"])
    page = world.login(world.app_client(), "steward").get("/console/reviews").text
    assert f'data-candidate="{candidate}"' in page and "未结数据异议 1 条" in page


def test_a_department_answers_through_its_feed_file_and_the_counts_add_up(
        world: World, settings: Settings, clients: dict[str, TestClient], tmp_path: Path) -> None:
    import csv

    from core.access import Principal, visibility

    profile, holder = held_field(world, "name")
    oid = clients["worker_a"].post(f"/api/v1/residents/{profile.profile_id}/objections",
                                   json={"field": "name", "reason": "名字写错", "proposed_value": "王小明"}
                                   ).json()["objection_id"]
    feed = tmp_path / "objections.csv"
    settings = settings.model_copy(update={"database_url": f"sqlite:///{world.engine.url.database}"})
    write_objections_feed = bootstrap.hub(settings).publishing.write_objections_feed
    assert write_objections_feed(holder, feed) == 1
    with feed.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["objection_id"] for r in rows] == [oid] and rows[0]["field"] == "name"
    reader = Principal(user_id=f"feed:{holder}", username=f"feed:{holder}", role="department_reader", department=holder)
    shown = visibility(reader, "name", grants=bootstrap.access_grants()) == "shown"
    assert rows[0]["answer"] == "" and rows[0]["proposed_value"] == ("王小明" if shown else "***")
    rows[0].update(answer="confirmed", note="与底册核对无误")
    rows.append({"objection_id": "no-such-objection", "answer": "confirmed", "note": "x"})
    rows.append({"objection_id": oid, "answer": "maybe"})
    service = bootstrap.objection_service(settings, world.engine, AuditLog(world.engine))
    result = service.answer_file(reader, rows)
    assert result.rows == 3 and result.answered == 1 and [n for n, _ in result.refused] == [3, 4]
    assert clients["steward"].get(f"/api/v1/objections/{oid}").json()["outcome"] == "confirmed"
    assert write_objections_feed(holder, feed) == 0  # answered: gone from the feed


def test_an_objection_follows_its_resident_into_a_merge(
        world: World, settings: Settings, clients: dict[str, TestClient]) -> None:
    steward = clients["steward"]
    review = steward.get("/api/v1/reviews").json()["reviews"][0]
    state = resolver_state(world.engine)
    away = state.partition()[f"{review['record']['source']}:{review['record']['record_id']}"]
    survivor = review["candidates"][0]["profile_id"]
    on = {}
    for pid, field in ((away, "name"), (survivor, "sex")):  # one of the two ids is merged away
        raised = steward.post(f"/api/v1/residents/{pid}/objections", json={"field": field, "reason": "存疑"})
        assert raised.status_code == 201, raised.text
        on[pid] = raised.json()["objection_id"]
    # confirmed through the resolver's state (the app would publish to the topic, which no projection
    # reads in this test), then projected
    state.handle_command(ConfirmMatch(steward="steward", issued_at=datetime.now(UTC), review_id=review["review_id"],
                                      profile_id=survivor))
    project_outbox(world.engine, state)
    resident = steward.get(f"/api/v1/residents/{away}").json()["profile_id"]  # the older id survives
    assert resident in (away, survivor)
    gone = survivor if resident == away else away
    swept = steward.post("/api/v1/objections/sweep")
    assert swept.status_code == 200, swept.text
    moved = steward.get(f"/api/v1/objections/{on[gone]}").json()
    assert moved["profile_id"] == resident and "followed" in [s["kind"] for s in moved["history"]]
    stayed = steward.get(f"/api/v1/objections/{on[resident]}").json()
    assert "followed" not in [s["kind"] for s in stayed["history"]]
    # both now hang on the survivor; one whose disputed value the merge replaced was closed by the sweep
    still_open = {oid for oid in on.values() if steward.get(f"/api/v1/objections/{oid}").json()["status"] == "open"}
    view = steward.get(f"/api/v1/residents/{resident}").json()
    assert {o["objection_id"] for o in view["objections"]} == still_open and on[resident] in still_open
    events = read_topic(settings.kafka_bootstrap or "", settings.objections_topic)
    assert bootstrap.objection_service(settings, world.engine, AuditLog(world.engine)).matches_log(events)
