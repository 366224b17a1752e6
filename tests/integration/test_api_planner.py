"""The collection planner behind the query service (httpx against the real app) on a real store,
SQLite and PostgreSQL: plans by community, grid and profile ids, scope, masking, audit, the
pre-filled .xlsx, bad input; and the way back — a filled workbook's answers through the ingest
loop, the real broker and a real stream worker, into the resident's own profile."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine

from api.app import create_app
from core.matching import default_matcher
from core.planner import plan_collection
from core.profile import Profile
from onceonly.bootstrap import resolver_state
from onceonly.settings import Settings
from services.planning import load_form
from store.audit import AuditLog
from store.engine import make_engine
from tests.integration.api_world import KEY, PASSWORD, RESIDENTS, World, build_world, populated_world, project_outbox

SURVEY = "elderly_survey"


def _world_on_postgres(engine: Engine, tmp: Path) -> World:
    """The same district as ``api_world`` (real resolver and projection) in PostgreSQL."""
    from tests.integration.test_resolver_state import district

    state = resolver_state(engine)
    state.resolve_batch(list(district(RESIDENTS)), default_matcher())
    project_outbox(engine, state)
    return populated_world(engine, tmp)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The district on each backend (the contract: every test here runs on SQLite and PostgreSQL)."""
    tmp = tmp_path_factory.mktemp(f"planner-{request.param}")
    if request.param == "sqlite":
        built = build_world(tmp, tmp_path_factory.getbasetemp())
    else:
        server = request.getfixturevalue("postgres_server")
        built = _world_on_postgres(make_engine(server.fresh_database("t_planner_api")), tmp)
    yield built
    built.engine.dispose()


@pytest.fixture(scope="module")
def clients(world: World) -> Iterator[dict[str, TestClient]]:
    """One logged-in client per user (each holds its own session cookie)."""
    app = create_app(world.engine, [], world.settings)
    opened = {}
    for name in ("worker_a", "worker_b", "steward", "auditor", "admin", "dept_civil"):
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        opened[name] = world.login(client, name)
    yield opened
    for client in opened.values():
        client.__exit__(None, None, None)


def _gridded(world: World) -> tuple[str, list[Profile]]:
    """The most populated grid of community A and its residents (by their surviving grid)."""
    from collections import Counter

    people = world.profiles_in(world.community_a)
    grids = Counter(p.golden.attributes["grid"].value for p in people if "grid" in p.golden.attributes)
    grid = grids.most_common(1)[0][0]
    return grid, [p for p in people if "grid" in p.golden.attributes and p.golden.attributes["grid"].value == grid]


def _plan(client: TestClient, **body: Any) -> Any:
    answer = client.post("/api/v1/planner", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_worker_plans_the_elderly_survey_for_their_community(world: World, clients: dict[str, TestClient]) -> None:
    people = world.profiles_in(world.community_a)
    expected = plan_collection(people, load_form(SURVEY))  # the pure planner over the same profiles
    plan = _plan(clients["worker_a"], form=SURVEY, community=world.community_a)
    assert [r["profile_id"] for r in plan["residents"]] == [r.profile_id for r in expected.residents]
    assert len(plan["residents"]) == len(people) > 1
    for got, want in zip(plan["residents"], expected.residents):
        assert [k["field"] for k in got["known"]] == [f for f in expected.form.fields if f in want.known]
        assert got["missing"] == list(want.missing)
        for known in got["known"]:
            provenance = want.known[known["field"]]
            assert (known["source"], known["record_id"]) == (provenance.source, provenance.record_id)
            assert known["observed_at"] == provenance.observed_at.isoformat()
    assert (plan["requested"], plan["known"]) == (expected.requested, expected.known)
    assert plan["missing"] == expected.requested - expected.known > 0
    assert plan["share_known"] == pytest.approx(expected.known / expected.requested, abs=1e-4)
    assert 0 < plan["share_known"] < 1


def test_a_grid_plan_holds_only_the_residents_of_that_grid(world: World, clients: dict[str, TestClient]) -> None:
    grid, in_grid = _gridded(world)
    plan = _plan(clients["worker_a"], form=SURVEY, community=world.community_a, grid=grid)
    assert {r["profile_id"] for r in plan["residents"]} == {p.profile_id for p in in_grid}
    assert 0 < len(in_grid) < len(world.profiles_in(world.community_a))  # a grid is part of its community
    assert plan["target"] == {"kind": "grid", "community": world.community_a, "grid": grid, "profile_ids": []}
    nobody = _plan(clients["worker_a"], form=SURVEY, community=world.community_a, grid="第99网格")
    assert nobody["residents"] == [] and nobody["share_known"] == 0


def test_a_plan_by_profile_ids_covers_exactly_those_residents_in_scope(world: World,
                                                                       clients: dict[str, TestClient]) -> None:
    mine = [p.profile_id for p in world.profiles_in(world.community_a)][:3]
    other = world.profiles_in(world.community_b)[0].profile_id
    plan = _plan(clients["worker_a"], fields=["name", "birth_date", "attributes.living_alone"], profile_ids=mine)
    assert sorted(r["profile_id"] for r in plan["residents"]) == sorted(mine)
    assert plan["form"]["name"] == "adhoc" and plan["requested"] == 3 * 3
    assert all("attributes.living_alone" in r["missing"] for r in plan["residents"])
    # Another community's resident and an unknown id get the same answer: nothing is learnt.
    for ids in ([*mine, other], [*mine, "p-does-not-exist"]):
        refused = clients["worker_a"].post("/api/v1/planner", json={"form": SURVEY, "profile_ids": ids})
        assert refused.status_code == 404 and "in your communities" in refused.json()["detail"]
        assert "does-not-exist" in refused.text or other in refused.text
    steward = _plan(clients["steward"], form=SURVEY, profile_ids=[*mine, other])
    assert len(steward["residents"]) == 4


def test_workers_plan_only_their_own_communities_and_other_roles_not_at_all(
        world: World, clients: dict[str, TestClient]) -> None:
    refused = clients["worker_a"].post("/api/v1/planner", json={"form": SURVEY, "community": world.community_b})
    assert refused.status_code == 403 and world.community_b in refused.json()["detail"]
    assert "outside your communities" in refused.json()["detail"]
    grid = clients["worker_a"].post("/api/v1/planner/xlsx", json={"form": SURVEY, "community": world.community_b,
                                                                  "grid": "第1网格"})
    assert grid.status_code == 403
    assert len(_plan(clients["steward"], form=SURVEY, community=world.community_b)["residents"]) == len(
        world.profiles_in(world.community_b))
    assert len(_plan(clients["worker_b"], form=SURVEY, community=world.community_b)["residents"]) > 0
    for name in ("auditor", "admin", "dept_civil"):
        for method, path, body in (("post", "/api/v1/planner", {"form": SURVEY, "community": world.community_a}),
                                   ("post", "/api/v1/planner/xlsx", {"form": SURVEY, "community": world.community_a}),
                                   ("get", "/api/v1/forms", None)):
            answer = getattr(clients[name], method)(path, **({"json": body} if body else {}))
            assert answer.status_code == 403, (name, path, answer.text)
            assert "may not plan" in answer.json()["detail"]
        assert clients[name].get("/console/planner").status_code == 403
    anonymous = TestClient(create_app(world.engine, [], world.settings), raise_server_exceptions=False)
    assert anonymous.post("/api/v1/planner", json={"form": SURVEY, "community": world.community_a}).status_code == 401


def test_a_grid_worker_plans_only_the_residents_of_their_grid(world: World) -> None:
    from core.profile.read_side import qualified_grid

    grid, in_grid = _gridded(world)
    qualified = qualified_grid(in_grid[0], world.community_a)
    assert qualified is not None and qualified.endswith("/" + grid)
    world.users.add("gridder", PASSWORD, "community_worker", grids=[qualified])
    with TestClient(create_app(world.engine, [], world.settings), raise_server_exceptions=False) as client:
        world.login(client, "gridder")
        owner = qualified.partition("/")[0]
        plan = _plan(client, form=SURVEY, community=owner, grid=grid)
        # Everyone the store puts in that grid (the grid's source may name a resident's community
        # differently from the address the profile's community column comes from).
        from sqlalchemy import select

        from store.profile_tables import profiles

        with world.engine.connect() as conn:
            rows = conn.execute(select(profiles.c.profile_id, profiles.c.doc, profiles.c.community)
                                .where(profiles.c.status == "active")).all()
        gridded = {r.profile_id for r in rows if qualified_grid(Profile.model_validate(r.doc), r.community) == qualified}
        assert {p.profile_id for p in in_grid} <= gridded
        assert {r["profile_id"] for r in plan["residents"]} == gridded
        whole = client.post("/api/v1/planner", json={"form": SURVEY, "community": world.community_a})
        assert whole.status_code == 403  # the grid, not the whole community
        outside = [p.profile_id for p in world.profiles_in(world.community_a) if p not in in_grid][:1]
        assert client.post("/api/v1/planner", json={"form": SURVEY, "profile_ids": outside}).status_code == 404
        page = client.get("/console/planner").text
        assert f'value="g:{owner}|{grid}"' in page and f'value="c:{world.community_a}"' not in page


def test_known_values_are_masked_exactly_as_in_the_profile_view(world: World, clients: dict[str, TestClient]) -> None:
    worker = clients["worker_a"]
    plan = _plan(worker, form=SURVEY, community=world.community_a)
    people = {p.profile_id: p for p in world.profiles_in(world.community_a)}
    checked = set()
    for resident in plan["residents"]:
        view = worker.get(f"/api/v1/residents/{resident['profile_id']}").json()
        shown = {f["field"]: (f["value"], f["masked"]) for f in view["fields"]}
        for known in resident["known"]:
            assert (known["value"], known["masked"]) == shown[known["field"]]
            if known["masked"]:
                checked.add(known["field"])
        golden = people[resident["profile_id"]].golden
        if golden.id_number is not None:
            assert golden.id_number.value not in str(resident)  # never in clear
    assert {"id_number", "phones"} <= checked
    masked_ids = [k["value"] for r in plan["residents"] for k in r["known"] if k["field"] == "id_number"]
    assert masked_ids and all("********" in v for v in masked_ids)


def test_every_plan_is_an_audited_read_naming_residents_and_fields(world: World,
                                                                     clients: dict[str, TestClient]) -> None:
    grid, in_grid = _gridded(world)
    plan = _plan(clients["worker_a"], form=SURVEY, community=world.community_a, grid=grid, purpose="高龄老人入户走访")
    entry = AuditLog(world.engine).entries(limit=1)[0]
    assert (entry.username, entry.action, entry.purpose) == ("worker_a", "plan_collection", "高龄老人入户走访")
    assert sorted(entry.residents) == sorted(r["profile_id"] for r in plan["residents"]) == sorted(
        p.profile_id for p in in_grid)
    assert "name" in entry.fields and "id_number*" in entry.fields  # the masked ID number was shown masked
    download = clients["worker_a"].post("/api/v1/planner/xlsx", json={"form": SURVEY, "community": world.community_a})
    assert download.status_code == 200
    entry = AuditLog(world.engine).entries(limit=1)[0]
    assert entry.action == "plan_collection" and len(entry.residents) == len(world.profiles_in(world.community_a))
    assert AuditLog(world.engine).verify().ok


def test_the_xlsx_holds_the_known_values_and_leaves_only_the_gaps_empty(world: World,
                                                                          clients: dict[str, TestClient]) -> None:
    body = {"form": SURVEY, "community": world.community_a}
    plan = _plan(clients["worker_a"], **body)
    answer = clients["worker_a"].post("/api/v1/planner/xlsx", json=body)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert answer.headers["content-disposition"].startswith("attachment;") and ".xlsx" in answer.headers[
        "content-disposition"]
    book = load_workbook(io.BytesIO(answer.content))
    sheet = book["form"]
    fields = [c.value for c in sheet[2]][1:]
    assert fields == [f["field"] for f in plan["form"]["fields"]]
    assert [c.value for c in sheet[1]][1:] == [f["label"] for f in plan["form"]["fields"]]
    rows = {r[0]: dict(zip(fields, r[1:])) for r in sheet.iter_rows(min_row=3, values_only=True)}
    assert set(rows) == {r["profile_id"] for r in plan["residents"]}
    for resident in plan["residents"]:
        cells = rows[resident["profile_id"]]
        known = {k["field"]: k["value"] for k in resident["known"]}
        for field in fields:
            if field in resident["missing"]:
                assert cells[field] is None, (resident["profile_id"], field)  # a gap for the worker
            else:
                value = known[field]
                assert cells[field] == (";".join(value) if isinstance(value, list) else value)
    everything = " ".join(str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None)
    for person in world.profiles_in(world.community_a):
        if person.golden.id_number is not None:
            assert person.golden.id_number.value not in everything
    summary = {r[0]: r[1] for r in book["summary"].iter_rows(values_only=True)}
    assert summary["re-collection avoided"] == pytest.approx(plan["share_known"], abs=1e-4)
    assert summary["form_name"] == SURVEY


def test_the_form_templates_are_listed_with_the_fields_a_console_form_may_ask(clients: dict[str, TestClient]) -> None:
    listed = clients["worker_a"].get("/api/v1/forms").json()
    survey = next(f for f in listed["forms"] if f["name"] == SURVEY)
    assert {"field": "id_number", "label": "公民身份号码"} in survey["fields"]
    assert {"name", "marital_status", "attributes.living_alone"} <= {f["field"] for f in listed["fields"]}


@pytest.mark.parametrize(("body", "status", "says"), [
    ({"form": "no_such_form", "community": "x"}, 400, "no form 'no_such_form'"),
    ({"fields": ["name", "shoe_size"], "community": "x"}, 400, "'shoe_size' is not a canonical field"),
    ({"fields": ["name", "name"], "community": "x"}, 400, "lists a field twice"),
    ({"form": SURVEY}, 400, "no residents to plan"),
    ({"form": SURVEY, "profile_ids": []}, 400, "no residents to plan"),
    ({"form": SURVEY, "grid": "第3网格"}, 400, "give the community too"),
    ({"form": SURVEY, "community": "x", "profile_ids": ["p-1"]}, 400, "not both"),
    ({"community": "x"}, 400, "give a form"),
    ({"form": SURVEY, "fields": ["name"], "community": "x"}, 400, "not both"),
    ({"form": SURVEY, "community": "x", "shoe": 1}, 422, "shoe"),
    ({"form": SURVEY, "profile_ids": ["p"] * 5001}, 422, "profile_ids"),
])
def test_bad_input_gets_a_clear_4xx(clients: dict[str, TestClient], body: dict[str, Any], status: int,
                                    says: str) -> None:
    for path in ("/api/v1/planner", "/api/v1/planner/xlsx"):
        answer = clients["steward"].post(path, json=body)
        assert answer.status_code == status, (path, answer.text)
        assert says in answer.text and "Traceback" not in answer.text


def test_an_upload_that_is_not_a_plan_workbook_is_refused_plainly(clients: dict[str, TestClient]) -> None:
    from openpyxl import Workbook

    other = Workbook()
    other.active.append(["姓名", "电话"])
    buffer = io.BytesIO()
    other.save(buffer)
    for content, says in ((b"not a workbook", "not an .xlsx workbook"), (buffer.getvalue(), "no sheet 'form'"),
                          (b"", "empty")):
        answer = clients["worker_a"].post("/api/v1/planner/answers", files={"file": ("answers.xlsx", content)})
        assert answer.status_code == 400 and says in answer.json()["detail"], answer.text


# -- the way back, on the real broker -------------------------------------------------------------------

@pytest.mark.kafka
def test_filled_gaps_come_back_through_the_community_source_into_the_residents_own_profile(
        kafka_broker: Any, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Upload a filled plan: answered gaps become community visits in Kafka, a real stream worker
    resolves them into the planned resident's profile, bad rows are dead letters, the counts add
    up, and sending the same workbook again sends nothing new (collected once)."""
    from localinfra.processes import spawn, stop
    from onceonly import bootstrap
    from schemas.source_record import DeadLetter, SourceRecord
    from store.profile_projection import ProfileProjection
    from tests.helpers import cli, cli_env, eventually, read_topic

    (tmp_path / "world").mkdir()
    base = build_world(tmp_path / "world", tmp_path_factory.getbasetemp())
    store = tmp_path / "world" / "store.db"
    prefix = f"plan{abs(hash(tmp_path)) % 10**6}."
    settings = Settings(data_dir=tmp_path / "var", kafka_bootstrap=kafka_broker.bootstrap, topic_prefix=prefix,
                        app_id=f"onceonly-{prefix.rstrip('.')}", database_url=f"sqlite:///{store}",
                        id_hash_key=KEY, _env_file=None)
    bootstrap.prepare_topics(settings)
    people = {p.profile_id: p for p in base.profiles_in(base.community_a)}

    client = TestClient(create_app(base.engine, [], settings), raise_server_exceptions=False)
    with client:
        base.login(client, "worker_a")
        body = {"form": SURVEY, "community": base.community_a}
        plan = _plan(client, **body)
        gaps = {r["profile_id"]: r["missing"] for r in plan["residents"]}
        # Two residents missing both answers; one more for a row the worker writes badly.
        chosen = [pid for pid, missing in gaps.items()
                  if {"marital_status", "attributes.living_alone"} <= set(missing)][:3]
        assert len(chosen) == 3, gaps
        good, bad, third = chosen
        book = load_workbook(io.BytesIO(client.post("/api/v1/planner/xlsx", json=body).content))
        sheet = book["form"]
        fields = [c.value for c in sheet[2]]
        rows = {sheet.cell(row=n, column=1).value: n for n in range(3, sheet.max_row + 1)}

        def fill(pid: str, field: str, value: str) -> None:
            sheet.cell(row=rows[pid], column=fields.index(field) + 1).value = value

        fill(good, "marital_status", "丧偶")
        fill(good, "attributes.living_alone", "是")
        fill(good, "name", "改过的名字")  # a known field: not taken
        fill(bad, "marital_status", "说不清")  # not a GB/T 2261.2 marital status: kept, the field stays a gap
        fill(third, "attributes.living_alone", "否")
        sheet.append(["p-nobody", None, None, None, None, None, None, None, "未婚"])  # no such resident
        sheet.append([None, "无主行"])  # names no resident
        buffer = io.BytesIO()
        book.save(buffer)

        worker = spawn(cli("worker"), tmp_path / "worker.log", env={**cli_env(settings), "ONCEONLY_ID_HASH_KEY": KEY})
        try:
            first = client.post("/api/v1/planner/answers", files={"file": ("plan.xlsx", buffer.getvalue())})
            assert first.status_code == 200, first.text
            taken = first.json()
            assert taken["rows"] == len(plan["residents"]) + 2
            assert taken["rows"] == taken["empty"] + taken["read"]
            assert taken["read"] == taken["events"] + taken["unchanged"] + taken["dead_letters"]
            assert (taken["read"], taken["events"], taken["dead_letters"]) == (5, 3, 2)
            assert taken["changed_known_cells"] == 1  # the overwritten name
            assert sorted(taken["residents"]) == sorted([good, bad, third])  # handed to the ingest loop

            raw = [r for r in read_topic(kafka_broker.bootstrap, settings.raw_topic("community"))
                   if isinstance(r, SourceRecord)]
            assert len(raw) == 3 and all(r.record_id.startswith("JH-") for r in raw)
            letters = [d for d in read_topic(kafka_broker.bootstrap, settings.deadletter_topic)
                       if isinstance(d, DeadLetter)]
            assert len(letters) == 2 and {d.source for d in letters} == {"community"}
            reasons = " | ".join(d.reason for d in letters)
            assert "p-nobody" in reasons and "no profile_id" in reasons

            projection = ProfileProjection(base.engine, id_hash_key=KEY)
            def visits() -> dict[str, str] | None:
                found = {r: p for s, r, p in projection.links() if s == "community" and r.startswith("JH-")}
                return found if len(found) == 3 else None

            links = eventually(visits, timeout=180, every=1.0)
            # Each visit is linked to the resident it was planned for, not to a new profile.
            assert sorted(links.values()) == sorted([good, bad, third])

            def replanned() -> Any:
                again = _plan(client, form=SURVEY, profile_ids=[good, third])
                by_id = {r["profile_id"]: r for r in again["residents"]}
                return by_id if "attributes.living_alone" not in by_id[good]["missing"] + by_id[third][
                    "missing"] else None

            after = eventually(replanned, timeout=60, every=1.0)
            known = {k["field"]: k for k in after[good]["known"]}
            assert known["attributes.living_alone"]["value"] == "是"
            assert known["attributes.living_alone"]["source"] == "community"
            assert known["marital_status"]["source"] == "community"
            assert known["name"]["value"] == people[good].golden.name.value  # type: ignore[union-attr]
            assert {k["field"]: k["value"] for k in after[third]["known"]}["attributes.living_alone"] == "否"

            again = client.post("/api/v1/planner/answers", files={"file": ("plan.xlsx", buffer.getvalue())}).json()
            # The answers are known now: the same workbook again asks nothing and sends nothing.
            # (the unreadable answer is still a gap: its row is read again and sends nothing new)
            assert (again["read"], again["events"], again["unchanged"], again["dead_letters"]) == (3, 0, 1, 2)
            assert again["empty"] == taken["empty"] + 2 and again["residents"] == [bad]
        finally:
            stop(worker)
    entries = AuditLog(base.engine).entries(limit=20)
    assert any(e.action == "collect_answers" and sorted(e.residents) == sorted([good, bad, third]) for e in entries)
    shutil.rmtree(tmp_path / "var", ignore_errors=True)
