"""User administration over HTTP for the admin role: create (a reading account logs in once a steward
approved it), refuse weak or duplicate input without echoing the password, change a role, disable
(sessions and tokens stop at once), issue a machine token shown once; every admin action in the audit
log; other roles refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.integration.api_world import PASSWORD, World, build_world, form_token

NEW_PASSWORD = "a-long-enough-secret-9"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("api-users"), tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def admin(world: World) -> Iterator[TestClient]:
    with world.app_client() as client:
        yield world.login(client, "admin")


def _fresh(world: World) -> TestClient:
    return world.app_client()


def _approve(world: World, username: str) -> None:
    """The second person: the steward approves the admin's pending request for ``username``."""
    with world.app_client() as steward:
        world.login(steward, "steward")
        waiting = [r for r in steward.get("/api/v1/users/requests").json()["requests"] if r["username"] == username]
        assert len(waiting) == 1, waiting
        answer = steward.post(f"/api/v1/users/requests/{waiting[0]['request_id']}/approve")
        assert answer.status_code == 200, answer.text


def _log_in(world: World, username: str, password: str) -> TestClient | None:
    client = _fresh(world)
    answer = client.post("/console/login", data={"username": username, "password": password,
                                                 "csrf": form_token(client)}, follow_redirects=False)
    return client if answer.status_code == 303 else None


def test_an_admin_creates_a_community_worker_who_then_logs_in_within_scope(world: World, admin: TestClient) -> None:
    created = admin.post("/api/v1/users", json={
        "username": "worker_new", "password": NEW_PASSWORD, "role": "community_worker",
        "communities": [world.community_a], "display_name": "新社工"})
    assert created.status_code == 201, created.text
    assert created.json()["role"] == "community_worker" and created.json()["communities"] == [world.community_a]
    assert NEW_PASSWORD not in created.text and "password" not in created.json()
    assert created.json()["active"] is False and created.json()["awaiting_approval"]["kind"] == "create"
    _approve(world, "worker_new")
    listed = {u["username"]: u for u in admin.get("/api/v1/users").json()["users"]}
    assert listed["worker_new"]["active"] is True and "password" not in str(listed)
    client = _log_in(world, "worker_new", NEW_PASSWORD)
    assert client is not None
    me = client.get("/api/v1/me").json()
    assert me["role"] == "community_worker" and me["communities"] == [world.community_a]
    other = world.one(world.community_b)
    assert client.get(f"/api/v1/residents/{other.profile_id}").status_code == 404  # scoped


@pytest.mark.parametrize("body, status, says", [
    ({"username": "short_pw", "password": "Qz7#pw", "role": "steward"}, 400, "too short"),
    ({"username": "no_scope", "password": NEW_PASSWORD, "role": "community_worker"}, 400, "community"),
    ({"username": "no_dept", "password": NEW_PASSWORD, "role": "department_reader"}, 400, "department"),
    ({"username": "bad role", "password": NEW_PASSWORD, "role": "steward"}, 422, "username"),
    ({"username": "x_role", "password": NEW_PASSWORD, "role": "superuser"}, 422, "role"),
    ({"username": "steward", "password": NEW_PASSWORD, "role": "steward"}, 409, "exists"),
    ({"username": "same_pw_same_name", "password": "same_pw_same_name", "role": "auditor"}, 400, "username"),
])
def test_bad_user_input_is_refused_without_echoing_the_password(admin: TestClient, body: dict[str, object],
                                                                 status: int, says: str) -> None:
    answer = admin.post("/api/v1/users", json=body)
    assert answer.status_code == status, answer.text
    assert says in answer.text and "Traceback" not in answer.text
    assert str(body["password"]) not in answer.text or body["password"] == body["username"]


def test_a_grid_worker_is_created_with_grids_only_and_a_badly_written_grid_is_refused(
        world: World, admin: TestClient) -> None:
    grid = f"{world.community_a}/第1网格"
    created = admin.post("/api/v1/users", json={"username": "grid_worker", "password": NEW_PASSWORD,
                                                "role": "community_worker", "grids": [grid]})
    assert created.status_code == 201, created.text
    assert created.json()["grids"] == [grid] and created.json()["communities"] == []
    _approve(world, "grid_worker")
    client = _log_in(world, "grid_worker", NEW_PASSWORD)
    assert client is not None and client.get("/api/v1/me").json()["grids"] == [grid]
    bad = admin.post("/api/v1/users", json={"username": "grid_bad", "password": NEW_PASSWORD,
                                            "role": "community_worker", "grids": ["第1网格"]})
    assert bad.status_code == 400 and "community/grid" in bad.text
    moved = admin.post("/api/v1/users/grid_worker/role", json={"role": "community_worker",
                                                               "grids": [f"{world.community_b}/第2网格"]})
    assert moved.status_code == 200 and moved.json()["grids"] == [grid]  # a change toward reading waits
    _approve(world, "grid_worker")
    listed = {u["username"]: u for u in admin.get("/api/v1/users").json()["users"]}
    assert listed["grid_worker"]["grids"] == [f"{world.community_b}/第2网格"]


def test_a_role_change_and_a_disable_take_effect_at_once(world: World, admin: TestClient) -> None:
    assert admin.post("/api/v1/users", json={"username": "temp_steward", "password": NEW_PASSWORD,
                                             "role": "steward"}).status_code == 201
    _approve(world, "temp_steward")
    session = _log_in(world, "temp_steward", NEW_PASSWORD)
    assert session is not None and session.get("/api/v1/reviews").status_code == 200
    changed = admin.post("/api/v1/users/temp_steward/role", json={"role": "auditor"})
    assert changed.status_code == 200 and changed.json()["role"] == "auditor"  # away from reading: at once
    assert session.get("/api/v1/reviews").status_code == 403  # the same session, the new role
    assert admin.post("/api/v1/users", json={"username": "temp_machine", "password": NEW_PASSWORD,
                                             "role": "department_reader", "department": "housing"}).status_code == 201
    _approve(world, "temp_machine")
    token = admin.post("/api/v1/users/temp_machine/tokens", json={"label": "nightly export"}).json()["token"]
    machine = _fresh(world)
    machine.headers["Authorization"] = f"Bearer {token}"
    assert machine.get("/api/v1/me").json()["username"] == "temp_machine"
    disabled = admin.post("/api/v1/users/temp_steward/disable")
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    assert admin.post("/api/v1/users/temp_machine/disable").status_code == 200
    assert session.get("/api/v1/me").status_code == 401 and machine.get("/api/v1/me").status_code == 401
    assert _log_in(world, "temp_steward", NEW_PASSWORD) is None
    assert admin.post("/api/v1/users/temp_machine/tokens", json={}).status_code == 400  # not for a disabled user
    assert admin.post("/api/v1/users/temp_steward/enable").json()["active"] is True
    assert _log_in(world, "temp_steward", NEW_PASSWORD) is not None
    assert admin.post("/api/v1/users/admin/disable").status_code == 400  # not oneself
    assert admin.post("/api/v1/users/nobody/disable").status_code == 404


def test_a_machine_token_is_shown_once_and_stored_only_as_its_hash(world: World, admin: TestClient) -> None:
    from sqlalchemy import select

    from store.auth_tables import api_tokens, token_hash

    issued = admin.post("/api/v1/users/dept_civil/tokens", json={"label": "民政 夜间同步"})
    assert issued.status_code == 201
    token = issued.json()["token"]
    with world.engine.connect() as conn:
        stored = [r.token_hash for r in conn.execute(select(api_tokens.c.token_hash))]
    assert token not in stored and token_hash(token) in stored
    assert token not in admin.get("/api/v1/users").text


def test_only_the_admin_manages_users_and_every_admin_action_is_audited(world: World, admin: TestClient) -> None:
    for role in ("steward", "auditor", "worker_a", "dept_civil"):
        with world.app_client() as client:
            world.login(client, role)
            assert client.get("/api/v1/users").status_code == 403
            assert client.post("/api/v1/users", json={"username": "sneaky", "password": NEW_PASSWORD,
                                                      "role": "admin"}).status_code == 403
            assert client.get("/console/users").status_code == 403
    assert _fresh(world).get("/api/v1/users").status_code == 401
    with world.app_client() as auditor:
        world.login(auditor, "auditor")
        entries = auditor.get("/api/v1/audit", params={"limit": 1000}).json()["entries"]
    actions = {(e["username"], e["action"]) for e in entries}
    assert {("admin", "admin:request_user"), ("admin", "admin:set_role"), ("admin", "admin:disable_user"),
            ("admin", "admin:enable_user"), ("admin", "admin:issue_token"), ("steward", "approve_account")} <= actions
    assert ("steward", "refused:create_user") in actions  # refusals are audited too
    assert all(NEW_PASSWORD not in str(e) for e in entries)
    assert not any(e["residents"] for e in entries if e["action"].startswith("admin:"))


def test_the_console_page_creates_a_user_and_shows_a_token_once(world: World, admin: TestClient) -> None:
    page = admin.get("/console/users")
    assert page.status_code == 200 and "用户管理" in page.text and "新建用户" in page.text
    refused = admin.post("/console/users", data={"username": "console_user", "password": "Qz7#pw",
                                                 "role": "steward", "csrf": form_token(admin, "/console/users")})
    assert refused.status_code == 400 and "未能创建用户" in refused.text and "Qz7#pw" not in refused.text
    made = admin.post("/console/users", data={"username": "console_user", "password": NEW_PASSWORD,
                                              "role": "community_worker",
                                              "communities": f"{world.community_a}，{world.community_b}",
                                              "csrf": form_token(admin, "/console/users")})
    assert made.status_code == 200 and "已申请创建用户 console_user" in made.text and NEW_PASSWORD not in made.text
    again = admin.post("/console/users", data={"username": "console_user", "password": NEW_PASSWORD,
                                               "role": "steward", "csrf": form_token(admin, "/console/users")})
    assert again.status_code == 400 and "未能创建用户" in again.text and "exists" in again.text  # a conflict, on the page
    listed = {u["username"]: u for u in admin.get("/api/v1/users").json()["users"]}
    assert listed["console_user"]["communities"] == sorted([world.community_a, world.community_b])
    _approve(world, "console_user")
    shown = admin.post("/console/users/dept_civil/tokens", data={"label": "测试",
                                                                 "csrf": form_token(admin, "/console/users")})
    assert "仅显示这一次" in shown.text and 'id="token">oo_' in shown.text
    assert shown.headers["cache-control"] == "no-store"
    assert 'id="token"' not in admin.get("/console/users").text
    assert _log_in(world, "console_user", PASSWORD) is None and _log_in(world, "console_user", NEW_PASSWORD)
