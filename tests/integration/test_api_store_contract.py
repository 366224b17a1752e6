"""The query service's SQL on both backends (SQLite and PostgreSQL): every kind of search and a
profile read over a store filled by the projection."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from core.privacy import keyed_hash
from onceonly.settings import Settings
from store.auth_tables import UserStore
from store.profile_projection import ProfileProjection
from tests.integration.test_profile_projection import _delivered, _events

KEY = "k"


def test_searches_and_profile_reads_work_on_each_backend(store_engine: Engine, tmp_path: object) -> None:
    events = _events()  # 王芳 (public security, with an ID number) merged with a community record with a phone
    ProfileProjection(store_engine, id_hash_key=KEY).apply(_delivered(events))
    UserStore(store_engine).add("s", "pw-for-tests", "steward")
    token = UserStore(store_engine).issue_token("s")
    settings = Settings(id_hash_key=KEY, _env_file=None)
    with TestClient(create_app(store_engine, [], settings), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        by_name = client.get("/api/v1/residents", params={"name": "王芳"}).json()
        by_prefix = client.get("/api/v1/residents", params={"name": "王"}).json()
        by_id = client.get("/api/v1/residents", params={"id_hash": keyed_hash("11010519600501002X", KEY)}).json()
        by_phone = client.post("/api/v1/residents/search", json={"phone": "13900000000"}).json()
        nobody = client.post("/api/v1/residents/search", json={"phone": "13911111111"}).json()
        profile = client.get("/api/v1/residents/p-2").json()  # merged away: redirected to the survivor
    for found in (by_name, by_prefix, by_id, by_phone):
        assert [h["profile_id"] for h in found.get("results", [])] == ["p-1"], found
    assert nobody["results"] == []
    assert profile["profile_id"] == "p-1" and profile["redirected_from"] == "p-2"
    assert len(profile["records"]) == 2
