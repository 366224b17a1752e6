"""The worker's view of 住址有冲突 beyond the home page (issue #10/#16), through the real app on a real
SQLite store: the residents API (``GET /api/v1/residents``, ``POST /api/v1/residents/search``)
filters by 住址有冲突 (``contested``) and 人户分离 (``apart``) as the console home page does (the same
residents, the same scope, audited with the filter named; a department only with the fields the flag
is derived from), and the planner's console page labels a contested resident's door-check gaps with
the plan's own headings (现住地址（入户核实）, 核实方式, 走访日期), as its workbook does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from core.access import Principal
from core.planner import DOOR_CHECK
from core.profile import Profile
from onceonly.bootstrap import access_grants
from services.home import HomeFilters, HomeQueries
from store.audit import AuditLog, audit_engine, audit_log
from store.profile_tables import profiles
from tests.integration.api_world import World, build_world, form_token


def _living(p: Profile) -> bool:
    return p.golden.deceased_on is None and p.golden.moved_out_on is None


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    built = build_world(tmp_path_factory.mktemp("contested-reads"), tmp_path_factory.getbasetemp())
    yield built
    built.engine.dispose()


@pytest.fixture(scope="module")
def flagged(world: World) -> dict[str, list[Profile]]:
    """In community A: two residents 住址有冲突, two 人户分离 (one of them both), one neither; in B one
    住址有冲突. Set on the columns as the projection writes them; every other profile as derived."""
    mine = [p for p in world.profiles_in(world.community_a) if _living(p) and p.golden.name]
    theirs = [p for p in world.profiles_in(world.community_b) if _living(p) and p.golden.name]
    chosen = {"contested": mine[:2], "apart": mine[1:3], "clear": mine[3:4], "b": theirs[:1]}
    with world.engine.begin() as conn:
        conn.execute(update(profiles).where(profiles.c.profile_id.in_(
            [p.profile_id for p in chosen["contested"] + chosen["b"]])).values(place_contested=True))
        conn.execute(update(profiles).where(profiles.c.profile_id.in_(
            [p.profile_id for p in chosen["apart"]])).values(lives_apart=True))
        conn.execute(update(profiles).where(profiles.c.profile_id == chosen["clear"][0].profile_id)
                     .values(place_contested=False, lives_apart=False))
    return chosen


@pytest.fixture(scope="module")
def clients(world: World, flagged: dict[str, list[Profile]]) -> Iterator[dict[str, TestClient]]:
    opened: dict[str, TestClient] = {}
    for name in ("worker_a", "worker_b", "steward", "dept_civil"):
        client = world.app_client().__enter__()
        if name == "dept_civil":  # a machine: bearer token, not a session
            client.headers["Authorization"] = f"Bearer {world.users.issue_token('dept_civil', 'contested')}"
        else:
            world.login(client, name)
        opened[name] = client
    yield opened
    for client in opened.values():
        client.__exit__(None, None, None)


def _flagged_in_store(world: World, column: str, community: str | None = None) -> set[str]:
    """Every active profile the store holds with ``column`` set (in ``community``, if given)."""
    where = [profiles.c.status == "active", profiles.c[column].is_(True)]
    if community is not None:
        where.append(profiles.c.community == community)
    with world.engine.connect() as conn:
        return set(conn.execute(select(profiles.c.profile_id).where(*where)).scalars())


def _ids(client: TestClient, **params: Any) -> set[str]:
    answer = client.get("/api/v1/residents", params={"size": 100, **params})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["total"] == len(body["results"]) <= 100  # one page holds them all: the sets below are whole
    return {hit["profile_id"] for hit in body["results"]}


def _worker(world: World, community: str) -> Principal:
    return Principal(f"u-{community}", f"worker-{community}", "community_worker", communities=frozenset({community}))


def test_the_residents_api_lists_the_residents_the_home_page_lists_under_each_flag(
        world: World, flagged: dict[str, list[Profile]], clients: dict[str, TestClient]) -> None:
    homes = HomeQueries(world.engine, AuditLog(world.engine), access_grants())
    worker_a = _worker(world, world.community_a)

    def home(*, contested: bool = False, apart: bool = False) -> set[str]:  # the home page's filters, the gone included
        listing = homes.residents(worker_a, world.community_a, HomeFilters(contested=contested, apart=apart, gone=True),
                                  size=1000)
        return {h["profile_id"] for h in listing["results"]}

    contested = _ids(clients["worker_a"], contested="true")
    assert contested == home(contested=True) == _flagged_in_store(world, "place_contested", world.community_a)
    assert {p.profile_id for p in flagged["contested"]} <= contested
    assert flagged["clear"][0].profile_id not in contested and flagged["b"][0].profile_id not in contested
    apart = _ids(clients["worker_a"], apart="true")
    assert apart == home(apart=True) == _flagged_in_store(world, "lives_apart", world.community_a)
    assert {p.profile_id for p in flagged["apart"]} <= apart and flagged["clear"][0].profile_id not in apart
    both = _ids(clients["worker_a"], contested="1", apart="1")
    assert both == contested & apart == home(contested=True, apart=True)
    assert flagged["contested"][1].profile_id in both  # flagged both ways
    # a flag narrows another criterion: the same name, with and without the flag
    named, clear = flagged["contested"][0], flagged["clear"][0]
    assert named.profile_id in _ids(clients["worker_a"], name=named.golden.name.value, contested="true")  # type: ignore[union-attr]
    assert clear.profile_id in _ids(clients["worker_a"], name=clear.golden.name.value)  # type: ignore[union-attr]
    assert clear.profile_id not in _ids(clients["worker_a"], name=clear.golden.name.value, contested="true")  # type: ignore[union-attr]
    # the POST search takes the same flags
    posted = clients["worker_a"].post("/api/v1/residents/search", json={"contested": True, "size": 100})
    assert posted.status_code == 200 and {h["profile_id"] for h in posted.json()["results"]} == contested
    # audited with the filter named, like the home page's
    with audit_engine(world.engine).connect() as conn:  # the audit log's own database
        last = conn.execute(select(audit_log.c.action, audit_log.c.fields).where(audit_log.c.username == "worker_a")
                            .order_by(audit_log.c.seq.desc()).limit(1)).one()
    assert last.action == "search" and "filter:contested" in last.fields


def test_the_flags_keep_to_the_callers_scope_and_a_departments_grant(
        world: World, flagged: dict[str, list[Profile]], clients: dict[str, TestClient]) -> None:
    everyone = _flagged_in_store(world, "place_contested")
    assert _ids(clients["steward"], contested="true") == everyone
    assert {p.profile_id for p in flagged["contested"] + flagged["b"]} <= everyone
    theirs = _ids(clients["worker_b"], contested="true")
    assert theirs == _flagged_in_store(world, "place_contested", world.community_b)
    assert flagged["b"][0].profile_id in theirs and not theirs & {p.profile_id for p in flagged["contested"]}
    # civil affairs is granted the residential address (住址有冲突 is about it) but not the registered
    # one (人户分离 compares the two): the one filter answers, the other is refused
    assert _ids(clients["dept_civil"], contested="true") == everyone
    refused = clients["dept_civil"].get("/api/v1/residents", params={"apart": "true"})
    assert refused.status_code == 403 and "registered_address" in refused.text
    # a flag left false is no criterion
    assert clients["worker_a"].get("/api/v1/residents", params={"contested": "false"}).status_code == 400


def _planned(html: str) -> dict[str, dict[str, str]]:
    """profile id → {gap field: the heading the page shows for it}, per row of the plan table."""
    rows = re.findall(r'<tr class="resident" data-profile="([^"]+)">(.*?)</tr>', html, flags=re.DOTALL)
    return {pid: dict(re.findall(r'<span class="gap[^"]*" data-field="([^"]+)">([^<]*)', row)) for pid, row in rows}


def test_the_planner_page_labels_a_door_checks_gaps_with_the_plans_own_headings(
        world: World, flagged: dict[str, list[Profile]], clients: dict[str, TestClient]) -> None:
    worker = clients["worker_a"]
    # An ad-hoc form without the address: the plan gains the door-check columns for the contested.
    page = worker.post("/console/planner", data={"fields": ["name", "sex"], "scope": f"c:{world.community_a}",
                                                 "csrf": form_token(worker, "/console/planner")})
    assert page.status_code == 200, page.text[:500]
    planned = _planned(page.text)
    contested = _flagged_in_store(world, "place_contested", world.community_a)
    assert {p.profile_id for p in flagged["contested"]} <= set(planned)
    assert flagged["clear"][0].profile_id in planned
    for profile_id, gaps in planned.items():
        if profile_id in contested:
            assert {f: gaps.get(f) for f in DOOR_CHECK} == dict(DOOR_CHECK), (profile_id, gaps)
            assert gaps["residential_address"] == "现住地址（入户核实）"
        else:
            assert not set(gaps) & set(DOOR_CHECK), (profile_id, gaps)
