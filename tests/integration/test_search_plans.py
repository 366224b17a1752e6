"""The hot searches (a full name, a phone, an address fragment, a household) read through indexes,
on SQLite (as the service runs it: no statistics; and after ``ANALYZE``) and on PostgreSQL (after
``ANALYZE``, as autovacuum leaves it): the statement the query service executes is captured and its
plan asked for, and no plan scans the profiles or their search terms whole.

The district is synthetic and written straight into the read-side columns and search terms (the
forms come from the core's own name and address standardisers): the plans, not the projection, are
under test, and a few thousand residents are enough for a planner with statistics to tell an
index from a scan where a criterion selects a handful of rows."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert

from api.queries import ResidentQueries, SearchQuery
from core.access import Principal
from core.profile.read_side import bigrams, normalise_address
from core.standardise import standardise_name
from localinfra.postgres_server import PostgresServer
from store.audit import AuditLog
from store.engine import make_engine
from store.profile_tables import profile_search_terms, profiles

RESIDENTS = 3000
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"
ROADS = ("中华路", "瞻园路", "大石坝街", "长乐路", "钓鱼台", "剪子巷", "武定门路", "马道街", "集庆路", "升州路")
COMMUNITIES = 20


@dataclass(frozen=True)
class Resident:
    profile_id: str
    name: str
    phone: str
    address: str
    household_id: str
    community: str


def _district() -> tuple[list[Resident], list[dict[str, Any]], list[dict[str, Any]]]:
    """Residents, their profile rows and their search terms (name and its pinyin, phone, address
    bigrams and line), three to a household, spread over the communities."""
    rng = random.Random(12)
    at = datetime(2025, 6, 1, tzinfo=UTC)
    residents, rows, terms = [], [], []
    for i in range(RESIDENTS):
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
        pinyin = (standardise_name(name).pinyin or "").lower()
        community = f"第{i % COMMUNITIES:02d}社区"
        resident = Resident(f"p-{i:06d}", name, f"+86138{rng.randrange(10 ** 8):08d}",
                            f"秦淮区{rng.choice(ROADS)}{rng.randint(1, 199)}号{rng.randint(1, 40)}幢{rng.randint(1, 6)}单元"
                            f"{rng.randint(1, 30)}0{rng.randint(1, 4)}室", f"H{i // 3:06d}", community)
        residents.append(resident)
        rows.append({"profile_id": resident.profile_id, "version": 1, "status": "active", "name": name,
                     "name_key": pinyin, "id_hash": f"{rng.getrandbits(128):032x}", "household_id": resident.household_id,
                     "community": community, "grid": f"{community}/第{i % 7 + 1}网格", "address": resident.address,
                     "updated_at": at, "doc": {}})
        line = normalise_address(resident.address)
        own = {("name", name): 1.0, ("name", pinyin): 0.8, ("name", pinyin.replace(" ", "")): 0.8,
               ("phone", resident.phone): 1.0, ("address_line", line): 1.0}
        own.update({("address", pair): 1.0 for pair in bigrams(line)})
        terms += [{"kind": kind, "term": term, "profile_id": resident.profile_id, "weight": weight}
                  for (kind, term), weight in own.items()]
    return residents, rows, terms


@dataclass
class Store:
    engine: Engine
    backend: str
    residents: list[Resident]
    queries: ResidentQueries


@pytest.fixture(scope="module", params=["sqlite", "sqlite-analyzed", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    if request.param.startswith("sqlite"):
        engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('plans') / 'store.db'}")
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        engine = make_engine(server.fresh_database("search_plans"))
    residents, rows, terms = _district()
    with engine.begin() as conn:
        conn.execute(insert(profiles), rows)
        conn.execute(insert(profile_search_terms), terms)
    if request.param != "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    yield Store(engine, request.param, residents,
                ResidentQueries(engine, id_hash_key="plans-test-key", grants={}, audit=AuditLog(engine)))
    engine.dispose()


def _executed_search(store: Store, principal: Principal, query: SearchQuery) -> tuple[str, Any, list[str]]:
    """The ranked search statement the query service executed for ``query`` (with its parameters),
    and the profile ids it found."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        found = store.queries.search(principal, query)
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    ranked = [(s, p) for s, p in seen if re.search(r"\bover\s*\(", s, re.IGNORECASE)]
    assert len(ranked) == 1, [s for s, _ in seen]
    return ranked[0][0], ranked[0][1], [hit["profile_id"] for hit in found["results"]]


def _plan(store: Store, statement: str, parameters: Any) -> list[str]:
    with store.engine.connect() as conn:
        if store.engine.dialect.name == "sqlite":
            return [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
        return [row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters)]


# A whole-table read of the profiles or of their search terms, under any alias the statements use.
_SQLITE_SCAN = re.compile(r"^\s*SCAN (profiles|profile_search_terms|by_phone|by_address_\d+|address_line)\b")
_PG_SCAN = re.compile(r"Seq Scan on (profiles|profile_search_terms)\b")

STEWARD = Principal("u-s", "steward", "steward")


def _worker(community: str) -> Principal:
    return Principal("u-w", "worker", "community_worker", frozenset({community}))


def _criteria(resident: Resident) -> dict[str, tuple[SearchQuery, dict[str, str]]]:
    """Each hot search for ``resident``, with the index (per dialect) it is meant to read through."""
    terms_key = {"sqlite": "sqlite_autoindex_profile_search_terms_1", "postgresql": "profile_search_terms_pkey"}
    fragment = resident.address[3:11]  # road, door number, building: "瞻园路78号3幢"
    return {
        "name": (SearchQuery(name=resident.name), {"sqlite": "ix_profiles_name", "postgresql": "ix_profiles_name"}),
        "phone": (SearchQuery(phone=resident.phone), terms_key),
        "address": (SearchQuery(address=fragment), terms_key),
        "household": (SearchQuery(household=resident.household_id),
                      {"sqlite": "ix_profiles_household", "postgresql": "ix_profiles_household"}),
    }


@pytest.mark.parametrize("who", ["steward", "worker"])
@pytest.mark.parametrize("criterion", ["name", "phone", "address", "household"])
def test_a_hot_search_reads_through_its_index_and_scans_no_table(store: Store, criterion: str, who: str) -> None:
    resident = store.residents[len(store.residents) // 3]
    query, index = _criteria(resident)[criterion]
    principal = STEWARD if who == "steward" else _worker(resident.community)
    statement, parameters, found = _executed_search(store, principal, query)
    assert resident.profile_id in found  # the statement is the one that answers the search
    plan = _plan(store, statement, parameters)
    shown = "\n".join(plan)
    dialect = store.engine.dialect.name
    scans = [line for line in plan if (_SQLITE_SCAN if dialect == "sqlite" else _PG_SCAN).search(line)]
    assert not scans, f"{store.backend}: {criterion} search by a {who} scans a whole table:\n{shown}"
    assert index[dialect] in shown, f"{store.backend}: {criterion} search does not use {index[dialect]}:\n{shown}"
