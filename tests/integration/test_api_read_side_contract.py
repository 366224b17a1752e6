"""The read side's SQL on both backends (SQLite and PostgreSQL): address search through the
search-term index, a grid worker's scope, a department's clear ID numbers read from the document."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from core.access import Principal, visibility
from core.standardise import parse_address
from onceonly.bootstrap import access_grants as load_grants
from onceonly.settings import Settings
from schemas.profile_events import ProfileCreated, ProfileEvent, RecordLinked
from schemas.resident import ResidentRecord
from store.auth_tables import UserStore
from store.profile_projection import DeliveredEvent, ProfileProjection

KEY = "k"
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _resident(pid: str, rid: str, name: str, address: str, grid: str, **fields: object) -> list[ProfileEvent]:
    record = ResidentRecord(source="community", record_id=rid, observed_at=T0, name=name,
                            addresses={"residential": parse_address(address)},
                            attributes={"community": "秦虹社区", "grid": grid}, **fields)
    return [ProfileCreated(profile_id=pid, version=1, occurred_at=T0, caused_by=pid),
            RecordLinked(profile_id=pid, version=2, occurred_at=T0, caused_by=pid, record=record,
                         rule="probabilistic", score=1.0)]


def test_address_grid_and_clear_id_reads_work_on_each_backend(store_engine: Engine) -> None:
    events = (_resident("p-a", "SQ-A", "李娜", "南京市秦淮区秦虹街道秦虹社区秦虹小区3幢2单元301室", "第2网格",
                        id_number="11010519600501002X")
              + _resident("p-b", "SQ-B", "赵敏", "南京市秦淮区秦虹街道秦虹社区秦虹小区5幢1单元101室", "第3网格"))
    ProfileProjection(store_engine, id_hash_key=KEY).apply(
        [DeliveredEvent("profile-events", 0, i, e) for i, e in enumerate(events)])
    users = UserStore(store_engine)
    users.add("s", "pw-for-tests", "steward")
    users.add("g", "pw-for-tests", "community_worker", grids=["秦虹社区/第2网格"])
    users.add("d", "pw-for-tests", "department_reader", department="civil_affairs")
    tokens = {u: users.issue_token(u) for u in ("s", "g", "d")}
    settings = Settings(id_hash_key=KEY, _env_file=None)
    with TestClient(create_app(store_engine, [], settings), raise_server_exceptions=False) as client:
        def get(user: str, path: str, **params: str) -> dict[str, Any]:
            answer: dict[str, Any] = client.get(path, params=params,
                                                headers={"Authorization": f"Bearer {tokens[user]}"}).json()
            return answer

        def ids(answer: dict[str, Any]) -> list[str]:
            return [h["profile_id"] for h in answer["results"]]

        assert ids(get("s", "/api/v1/residents", address="秦虹小区3栋")) == ["p-a"]  # 幢 typed as 栋
        assert ids(get("s", "/api/v1/residents", address="秦虹小区")) == ["p-a", "p-b"]
        assert ids(get("s", "/api/v1/residents", address="1单元3")) == []  # every pair held, never together
        assert ids(get("s", "/api/v1/residents", address="秦淮区秦虹街道")) == ["p-a", "p-b"]
        # the grid worker of 秦虹社区 第2网格: 李娜 yes, 赵敏 (第3网格) no
        assert ids(get("g", "/api/v1/residents", address="秦虹小区")) == ["p-a"]
        assert get("g", "/api/v1/residents/p-b").get("detail", "").startswith("no resident profile")
        assert get("g", "/api/v1/residents/p-a")["profile_id"] == "p-a"
        # ID numbers: masked from the stored column, in clear only where a grant says so
        steward_hit = get("s", "/api/v1/residents", name="李娜")["results"][0]
        assert steward_hit["id_number"] == "110105********002X"
        dept_hit = get("d", "/api/v1/residents", name="李娜")["results"][0]
        dept = Principal("x", "d", "department_reader", department="civil_affairs")
        clear = visibility(dept, "id_number", grants=load_grants()) == "shown"
        assert dept_hit["id_number"] == ("11010519600501002X" if clear else "110105********002X")
