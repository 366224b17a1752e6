"""Issue 14, item 4, through the real app on SQLite and PostgreSQL: the admin (who sees no resident
data) gets no way to read it. Tokens only for machine accounts; a new reading account, or a change
toward a reading role, waits for a second person (a steward or an auditor), and both the request and
the decision are audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from api.app import create_app
from onceonly.settings import Settings
from store.audit import AuditLog
from store.auth_tables import UserStore, api_tokens, users
from tests.integration.api_world import PASSWORD, form_token

NEW_PASSWORD = "a-long-enough-secret-9"


@pytest.fixture()
def hub(store_engine: Engine, tmp_path: Path) -> Iterator[tuple[TestClient, UserStore, Engine]]:
    """An empty store with an admin, a steward, two auditors and a department's machine account."""
    store = UserStore(store_engine)
    store.add("admin", PASSWORD, "admin")
    store.add("steward", PASSWORD, "steward")
    store.add("auditor", PASSWORD, "auditor")
    store.add("auditor_2", PASSWORD, "auditor")
    store.add("dept_civil", PASSWORD, "department_reader", department="civil_affairs")
    settings = Settings(data_dir=tmp_path / "var", id_hash_key="duties-test-key", _env_file=None)
    with TestClient(create_app(store_engine, [], settings), raise_server_exceptions=False) as client:
        yield client, store, store_engine


def _as(hub: tuple[TestClient, UserStore, Engine], username: str, password: str = PASSWORD) -> TestClient:
    client = TestClient(hub[0].app, raise_server_exceptions=False)
    answer = client.post("/console/login", data={"username": username, "password": password,
                                                  "csrf": form_token(client)}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return client


def _may_log_in(hub: tuple[TestClient, UserStore, Engine], username: str, password: str) -> bool:
    client = TestClient(hub[0].app, raise_server_exceptions=False)
    status: int = client.post("/console/login", data={"username": username, "password": password,
                                                      "csrf": form_token(client)}, follow_redirects=False).status_code
    return status == 303


def _actions(engine: Engine) -> list[tuple[str, str]]:
    return [(e.username, e.action) for e in AuditLog(engine).entries(limit=1000)]


def _token_holders(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(users.c.username).join(api_tokens, api_tokens.c.user_id == users.c.user_id))
                   .scalars())


def test_the_admin_cannot_mint_a_token_for_a_person_only_for_a_machine_account(
        hub: tuple[TestClient, UserStore, Engine]) -> None:
    admin = _as(hub, "admin")
    refused = admin.post("/api/v1/users/steward/tokens", json={"label": "act as the steward"})
    assert refused.status_code == 400 and "machine accounts" in refused.text and "oo_" not in refused.text
    page = admin.post("/console/users/steward/tokens", data={"label": "x", "csrf": form_token(admin, "/console/users")})
    assert page.status_code == 400 and 'id="token"' not in page.text
    assert _token_holders(hub[2]) == set()
    issued = admin.post("/api/v1/users/dept_civil/tokens", json={"label": "民政 夜间同步"})
    assert issued.status_code == 201 and issued.json()["token"].startswith("oo_")
    assert _token_holders(hub[2]) == {"dept_civil"}


def test_the_cli_issues_tokens_only_to_machine_accounts(hub: tuple[TestClient, UserStore, Engine],
                                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from onceonly.cli import app

    monkeypatch.setenv("ONCEONLY_DATABASE_URL", hub[2].url.render_as_string(hide_password=False))
    monkeypatch.setenv("ONCEONLY_DATA_DIR", str(tmp_path / "cli"))
    refused = CliRunner().invoke(app, ["users", "token", "steward"])
    assert refused.exit_code != 0 and "machine accounts" in refused.output
    issued = CliRunner().invoke(app, ["users", "token", "dept_civil", "--label", "nightly"])
    assert issued.exit_code == 0 and issued.output.strip().startswith("oo_")
    assert _token_holders(hub[2]) == {"dept_civil"}
    asked = CliRunner().invoke(app, ["users", "add", "cli_worker", "--role", "community_worker", "--community", "秦虹社区",
                                     "--password", NEW_PASSWORD])
    assert asked.exit_code == 0 and "disabled until" in asked.output
    short = CliRunner().invoke(app, ["users", "add", "cli_short", "--role", "auditor", "--password", "short"])
    assert short.exit_code != 0 and "too short" in short.output
    # the terminal's commands are the admin's use cases: the same rules, audited under the OS account
    from onceonly import bootstrap
    from services.operator_reads import operator

    with bootstrap.hub() as cli_hub:
        actions = [(e.username, e.action) for e in cli_hub.audit.entries(limit=50)]
    me = operator().username
    assert (me, "admin:issue_token") in actions and (me, "admin:request_user") in actions
    assert "refused:approve_request" not in {a for _, a in actions}


def test_a_new_reading_account_waits_for_a_second_person_and_both_steps_are_audited(
        hub: tuple[TestClient, UserStore, Engine]) -> None:
    admin = _as(hub, "admin")
    created = admin.post("/api/v1/users", json={"username": "new_steward", "password": NEW_PASSWORD,
                                                "role": "steward"})
    assert created.status_code == 201, created.text
    waiting = created.json()["awaiting_approval"]
    assert created.json()["active"] is False and waiting["requested_by"] == "admin"
    assert not _may_log_in(hub, "new_steward", NEW_PASSWORD)
    assert admin.post("/api/v1/users/new_steward/enable").status_code == 400  # the admin cannot bypass it
    assert admin.post(f"/api/v1/users/requests/{waiting['request_id']}/approve").status_code == 403
    assert not _may_log_in(hub, "new_steward", NEW_PASSWORD)

    auditor = _as(hub, "auditor")
    assert [r["username"] for r in auditor.get("/api/v1/users/requests").json()["requests"]] == ["new_steward"]
    approved = auditor.post(f"/api/v1/users/requests/{waiting['request_id']}/approve")
    assert approved.status_code == 200 and approved.json()["account"]["active"] is True
    assert auditor.post(f"/api/v1/users/requests/{waiting['request_id']}/approve").status_code == 404  # once
    assert _may_log_in(hub, "new_steward", NEW_PASSWORD)

    # A refused account stays disabled; an account that reads nothing (an auditor) needs no approval.
    admin.post("/api/v1/users", json={"username": "new_worker", "password": NEW_PASSWORD,
                                      "role": "community_worker", "communities": ["秦虹社区"]})
    steward = _as(hub, "steward")
    worker_request = steward.get("/api/v1/users/requests").json()["requests"][0]["request_id"]
    assert steward.post(f"/api/v1/users/requests/{worker_request}/refuse").status_code == 200
    assert not _may_log_in(hub, "new_worker", NEW_PASSWORD)
    plain = admin.post("/api/v1/users", json={"username": "new_auditor", "password": NEW_PASSWORD, "role": "auditor"})
    assert plain.json()["active"] is True and plain.json()["awaiting_approval"] is None

    actions = _actions(hub[2])
    assert ("admin", "admin:request_user") in actions and ("auditor", "approve_account") in actions
    assert ("steward", "refuse_account") in actions and ("admin", "refused:approve_request") in actions
    assert ("admin", "admin:create_user") in actions  # the auditor, at once


def test_a_change_toward_reading_waits_and_nobody_approves_their_own(
        hub: tuple[TestClient, UserStore, Engine]) -> None:
    admin = _as(hub, "admin")
    asked = admin.post("/api/v1/users/auditor/role", json={"role": "steward"})
    assert asked.status_code == 200 and asked.json()["role"] == "auditor"  # not applied yet
    request_id = asked.json()["awaiting_approval"]["request_id"]
    assert admin.post("/api/v1/users/auditor/role", json={"role": "steward"}).status_code == 409  # one at a time
    promoted = _as(hub, "auditor")
    assert promoted.get("/api/v1/residents", params={"name": "张伟"}).status_code == 403
    assert promoted.post(f"/api/v1/users/requests/{request_id}/approve").status_code == 403  # not their own
    assert promoted.get("/api/v1/users/requests").status_code == 200
    assert _as(hub, "auditor_2").post(f"/api/v1/users/requests/{request_id}/approve").status_code == 200
    assert promoted.get("/api/v1/me").json()["role"] == "steward"


def test_a_machine_account_turned_into_a_person_loses_its_tokens(hub: tuple[TestClient, UserStore, Engine]) -> None:
    admin = _as(hub, "admin")
    token = admin.post("/api/v1/users/dept_civil/tokens", json={}).json()["token"]
    machine = TestClient(hub[0].app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {token}"})
    assert machine.get("/api/v1/me").status_code == 200
    # toward a reading role: the tokens go when the steward approves it
    request_id = admin.post("/api/v1/users/dept_civil/role", json={"role": "steward"}).json()["awaiting_approval"][
        "request_id"]
    assert machine.get("/api/v1/me").json()["role"] == "department_reader"
    assert _as(hub, "steward").post(f"/api/v1/users/requests/{request_id}/approve").status_code == 200
    assert machine.get("/api/v1/me").status_code == 401
    assert _token_holders(hub[2]) == set()


def test_the_console_lists_requests_for_stewards_and_auditors_only(hub: tuple[TestClient, UserStore, Engine]) -> None:
    admin = _as(hub, "admin")
    made = admin.post("/console/users", data={"username": "console_worker", "password": NEW_PASSWORD,
                                              "role": "community_worker", "communities": "秦虹社区",
                                              "csrf": form_token(admin, "/console/users")})
    assert made.status_code == 200 and "待数据管理员或审计员批准" in made.text
    steward = _as(hub, "steward")
    page = steward.get("/console/account-requests")
    assert page.status_code == 200 and "console_worker" in page.text
    request_id = steward.get("/api/v1/users/requests").json()["requests"][0]["request_id"]
    decided = steward.post(f"/console/account-requests/{request_id}/approve",
                           data={"csrf": form_token(steward, "/console/account-requests")})
    assert decided.status_code == 200 and "已批准 console_worker" in decided.text
    assert _may_log_in(hub, "console_worker", NEW_PASSWORD)
    assert _as(hub, "dept_civil").get("/console/account-requests").status_code == 403
    denied: Any = admin.post(f"/console/account-requests/{request_id}/approve",
                             data={"csrf": form_token(admin, "/console/users")})
    assert denied.status_code in (403, 404)
