"""Every role × endpoint × community: allowed (and masked or not), or refused.

Users: a community worker of community A, one of community B, a steward, a department reader
(civil affairs grant), an auditor, an admin, and nobody. Resident R lives in community A.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.profile import Profile
from tests.integration.api_world import World, build_world

ROLES = ("worker_a", "worker_b", "steward", "dept_civil", "auditor", "admin", None)

# What each role gets from each endpoint: a status, and for 200s with resident data "masked"/"clear".
# (endpoint) → {role: expected}
MATRIX: dict[str, dict[str | None, Any]] = {
    "search_name":     {"worker_a": "masked", "worker_b": 200, "steward": "masked", "dept_civil": "clear",
                        "auditor": 403, "admin": 403, None: 401},
    "search_id":       {"worker_a": "masked", "worker_b": "empty", "steward": "masked", "dept_civil": "clear",
                        "auditor": 403, "admin": 403, None: 401},
    "profile":         {"worker_a": "masked", "worker_b": 404, "steward": "masked", "dept_civil": "clear",
                        "auditor": 403, "admin": 403, None: 401},
    "unmask":          {"worker_a": "clear", "worker_b": 404, "steward": "clear",
                        "dept_civil": 403, "auditor": 403, "admin": 403, None: 401},
    "history":         {"worker_a": 200, "worker_b": 404, "steward": 200, "dept_civil": 403,
                        "auditor": 403, "admin": 403, None: 401},
    "household":       {"worker_a": "masked", "worker_b": 404, "steward": "masked", "dept_civil": "clear",
                        "auditor": 403, "admin": 403, None: 401},
    "reviews":         {"worker_a": 403, "worker_b": 403, "steward": 200, "dept_civil": 403,
                        "auditor": 403, "admin": 403, None: 401},
    "confirm":         {"worker_a": 403, "worker_b": 403, "steward": 409, "dept_civil": 403,
                        "auditor": 403, "admin": 403, None: 401},
    "health":          {"worker_a": 403, "worker_b": 403, "steward": 200, "dept_civil": 403,
                        "auditor": 403, "admin": 200, None: 401},
    "dead_letters":    {"worker_a": 403, "worker_b": 403, "steward": 503, "dept_civil": 403,
                        "auditor": 403, "admin": 403, None: 401},
    "audit":           {"worker_a": 403, "worker_b": 403, "steward": 403, "dept_civil": 403,
                        "auditor": 200, "admin": 403, None: 401},
    "audit_verify":    {"worker_a": 403, "worker_b": 403, "steward": 403, "dept_civil": 403,
                        "auditor": 200, "admin": 403, None: 401},
    "console_profile": {"worker_a": 200, "worker_b": 404, "steward": 200, "dept_civil": 200,
                        "auditor": 403, "admin": 403, None: 303},
    # steward and admin views (no Kafka in this world: dead letters and re-processing answer 503)
    "validation":      {"worker_a": 403, "worker_b": 403, "steward": 200, "dept_civil": 403,
                        "auditor": 403, "admin": 200, None: 401},
    "health_history":  {"worker_a": 403, "worker_b": 403, "steward": 200, "dept_civil": 403,
                        "auditor": 403, "admin": 200, None: 401},
    "reprocess":       {"worker_a": 403, "worker_b": 403, "steward": 503, "dept_civil": 403,
                        "auditor": 403, "admin": 403, None: 401},
    "quality_report":  {"worker_a": 403, "worker_b": 403, "steward": 404, "dept_civil": 403,
                        "auditor": 403, "admin": 403, None: 303},
    "data_docs":       {"worker_a": 403, "worker_b": 403, "steward": 404, "dept_civil": 403,
                        "auditor": 403, "admin": 403, None: 303},
    "users":           {"worker_a": 403, "worker_b": 403, "steward": 403, "dept_civil": 403,
                        "auditor": 403, "admin": 200, None: 401},
    "user_create":     {"worker_a": 403, "worker_b": 403, "steward": 403, "dept_civil": 403,
                        "auditor": 403, "admin": 400, None: 401},
    "user_token":      {"worker_a": 403, "worker_b": 403, "steward": 403, "dept_civil": 403,
                        "auditor": 403, "admin": 404, None: 401},
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("api-matrix"), tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def clients(world: World) -> Iterator[dict[str | None, TestClient]]:
    out: dict[str | None, TestClient] = {}
    for role in ROLES:
        client = world.app_client().__enter__()
        if role == "dept_civil":  # a machine: bearer token, not a session
            client.headers["Authorization"] = f"Bearer {world.users.issue_token('dept_civil', 'matrix')}"
        elif role is not None:
            world.login(client, role)
        out[role] = client
    yield out
    for client in out.values():
        client.__exit__(None, None, None)


def _resident(world: World) -> tuple[Profile, str, str]:
    """The resident every call is about, with its ID number and name."""
    resident = next(p for p in world.profiles_in(world.community_a)
                    if p.golden.id_number and p.household_id and p.golden.name)
    number = resident.golden.id_number.value  # type: ignore[union-attr]
    name = resident.golden.name.value  # type: ignore[union-attr]
    return resident, number, name


def _calls(world: World) -> dict[str, Callable[[TestClient], Any]]:
    resident, number, name = _resident(world)
    rid = resident.profile_id
    return {
        "search_name": lambda c: c.get("/api/v1/residents", params={"name": name}),
        "search_id": lambda c: c.post("/api/v1/residents/search", json={"id_number": number}),
        "profile": lambda c: c.get(f"/api/v1/residents/{rid}"),
        "unmask": lambda c: c.post(f"/api/v1/residents/{rid}/unmask",
                                   json={"fields": ["id_number", "phones"], "purpose": "矩阵测试核对"}),
        "history": lambda c: c.get(f"/api/v1/residents/{rid}/history"),
        "household": lambda c: c.get(f"/api/v1/households/{resident.household_id}"),
        "reviews": lambda c: c.get("/api/v1/reviews"),
        "confirm": lambda c: c.post("/api/v1/reviews/no-such-review/confirm", json={"profile_id": rid}),
        "health": lambda c: c.get("/api/v1/pipeline/health"),
        "dead_letters": lambda c: c.get("/api/v1/dead-letters"),
        "audit": lambda c: c.get("/api/v1/audit"),
        "audit_verify": lambda c: c.get("/api/v1/audit/verify"),
        "console_profile": lambda c: c.get(f"/console/residents/{rid}", follow_redirects=False),
        "validation": lambda c: c.get("/api/v1/validation"),
        "health_history": lambda c: c.get("/api/v1/pipeline/health/history"),
        "reprocess": lambda c: c.post("/api/v1/dead-letters/reprocess", json={"source": "community"}),
        "quality_report": lambda c: c.get("/console/quarantine/no-such-batch", follow_redirects=False),
        "data_docs": lambda c: c.get("/console/data-docs/index.html", follow_redirects=False),
        "users": lambda c: c.get("/api/v1/users"),
        # a too-short password: the admin gets 400 (nothing created), every other role is refused first
        "user_create": lambda c: c.post("/api/v1/users", json={"username": "matrix_user", "password": "short1",
                                                               "role": "auditor"}),
        "user_token": lambda c: c.post("/api/v1/users/no-such-user/tokens", json={}),
    }


@pytest.mark.parametrize("endpoint", list(MATRIX))
@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "anonymous")
def test_each_role_gets_what_its_scope_allows(world: World, clients: dict[str | None, TestClient],
                                              endpoint: str, role: str | None) -> None:
    calls = _calls(world)
    resident, number, name = _resident(world)
    rid = resident.profile_id
    expected = MATRIX[endpoint][role]
    answer = calls[endpoint](clients[role])
    body = answer.text
    assert "Traceback" not in body
    if expected in ("masked", "clear"):
        assert answer.status_code == 200, body
        assert rid in body
        if expected == "masked":
            assert number not in body, "the ID number must be masked by default"
            assert number[:6] + "********" + number[-4:] in body
        else:
            assert number in body
    elif expected == "empty":
        assert answer.status_code == 200 and answer.json()["results"] == []  # other communities are invisible
    else:
        assert answer.status_code == expected, body
        if expected in (403, 404) and endpoint not in ("household",):
            assert number not in body and (endpoint == "search_name" or name not in body or role == "steward")


def test_a_department_reader_sees_only_its_granted_fields(world: World, clients: dict[str | None, TestClient]) -> None:
    from onceonly.bootstrap import access_grants as load_grants

    grant = load_grants()["civil_affairs"]
    rid = _resident(world)[0].profile_id
    view = clients["dept_civil"].get(f"/api/v1/residents/{rid}").json()
    assert {f["field"] for f in view["fields"]} <= set(grant.fields)
    assert "records" not in view and "history" not in view


def test_refusals_and_reads_are_in_the_audit_log_and_the_chain_verifies(
        world: World, clients: dict[str | None, TestClient]) -> None:
    rid = _resident(world)[0].profile_id
    looked = clients["auditor"].get("/api/v1/audit", params={"resident": rid}).json()["entries"]
    who = {e["username"] for e in looked}
    assert {"worker_a", "steward", "dept_civil"} <= who and "worker_b" not in who
    assert clients["auditor"].get("/api/v1/audit/verify").json()["ok"] is True


def test_a_grid_worker_sees_their_grid_and_not_the_rest_of_its_community(world: World) -> None:
    from collections import Counter

    from sqlalchemy import select

    from store.profile_tables import profiles

    with world.engine.connect() as conn:
        rows = conn.execute(select(profiles.c.profile_id, profiles.c.name, profiles.c.community, profiles.c.grid)
                            .where(profiles.c.status == "active", profiles.c.name.is_not(None))
                            .order_by(profiles.c.profile_id)).all()
    grid, _ = Counter(r.grid for r in rows if r.grid).most_common(1)[0]
    community = grid.split("/")[0]
    inside = next(r for r in rows if r.grid == grid)
    # a neighbour: same community, another grid (or none), and a name no one inside the grid has
    names_inside = {r.name for r in rows if r.grid == grid}
    neighbour = next(r for r in rows if r.community == community and r.grid != grid and r.name not in names_inside)
    world.users.add("worker_grid", "correct horse battery", "community_worker", grids=[grid])
    with world.app_client() as client:
        world.login(client, "worker_grid")
        assert client.get("/api/v1/me").json()["role"] == "community_worker"
        assert client.get(f"/api/v1/residents/{inside.profile_id}").status_code == 200
        refused = client.get(f"/api/v1/residents/{neighbour.profile_id}")
        assert refused.status_code == 404 and neighbour.name not in refused.text
        found = client.get("/api/v1/residents", params={"name": inside.name}).json()["results"]
        assert inside.profile_id in [h["profile_id"] for h in found]
        hidden = client.get("/api/v1/residents", params={"name": neighbour.name}).json()["results"]
        assert neighbour.profile_id not in [h["profile_id"] for h in hidden]
        assert all(h["profile_id"] in {r.profile_id for r in rows if r.grid == grid} for h in hidden)
    # the same grid number in another community is another grid
    number = grid.split("/")[1]
    elsewhere = [r for r in rows if r.grid and r.grid.endswith(f"/{number}") and r.grid != grid]
    assert elsewhere, "the district numbers grids within each community: the number recurs"
    with world.app_client() as client:
        world.login(client, "worker_grid")
        assert client.get(f"/api/v1/residents/{elsewhere[0].profile_id}").status_code == 404


def test_users_are_added_with_grids_written_community_slash_grid(world: World) -> None:
    world.users.add("worker_grid_2", "correct horse battery", "community_worker", grids=["秦虹社区/第2网格"])
    assert next(p for p in world.users.list() if p.username == "worker_grid_2").grids == {"秦虹社区/第2网格"}
    with pytest.raises(ValueError, match="community/grid"):
        world.users.add("worker_grid_3", "correct horse battery", "community_worker", grids=["第2网格"])


def test_the_cli_adds_a_grid_worker(tmp_path: Path) -> None:
    import subprocess

    from store.auth_tables import UserStore
    from store.engine import make_engine
    from tests.helpers import cli

    url = f"sqlite:///{tmp_path / 'store.db'}"
    env = {"ONCEONLY_DATABASE_URL": url, "ONCEONLY_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    added = subprocess.run(cli("users", "add", "grid_li", "--role", "community_worker", "--grid", "秦虹社区/第2网格",
                               "--password", "a long enough password"), env=env, capture_output=True, text=True,
                           timeout=120)
    assert added.returncode == 0, added.stderr
    user = next(p for p in UserStore(make_engine(url)).list() if p.username == "grid_li")
    assert user.grids == {"秦虹社区/第2网格"} and user.communities == frozenset()
    refused = subprocess.run(cli("users", "add", "grid_wu", "--role", "community_worker", "--grid", "第2网格",
                                 "--password", "a long enough password"), env=env, capture_output=True, text=True,
                             timeout=120)
    assert refused.returncode != 0 and "秦虹社区/第2网格" in refused.stderr and "Traceback" not in refused.stderr
