"""Issue 14, items 6–8, through the real app: safe defaults (default key, cookies, logout, CSRF,
headers, /docs, login throttling, token expiry), bounded requests (body size and auth before
parsing, workbook and JSON limits) and scope (one 404 text, no ID number in ``?name=``, department
readers search only by granted criteria). The store-dependent ones run on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import re
import time
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from api.app import create_app
from api.auth import LOGIN_COOKIE, SESSION_COOKIE
from onceonly.settings import Settings
from store.audit import AuditLog
from store.auth_tables import UserStore
from tests.integration.api_world import OWN_KEYS, PASSWORD, World, build_world, form_token

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    built = build_world(tmp_path_factory.mktemp("security"), tmp_path_factory.getbasetemp())
    built.users.add("dept_housing", PASSWORD, "department_reader", department="housing")  # name, address, household
    return built


@pytest.fixture()
def small(store_engine: Engine, tmp_path: Path) -> Iterator[tuple[TestClient, UserStore, Engine]]:
    """An app on an empty store (SQLite and PostgreSQL) with one steward."""
    users = UserStore(store_engine)
    users.add("steward", PASSWORD, "steward")
    settings = Settings(data_dir=tmp_path / "var", id_hash_key="security-test-key", _env_file=None)
    with TestClient(create_app(store_engine, [], settings), raise_server_exceptions=False) as client:
        yield client, users, store_engine


def _log_in(client: TestClient, username: str = "steward", password: str = PASSWORD) -> Any:
    return client.post("/console/login", data={"username": username, "password": password,
                                               "csrf": form_token(client)}, follow_redirects=False)


# -- 6. safe defaults ------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [["serve", "--host", "0.0.0.0"], ["worker"]])
def test_serve_and_worker_refuse_the_default_key_off_loopback(command: list[str], tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from onceonly.cli import app

    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.delenv("ONCEONLY_ID_HASH_KEY", raising=False)
    monkeypatch.setenv("ONCEONLY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ONCEONLY_API_HOST", "0.0.0.0")
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2
    assert "refusing to start with the default ONCEONLY_ID_HASH_KEY" in result.output
    assert "Traceback" not in result.output


def test_the_default_key_is_allowed_on_loopback_and_a_set_key_anywhere() -> None:
    import typer

    from onceonly.cli import _refuse_default_key

    default = Settings(_env_file=None)
    for host in ("127.0.0.1", "localhost", "::1"):
        _refuse_default_key(default, host, "serve")
    _refuse_default_key(Settings(id_hash_key="a-real-secret", _env_file=None), "0.0.0.0", "serve")
    with pytest.raises(typer.Exit):
        _refuse_default_key(default, "10.0.0.5", "serve")


def test_the_session_cookie_is_httponly_strict_and_secure_off_loopback_or_over_https(world: World) -> None:
    def cookie_of(client: TestClient) -> str:
        answer = _log_in(client)
        assert answer.status_code == 303, answer.text
        cookie: str = next(v for v in answer.headers.get_list("set-cookie") if v.startswith(f"{SESSION_COOKIE}="))
        return cookie

    loopback = cookie_of(world.app_client())  # the tests and make demo: http on 127.0.0.1
    assert "HttpOnly" in loopback and "SameSite=strict" in loopback.replace("Strict", "strict")
    assert "Secure" not in loopback
    proxied = world.settings.model_copy(update={"api_host": "0.0.0.0", **OWN_KEYS})  # behind a TLS proxy
    behind = TestClient(create_app(world.engine, [], proxied), raise_server_exceptions=False)
    assert "Secure" in behind.get("/console/login").headers["set-cookie"]  # over http it would not come back
    assert "Secure" in cookie_of(TestClient(behind.app, base_url="https://testserver"))
    https = TestClient(create_app(world.engine, [], world.settings), base_url="https://testserver",
                       raise_server_exceptions=False)
    assert "Secure" in cookie_of(https)


def test_a_session_issued_before_logout_no_longer_works(small: tuple[TestClient, UserStore, Engine]) -> None:
    client, _, _ = small
    assert _log_in(client).status_code == 303
    stolen = client.cookies.get(SESSION_COOKIE)
    assert client.get("/api/v1/residents", params={"name": "王芳"}).status_code == 200
    out = client.post("/console/logout", data={"csrf": form_token(client, "/console/search")}, follow_redirects=False)
    assert out.status_code == 303
    replayed = TestClient(client.app, raise_server_exceptions=False)
    replayed.cookies.set(SESSION_COOKIE, stolen)
    assert replayed.get("/api/v1/residents", params={"name": "王芳"}).status_code == 401
    assert replayed.get("/console/health", follow_redirects=False).headers["location"] == "/console/login"
    assert _log_in(client).status_code == 303  # a new login works again
    assert client.get("/api/v1/residents", params={"name": "王芳"}).status_code == 200


def test_console_forms_need_the_sessions_csrf_token(world: World) -> None:
    client = world.login(world.app_client(), "steward")
    page = client.get("/console/search").text
    token = re.search(r'name="csrf" value="([^"]+)"', page)[1]  # type: ignore[index]
    assert page.count('name="csrf"') >= 2  # the search form and the logout form
    missing = client.post("/console/search", data={"phone": "13900000000"})
    wrong = client.post("/console/search", data={"phone": "13900000000", "csrf": token[:-2] + "xx"})
    assert missing.status_code == wrong.status_code == 403 and "安全令牌" in missing.text
    assert client.post("/console/search", data={"phone": "13900000000", "csrf": token}).status_code == 200
    other = world.login(world.app_client(), "worker_a")  # another session's token does not fit this one
    assert other.post("/console/search", data={"phone": "13900000000", "csrf": token}).status_code == 403
    refused = [e for e in AuditLog(world.engine).entries(limit=50) if e.action.startswith("refused")
               and "CSRF" in e.purpose]
    assert refused, "a form posted without its token is an audited refusal"


def test_the_login_form_needs_its_double_submit_token(world: World) -> None:
    client = world.app_client()
    bare = client.post("/console/login", data={"username": "steward", "password": PASSWORD}, follow_redirects=False)
    assert bare.status_code == 403 and SESSION_COOKIE not in bare.headers.get("set-cookie", "")
    token = form_token(client)
    assert client.cookies.get(LOGIN_COOKIE) == token
    foreign = client.post("/console/login", data={"username": "steward", "password": PASSWORD, "csrf": "x" * 32},
                          follow_redirects=False)
    assert foreign.status_code == 403
    assert _log_in(client).status_code == 303


def test_every_answer_carries_the_security_headers_and_hsts_only_over_https(world: World) -> None:
    client = world.app_client()
    for path in ("/console/login", "/health", "/api/v1/residents", "/openapi.json", "/docs"):
        headers = client.get(path, follow_redirects=False).headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, path
        assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer", path
        assert "strict-transport-security" not in headers, path
    assert client.get("/console/login").headers["cache-control"] == "no-store"
    https = TestClient(client.app, base_url="https://testserver", raise_server_exceptions=False)
    assert https.get("/health").headers["strict-transport-security"].startswith("max-age=")


def test_the_source_counts_need_a_login(world: World) -> None:
    assert world.app_client().get("/api/v1/sources").status_code == 401
    assert world.login(world.app_client(), "steward").get("/api/v1/sources").status_code == 200


def test_docs_loads_nothing_from_a_cdn(world: World) -> None:
    docs = world.app_client().get("/docs")
    assert docs.status_code == 200 and "/api/v1/residents" in docs.text and "/openapi.json" in docs.text
    assert "<script" not in docs.text and "cdn" not in docs.text.lower()
    assert world.app_client().get("/redoc").status_code == 404


def test_logins_are_throttled_per_account_and_failures_are_audited(
        small: tuple[TestClient, UserStore, Engine]) -> None:
    client, _, engine = small
    for _ in range(5):
        assert _log_in(client, password="wrong password").status_code == 401
    locked = _log_in(client)  # the right password, too late
    assert locked.status_code == 429 and "登录失败次数过多" in locked.text
    failed = [e for e in AuditLog(engine).entries(limit=50) if e.action == "login_failed"]
    assert len(failed) == 5 and all(e.user_id == "" and e.username == "steward" for e in failed)
    assert all(PASSWORD not in e.purpose and "wrong password" not in e.purpose for e in failed)


def test_logins_are_throttled_per_address(world: World) -> None:
    # Every attempt from one address (its own: the counts are in the world's store), each at another account.
    client = TestClient(world.app_client().app, client=("192.0.2.7", 50000), raise_server_exceptions=False)
    for n in range(5):
        assert _log_in(client, username=f"guess{n}", password="wrong password").status_code == 401
    assert _log_in(client, username="worker_b").status_code == 429


def test_the_login_throttle_is_shared_by_every_service_process_and_does_not_lock_the_owner_out(
        store_engine: Engine, tmp_path: Path) -> None:
    """Two apps on one store stand for two uvicorn processes (or replicas): five failures through
    either are five. Someone elsewhere who knows only the account's name does not lock its owner out."""
    UserStore(store_engine).add("steward", PASSWORD, "steward")
    settings = Settings(data_dir=tmp_path / "var", id_hash_key="security-test-key", _env_file=None)
    one, other = (create_app(store_engine, [], settings) for _ in range(2))
    guesser = [TestClient(app, client=("198.51.100.9", 40000), raise_server_exceptions=False) for app in (one, other)]
    for n in range(5):
        assert _log_in(guesser[n % 2], password="wrong password").status_code == 401
    for process in guesser:  # the sixth try, through either process, with the right password
        assert _log_in(process).status_code == 429
    owner = TestClient(other, client=("203.0.113.20", 40000), raise_server_exceptions=False)
    assert _log_in(owner).status_code == 303  # the owner, from their own address, still gets in


def test_bearer_tokens_expire(small: tuple[TestClient, UserStore, Engine]) -> None:
    client, users, _ = small
    fresh = users.issue_token("steward", "fresh")
    expired = users.issue_token("steward", "old", lifetime=timedelta(seconds=-1))
    ok = client.get("/api/v1/residents", params={"name": "王芳"}, headers={"Authorization": f"Bearer {fresh}"})
    gone = client.get("/api/v1/residents", params={"name": "王芳"}, headers={"Authorization": f"Bearer {expired}"})
    assert ok.status_code == 200
    assert gone.status_code == 401 and "expired" in gone.json()["detail"]
    from datetime import datetime

    later = datetime.now(UTC) + timedelta(days=91)  # the default lifetime is 90 days
    assert users.by_token(fresh) is not None and users.by_token(fresh, now=later) is None


# -- 7. bounded requests ---------------------------------------------------------------------------

def _raw_post(app: Any, path: str, headers: dict[str, str], *, total: int, chunk: int = MIB,
              declare: bool = True) -> tuple[int, int]:
    """POST ``total`` bytes to ``app`` through ASGI as the server would stream them; the status and how
    many bytes the app read."""
    read = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal read
        if read >= total:
            return {"type": "http.disconnect"}  # everything sent: the next message is the client leaving
        size = min(chunk, total - read)
        read += size
        return {"type": "http.request", "body": b"{" + b" " * (size - 1), "more_body": read < total}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    if declare:
        raw.append((b"content-length", str(total).encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), *raw],
             "server": ("testserver", 80), "client": ("127.0.0.1", 50000)}
    asyncio.run(app(scope, receive, send))
    return status, read


def test_an_unauthenticated_64_mib_post_is_refused_401_before_a_byte_is_read(world: World) -> None:
    app = world.app_client().app
    started = time.monotonic()
    for path in ("/api/v1/residents/search", "/api/v1/planner", "/api/v1/users"):
        assert _raw_post(app, path, {}, total=64 * MIB) == (401, 0), path
        assert _raw_post(app, path, {}, total=64 * MIB, declare=False) == (401, 0), path  # chunked, no length
    assert time.monotonic() - started < 5


def test_an_authenticated_oversized_body_is_refused_413_as_declared_or_as_streamed(world: World) -> None:
    app = world.app_client().app
    token = world.users.issue_token("steward", "bounded")
    bearer = {"authorization": f"Bearer {token}"}
    assert _raw_post(app, "/api/v1/residents/search", bearer, total=64 * MIB) == (413, 0)
    status, read = _raw_post(app, "/api/v1/residents/search", bearer, total=64 * MIB, declare=False)
    assert status == 413 and read <= 2 * MIB  # stopped at the limit, not read whole
    assert _raw_post(app, "/api/v1/planner/answers", bearer, total=64 * MIB) == (413, 0)  # uploads too
    client = TestClient(app, raise_server_exceptions=False)
    big = client.post("/api/v1/residents/search", content=b" " * (2 * MIB), headers=bearer)
    assert big.status_code == 413 and "MiB" in big.json()["detail"]


def test_a_workbook_of_blank_rows_is_refused_in_milliseconds(world: World) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("form")
    sheet.append(["profile_id", "电话"])
    sheet.append([None, "phones"])
    for _ in range(200_000):
        sheet.append(["", ""])  # blank: read_workbook would walk every one (seconds of CPU)
    data = io.BytesIO()
    book.save(data)
    assert len(data.getvalue()) < 2 * MIB
    client = world.login(world.app_client(), "steward")
    started = time.monotonic()
    answer = client.post("/api/v1/planner/answers", files={"file": ("plan.xlsx", data.getvalue())})
    assert answer.status_code == 413 and "rows" in answer.json()["detail"]
    assert time.monotonic() - started < 1.5
    console = client.post("/console/planner/answers", files={"file": ("plan.xlsx", data.getvalue())},
                          data={"csrf": form_token(client, "/console/planner")})
    assert console.status_code == 413 and "采集结果未能提交" in console.text


def test_deep_json_to_the_ingest_endpoint_is_a_400_not_a_500(world: World) -> None:
    settings = Settings(data_dir=world.settings.data_dir, id_hash_key="api-test-key",
                        ingest_tokens={"community": "community-token"}, _env_file=None)
    with TestClient(create_app(world.engine, [], settings), raise_server_exceptions=False) as client:
        headers = {"Authorization": "Bearer community-token", "Content-Type": "application/json"}
        for body in (b"[" * 200_000 + b"]" * 200_000, b'{"rows": [{"a": ' + b"[" * 50 + b"]" * 50 + b"}]}"):
            answer = client.post("/api/v1/ingest/community", content=body, headers=headers)
            assert answer.status_code == 400 and "nested deeper" in answer.json()["detail"]
        anonymous = client.post("/api/v1/ingest/community", content=b"[" * 1000, headers={})
        assert anonymous.status_code == 401


# -- 8. scope --------------------------------------------------------------------------------------

def test_outside_your_scope_and_does_not_exist_read_the_same(world: World) -> None:
    worker = world.login(world.app_client(), "worker_a")
    elsewhere = world.one(world.community_b)
    outside = worker.get(f"/api/v1/residents/{elsewhere.profile_id}")
    unknown = worker.get("/api/v1/residents/no-such-profile")
    assert outside.status_code == unknown.status_code == 404
    assert (outside.json()["detail"].replace(elsewhere.profile_id, "ID")
            == unknown.json()["detail"].replace("no-such-profile", "ID"))
    household = next(p.household_id for p in world.profiles_in(world.community_b) if p.household_id)
    assert (worker.get(f"/api/v1/households/{household}").json()["detail"].replace(household, "ID")
            == worker.get("/api/v1/households/no-such-household").json()["detail"].replace("no-such-household", "ID"))


def test_an_id_number_in_name_is_refused_without_echoing_it(world: World) -> None:
    steward = world.login(world.app_client(), "steward")
    for written in ("11010519491231002X", "110105 1949 1231 002X", "１１０１０５１９４９１２３１００２Ｘ", "13900000000"):
        answer = steward.get("/api/v1/residents", params={"name": written})
        assert answer.status_code == 400 and "POST" in answer.json()["detail"], written
        assert "1231" not in answer.text and "0000" not in answer.text
    assert steward.get("/api/v1/residents", params={"name": "王芳"}).status_code == 200


def test_a_department_reader_searches_only_by_granted_criteria_and_two_characters_of_a_name(world: World) -> None:
    housing = world.login(world.app_client(), "dept_housing")  # granted name, residential address, household
    resident = world.one(world.community_a, with_id=True, with_phone=True)
    assert resident.golden.id_number is not None and resident.golden.phones is not None
    assert resident.golden.name is not None
    by_id = housing.post("/api/v1/residents/search", json={"id_number": resident.golden.id_number.value})
    by_phone = housing.post("/api/v1/residents/search", json={"phone": resident.golden.phones.value[0]})
    assert by_id.status_code == by_phone.status_code == 403
    assert "id_number" in by_id.json()["detail"] and "phones" in by_phone.json()["detail"]
    assert resident.golden.name.value not in by_id.text + by_phone.text
    assert housing.get("/api/v1/residents", params={"name": resident.golden.name.value[0]}).status_code == 400
    assert housing.get("/api/v1/residents", params={"name": resident.golden.name.value}).status_code == 200
    civil = world.login(world.app_client(), "dept_civil")  # civil affairs is granted ID numbers
    assert civil.post("/api/v1/residents/search", json={"id_number": resident.golden.id_number.value}).status_code == 200
    refused = [e for e in AuditLog(world.engine).entries(limit=100)
               if e.username == "dept_housing" and e.action.startswith("refused")]
    assert len(refused) >= 2
