"""Every read of resident data is audited, every refusal too (issue 14, item 2).

The route inventory comes from the app's own router: every GET route is either called here as a
role that may use it, with real path parameters, and must leave an audit entry naming that user,
or it is on the commented allow-list of routes that return no resident data. A new GET route that
is in neither fails the inventory test, so nobody adds a reading route without deciding.

The world is the 300-resident district (tests/integration/api_world.py) with the session's real
broker, so that the dead letters, objections and scorecards that live in Kafka answer too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from kafka import KafkaProducer
from sqlalchemy import func, insert, select
from typer.testing import CliRunner

from api.app import create_app
from localinfra.kafka_broker import KafkaBroker
from schemas.codec import encode
from schemas.source_record import DeadLetter
from store.audit import AuditLog, audit_engine, audit_log
from store.flow_batches import flow_batches
from tests.integration.api_world import World, build_world, kafka_settings

pytestmark = pytest.mark.kafka

ID_NUMBER = "11010519491231002X"
# A dead letter of the civil affairs ledger: the ID number typed with spaces, a phone, the assistance
# programme, the amount and a health note, in the row and in the free text around it.
LETTER = DeadLetter(
    source="civil_affairs", location="低保台账.csv:row 7", reason="unreadable date; 身份证 1101 0519 4912 3100 2X",
    raw_excerpt="张三,110105 19491231 002X,138-0013-8000,城市低保,1385,患有糖尿病",
    raw_row={"档案编号": "MZ-7", "姓名": "张三", "身份证号": "110105 19491231 002X", "联系电话": "138-0013-8000",
             "救助类别": "城市低保", "发放金额": "1385", "备注": "患有糖尿病，行动不便", "出生日期": "1949年13月"})

# GET routes that return no resident data, and why. Everything else must be called in CALLS below.
NO_RESIDENT_DATA = {
    "/openapi.json": "the API's schema",
    "/asyncapi.json": "the event schema",
    "/docs": "the list of routes",
    "/health": "liveness",
    "/metrics": "counters, no resident values",
    "/console/login": "the login form",
    "/api/v1/me": "the caller's own account",
    "/api/v1/fields": "which fields the caller sees, not their values",
    "/api/v1/forms": "form templates",
    "/api/v1/sources": "record counts per source",
    "/api/v1/pipeline/health": "lag and counts",
    "/api/v1/pipeline/health/history": "lag and counts over time",
    "/console/health": "lag and counts",
    "/api/v1/validation": "batch counts and expectations (unexpected values redacted)",
    "/console/quality": "batch counts and expectations (unexpected values redacted)",
    "/api/v1/pull-holds": "held pulls: counts and reasons, no record values",
    "/console/pull-holds": "held pulls: counts and reasons, no record values",
    "/api/v1/users": "accounts of staff, not residents",
    "/api/v1/users/requests": "accounts of staff, not residents",
    "/console/users": "accounts of staff, not residents",
    "/console/account-requests": "accounts of staff, not residents",
    "/console/planner": "the planner's form: communities and forms; a plan is a POST, audited",
    "/console/mappings": "the mapping workbench's upload form; a check is a POST of a sample file, audited",
    "/console/data-docs": "a redirect to the Data Docs' index (the index is called below)",
}


def get_routes(app: FastAPI) -> dict[str, str]:
    """Path → route name of every GET route, walked from ``app.routes`` (FastAPI keeps an included
    router as one entry whose routes it resolves lazily)."""
    found: dict[str, str] = {}
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        pairs = [(c.path, c.original_route) for c in contexts()] if contexts else [(getattr(route, "path", ""), route)]
        for path, original in pairs:
            if "GET" in (getattr(original, "methods", None) or set()):
                found[path] = getattr(original, "name", "")
    return found


def entries(world: World) -> int:
    with audit_engine(world.engine).connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())


def newest(world: World, n: int) -> list[Any]:
    return AuditLog(world.engine).entries(limit=n)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, kafka_broker: KafkaBroker) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("reads-audited")
    built = build_world(tmp, tmp_path_factory.getbasetemp())
    built.settings = kafka_settings(tmp, kafka_broker.bootstrap, "ra")
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap)
    producer.send(built.settings.deadletter_topic, key=b"civil_affairs", value=encode(LETTER))
    producer.flush()
    producer.close()
    # A quarantined batch with its steward report, and a Data Docs page (both quote failing rows).
    quarantine = built.settings.data_dir / "quarantine"
    quarantine.mkdir(parents=True)
    (quarantine / "b1.md").write_text(f"# civil_affairs\n\n| id_number | {ID_NUMBER} |\n", encoding="utf-8")
    with built.engine.begin() as conn:
        conn.execute(insert(flow_batches).values(batch_id="b1", source="civil_affairs", first_ledger_id=0,
                                                 last_ledger_id=1, records=1, status="quarantined",
                                                 checked_at=datetime.now(UTC), report=str(quarantine / "b1.md"),
                                                 data_docs=""))
    docs = built.settings.data_dir / "gx" / "uncommitted" / "data_docs" / "local_site"
    docs.mkdir(parents=True)
    (docs / "index.html").write_text("<html><body>rows that failed</body></html>", encoding="utf-8")
    yield built
    built.engine.dispose()


@pytest.fixture(scope="module")
def app(world: World) -> FastAPI:
    return create_app(world.engine, ["public_security"], world.settings)


@pytest.fixture(scope="module")
def clients(world: World, app: FastAPI) -> Iterator[dict[str, TestClient]]:
    opened = {}
    for name in ("worker_a", "steward", "dept_civil", "auditor"):
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        opened[name] = world.login(client, name)
    yield opened
    for client in opened.values():
        client.__exit__(None, None, None)


def calls(world: World, clients: dict[str, TestClient]) -> dict[str, tuple[str, str, dict[str, str]]]:
    """Route → (user, the path with real parameters, query): a caller allowed to read it."""
    resident = world.one(world.community_a, with_id=True)
    household = next(p.golden.household_id.value for p in world.profiles_in(world.community_a)
                     if p.golden.household_id is not None)
    surname = (resident.golden.name.value if resident.golden.name else "王")[:1]
    raised = clients["worker_a"].post(f"/api/v1/residents/{resident.profile_id}/objections",
                                      json={"field": "phones", "reason": "号码已停机"})
    assert raised.status_code == 201, raised.text
    objection = raised.json()["objection_id"]
    pid = resident.profile_id
    return {
        "/api/v1/residents": ("worker_a", "/api/v1/residents", {"name": surname}),
        "/api/v1/residents/{profile_id}": ("worker_a", f"/api/v1/residents/{pid}", {}),
        "/api/v1/residents/{profile_id}/history": ("worker_a", f"/api/v1/residents/{pid}/history", {}),
        "/api/v1/residents/{profile_id}/access-report": ("steward", f"/api/v1/residents/{pid}/access-report", {}),
        "/api/v1/households/{household_id}": ("worker_a", f"/api/v1/households/{household}", {}),
        "/api/v1/reviews": ("steward", "/api/v1/reviews", {}),
        "/api/v1/dead-letters": ("steward", "/api/v1/dead-letters", {}),
        "/api/v1/objections": ("worker_a", "/api/v1/objections", {}),
        "/api/v1/objections/{objection_id}": ("worker_a", f"/api/v1/objections/{objection}", {}),
        "/api/v1/places/summary": ("steward", "/api/v1/places/summary", {}),
        "/api/v1/places/disagreements": ("steward", "/api/v1/places/disagreements", {}),
        "/api/v1/scorecards": ("steward", "/api/v1/scorecards", {}),
        "/api/v1/scorecards/{department}/report": ("steward", "/api/v1/scorecards/civil_affairs/report", {}),
        "/console/": ("worker_a", "/console/", {}),
        "/console/search": ("worker_a", "/console/search", {"name": surname}),
        "/console/residents/{profile_id}": ("worker_a", f"/console/residents/{pid}", {}),
        "/console/households/{household_id}": ("worker_a", f"/console/households/{household}", {}),
        "/console/reviews": ("steward", "/console/reviews", {}),
        "/console/dead-letters": ("steward", "/console/dead-letters", {}),
        "/console/objections": ("worker_a", "/console/objections", {}),
        "/console/places": ("steward", "/console/places", {}),
        "/console/scorecards": ("steward", "/console/scorecards", {}),
        "/console/quarantine/{batch_id}": ("steward", "/console/quarantine/b1", {}),
        "/console/data-docs/{path:path}": ("steward", "/console/data-docs/index.html", {}),
        # The audit log names profile ids and purposes; an auditor's reads of it are logged too.
        "/api/v1/audit": ("auditor", "/api/v1/audit", {"resident": pid}),
        "/api/v1/audit/verify": ("auditor", "/api/v1/audit/verify", {}),
        "/console/audit": ("auditor", "/console/audit", {}),
    }


def test_every_get_route_that_returns_resident_data_leaves_an_audit_entry(
        world: World, app: FastAPI, clients: dict[str, TestClient]) -> None:
    routes = get_routes(app)
    wanted = calls(world, clients)
    unclassified = sorted(set(routes) - set(wanted) - set(NO_RESIDENT_DATA))
    assert unclassified == [], f"GET routes neither called here nor on the allow-list: {unclassified}"
    assert sorted(set(wanted) - set(routes)) == [], "routes called here that the app no longer has"
    unaudited = []
    for route, (user, path, query) in sorted(wanted.items()):
        before = entries(world)
        answer = clients[user].get(path, params=query, follow_redirects=False)
        assert answer.status_code == 200, f"{route} as {user}: {answer.status_code} {answer.text[:200]}"
        added = entries(world) - before
        if added < 1 or not any(e.username == user for e in newest(world, added)):
            unaudited.append(route)
    assert unaudited == [], f"reads with no audit entry: {unaudited}"


def test_dead_letters_are_shown_redacted_and_every_read_is_audited(world: World, clients: dict[str, TestClient]) -> None:
    before = entries(world)
    shown = clients["steward"].get("/api/v1/dead-letters").json()
    page = clients["steward"].get("/console/dead-letters").text
    (letter,) = shown["letters"]
    text = json.dumps(letter, ensure_ascii=False) + page
    for secret in (ID_NUMBER, "110105 19491231 002X", "1101 0519 4912 3100 2X", "138-0013-8000", "13800138000",
                   "城市低保", "1385", "糖尿病", "行动不便"):
        assert secret not in text, secret
    assert letter["raw_row"]["身份证号"] == "110105********002X" and letter["raw_row"]["联系电话"] == "138****8000"
    assert letter["raw_row"]["救助类别"] == "***" and letter["raw_row"]["发放金额"] == "***"
    assert letter["raw_row"]["姓名"] == "张*" and letter["raw_row"]["出生日期"] == "1949年13月"  # what is wrong stays
    added = newest(world, entries(world) - before)
    assert [e.action for e in added] == ["read_dead_letters", "read_dead_letters"]
    assert all(e.username == "steward" for e in added)


def test_planner_refusals_leave_a_refusal_entry_on_the_api_and_the_console(
        world: World, clients: dict[str, TestClient]) -> None:
    from tests.integration.api_world import form_token

    worker = clients["worker_a"]
    outside = world.one(world.community_b).profile_id
    before = entries(world)
    api = worker.post("/api/v1/planner", json={"form": "elderly_survey", "profile_ids": [outside]})
    assert api.status_code == 404, api.text
    console = worker.post("/console/planner", data={"form": "elderly_survey", "profile_ids": outside,
                                                    "csrf": form_token(worker, "/console/planner")})
    assert console.status_code == 404, console.text[:300]
    elsewhere = worker.post("/console/planner", data={"form": "elderly_survey", "scope": f"c:{world.community_b}",
                                                      "csrf": form_token(worker, "/console/planner")})
    assert elsewhere.status_code == 403
    added = newest(world, entries(world) - before)
    refusals = [e for e in added if e.action.startswith("refused:")]
    assert len(refusals) == 3 and all(e.username == "worker_a" and e.residents == () for e in refusals), added


def test_audit_purposes_are_redacted(world: World, clients: dict[str, TestClient]) -> None:
    resident = world.one(world.community_a)
    answer = clients["worker_a"].post(f"/api/v1/residents/{resident.profile_id}/unmask",
                                      json={"fields": ["phones"], "purpose": "核实 138 0013 8000 的低保资格"})
    assert answer.status_code == 200, answer.text
    (entry,) = newest(world, 1)
    assert entry.action == "unmask" and "138 0013 8000" not in entry.purpose
    assert entry.purpose == "核实 138****8000 的低保资格"  # the number hidden, the purpose still readable


def test_onceonly_plan_and_export_are_audited_and_a_refused_plan_too(world: World, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from onceonly import cli

    settings = world.settings.model_copy(update={"database_url": world.engine.url.render_as_string(hide_password=False)})
    monkeypatch.setattr(cli, "_settings", lambda: settings)
    runner = CliRunner()
    before = entries(world)
    planned = runner.invoke(cli.app, ["plan", "--form", "elderly_survey", "--community", world.community_a,
                                      "--output", str(tmp_path / "plan.xlsx"), "--steward", "王管理"])
    assert planned.exit_code == 0, planned.output
    exported = runner.invoke(cli.app, ["export", "links", "--output", str(tmp_path / "links.csv"), "--steward", "王管理"])
    assert exported.exit_code == 0, exported.output
    refused = runner.invoke(cli.app, ["plan", "--form", "elderly_survey", "--profile", "p-nobody",
                                      "--output", str(tmp_path / "none.xlsx"), "--steward", "王管理"])
    assert refused.exit_code == 2, refused.output
    added = newest(world, entries(world) - before)
    assert [e.action for e in reversed(added)] == ["plan_collection", "export_links", "refused:plan_collection"]
    plan_entry, export_entry = added[2], added[1]
    assert all(e.username == "王管理" for e in added)
    in_a = {p.profile_id for p in world.profiles_in(world.community_a)}
    assert set(plan_entry.residents) and set(plan_entry.residents) <= in_a
    assert len(export_entry.residents) >= len(in_a)


def test_an_auditors_reads_of_the_audit_log_are_appended_to_it_and_name_no_resident(
        world: World, clients: dict[str, TestClient]) -> None:
    resident = world.one(world.community_a).profile_id
    looked = clients["auditor"].get("/api/v1/audit", params={"resident": resident}).json()["entries"]
    newest_entry = newest(world, 1)[0]
    assert (newest_entry.username, newest_entry.action, newest_entry.residents) == ("auditor", "read_audit", ())
    assert any(f.startswith("who_looked:p-") for f in newest_entry.fields)
    again = clients["auditor"].get("/api/v1/audit", params={"resident": resident}).json()["entries"]
    assert [e["seq"] for e in again] == [e["seq"] for e in looked]  # "who looked" lists reads of the resident only
    assert clients["auditor"].get("/console/audit").status_code == 200
    assert newest(world, 1)[0].action == "read_audit"
