"""The hot searches (a full name, a phone, an address fragment, a household) read through indexes,
on SQLite (as the service runs it: no statistics; and after ``ANALYZE``) and on PostgreSQL (after
``ANALYZE``, as autovacuum leaves it): the statement the query service executes is captured and its
plan asked for, and no plan scans the profiles or their search terms whole.

The district is synthetic and written straight into the read-side columns and search terms (the
forms come from the core's own name and address standardisers): the plans, not the projection, are
under test, and a few thousand residents are enough for a planner with statistics to tell an
index from a scan where a criterion selects a handful of rows.

The same holds for what a community worker's home page (``services.home``) and a steward's flag filters
read on every view (issue #12): the listing per sort and filter, its counts, what changed since a
time, a household's members, a search by 人户分离 / 住址有冲突 alone or with a name. The home page
reads a store of its own, of many communities (profiles and their event log only): each statement
reads its community or the flagged rows through an index, and a page comes in the order of a
(community, sort column) index instead of sorting the whole community."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert

from core.access import Principal
from core.profile.read_side import bigrams, normalise_address
from core.standardise import standardise_name
from localinfra.postgres_server import PostgresServer
from services.home import HomeFilters, HomeQueries
from services.queries import ResidentQueries, SearchQuery
from store.audit import AuditLog
from store.engine import make_engine
from store.profile_tables import profile_event_log, profile_search_terms, profiles

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
    apart: bool = False  # 人户分离
    contested: bool = False  # 住址有冲突


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
                            f"{rng.randint(1, 30)}0{rng.randint(1, 4)}室", f"H{i // 3:06d}", community,
                            apart=i % 37 == 5, contested=i % 101 == 7)
        residents.append(resident)
        rows.append({"profile_id": resident.profile_id, "version": 1, "status": "active", "name": name,
                     "name_key": pinyin, "id_hash": f"{rng.getrandbits(128):032x}", "household_id": resident.household_id,
                     "community": community, "grid": f"{community}/第{i % 7 + 1}网格", "address": resident.address,
                     "lives_apart": resident.apart, "place_contested": resident.contested, "updated_at": at, "doc": {}})
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


def _executing(engine: Engine, read: Callable[[], Any]) -> tuple[Any, list[tuple[str, Any]]]:
    """What ``read`` answers, and the statements (with their parameters) it executed on ``engine``."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        answer = read()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return answer, seen


def _executed_search(store: Store, principal: Principal, query: SearchQuery) -> tuple[str, Any, list[str]]:
    """The ranked search statement the query service executed for ``query`` (with its parameters),
    and the profile ids it found."""
    found, seen = _executing(store.engine, lambda: store.queries.search(principal, query))
    ranked = [(s, p) for s, p in seen if re.search(r"\bover\s*\(", s, re.IGNORECASE)]
    assert len(ranked) == 1, [s for s, _ in seen]
    return ranked[0][0], ranked[0][1], [hit["profile_id"] for hit in found["results"]]


def _plan(engine: Engine, statement: str, parameters: Any) -> list[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
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
    plan = _plan(store.engine, statement, parameters)
    shown = "\n".join(plan)
    dialect = store.engine.dialect.name
    scans = [line for line in plan if (_SQLITE_SCAN if dialect == "sqlite" else _PG_SCAN).search(line)]
    assert not scans, f"{store.backend}: {criterion} search by a {who} scans a whole table:\n{shown}"
    assert index[dialect] in shown, f"{store.backend}: {criterion} search does not use {index[dialect]}:\n{shown}"


# -- the place flags (store.place_flags) and a household's members, on the district ----------------

# Besides a whole read of a table: the plan sorting its rows whole (an index could give the order).
_SQLITE_LOG_SCAN = re.compile(r"^\s*SCAN (profile_event_log|member)\b")
_PG_LOG_SCAN = re.compile(r"Seq Scan on profile_event_log\b")
# A place flag's partial index holds the flagged rows only: reading it whole is what it is for.
_FLAG_INDEX = re.compile(r"USING (COVERING )?INDEX ix_profiles_(apart|contested)\b")
_SQLITE_SORT = re.compile(r"USE TEMP B-TREE FOR ORDER BY")  # not "FOR RIGHT PART OF ORDER BY"
_PG_SORT = re.compile(r"(^|->)\s*Sort\s+\(")  # not "Incremental Sort" (the ties of an index's order)


def _whole_reads(engine: Engine, plan: list[str]) -> list[str]:
    """The lines of ``plan`` reading the profiles, their search terms or the event log whole."""
    if engine.dialect.name == "sqlite":
        return [line for line in plan if (_SQLITE_SCAN.search(line) or _SQLITE_LOG_SCAN.search(line))
                and not _FLAG_INDEX.search(line)]
    return [line for line in plan if _PG_SCAN.search(line) or _PG_LOG_SCAN.search(line)]


def _sorts(engine: Engine, plan: list[str]) -> list[str]:
    return [line for line in plan if (_SQLITE_SORT if engine.dialect.name == "sqlite" else _PG_SORT).search(line)]


@pytest.mark.parametrize("with_name", [False, True], ids=["flag-alone", "flag-and-name"])
@pytest.mark.parametrize("flag", ["apart", "contested"])
@pytest.mark.parametrize("who", ["steward", "worker"])
def test_a_place_flag_filter_reads_the_flagged_rows_through_an_index(store: Store, who: str, flag: str,
                                                                     with_name: bool) -> None:
    flagged = [r for r in store.residents if getattr(r, flag)]
    resident = flagged[len(flagged) // 2]
    principal = STEWARD if who == "steward" else _worker(resident.community)
    in_scope = {r.profile_id for r in flagged if who == "steward" or r.community == resident.community}
    query = SearchQuery(name=resident.name if with_name else None, apart=flag == "apart", contested=flag == "contested")
    statement, parameters, found = _executed_search(store, principal, query)
    assert set(found) <= in_scope  # the flagged residents in scope, no other
    if with_name:
        assert resident.profile_id in found
    else:
        assert len(found) == min(20, len(in_scope))  # a page of them
    plan = _plan(store.engine, statement, parameters)
    shown = "\n".join(plan)
    assert not _whole_reads(store.engine, plan), f"{store.backend}: {flag} filter by a {who} reads a table whole:\n{shown}"
    if with_name:
        assert "ix_profiles_name" in shown, f"{store.backend}: {flag} and a name without ix_profiles_name:\n{shown}"
    elif who == "steward":  # the whole district: only its flagged rows, in the order of the results
        assert f"ix_profiles_{flag}" in shown, f"{store.backend}: {flag} alone without its partial index:\n{shown}"
    else:  # a worker's community or grids, or the flagged rows
        assert re.search(r"ix_profiles_(community(_glance)?|grid|apart|contested)\b", shown), shown


@pytest.mark.parametrize("who", ["steward", "worker"])
def test_a_households_members_are_read_through_the_household_index(store: Store, who: str) -> None:
    resident = store.residents[len(store.residents) // 2 + 1]
    principal = STEWARD if who == "steward" else _worker(resident.community)
    answer, seen = _executing(store.engine, lambda: store.queries.household(principal, resident.household_id))
    expected = {r.profile_id for r in store.residents if r.household_id == resident.household_id
                and (who == "steward" or r.community == resident.community)}
    assert {m["profile_id"] for m in answer["members"]} == expected
    members = [(s, p) for s, p in seen if re.search(r"\bFROM profiles\b", s) and "household_id" in s]
    assert len(members) == 1, [s for s, _ in seen]
    plan = _plan(store.engine, *members[0])
    shown = "\n".join(plan)
    assert not _whole_reads(store.engine, plan), f"{store.backend}: household members read whole:\n{shown}"
    assert "ix_profiles_household" in shown, f"{store.backend}: household members without their index:\n{shown}"


# -- a worker's home page (services.home), on a store of many communities -------------------------------

HOME_COMMUNITIES = 30
HOME_RESIDENTS = 30_000  # 1000 a community: enough that a planner reads a page in an index's order
HOME_TODAY = date(2026, 1, 1)
LOGGED_FROM = datetime(2025, 1, 1, tzinfo=UTC)  # the first version of resident i at LOGGED_FROM + i minutes
CHANGED_FROM = LOGGED_FROM + timedelta(minutes=HOME_RESIDENTS)  # every fifth resident changed again since


@dataclass(frozen=True)
class HomeResident:
    profile_id: str
    community: str
    household_id: str
    birth_date: date | None
    live: bool
    apart: bool
    contested: bool
    changed_at: datetime  # the time of their last event


@dataclass
class Homes:
    engine: Engine
    backend: str
    residents: list[HomeResident]
    queries: HomeQueries


def _home_district() -> tuple[list[HomeResident], list[dict[str, Any]], list[dict[str, Any]]]:
    """Residents of many communities (three to a household, every tenth alone in one; some dead or
    moved out, some without a birth date, some flagged), their profile rows and their events."""
    rng = random.Random(21)
    residents, rows, log = [], [], []
    for i in range(HOME_RESIDENTS):
        community = f"第{(i // 3) % HOME_COMMUNITIES:02d}社区"
        golden: dict[str, Any] = {}
        if i % 17 == 3:
            golden["deceased_on"] = {"value": "2024-03-01"}
        if i % 23 == 4:
            golden["moved_out_on"] = {"value": "2024-05-01"}
        born = None if i % 19 == 0 else date(1930, 1, 1) + timedelta(days=rng.randrange(33_000))
        logged = [LOGGED_FROM + timedelta(minutes=i)] + ([CHANGED_FROM + timedelta(minutes=i)] if i % 5 == 0 else [])
        resident = HomeResident(f"h-{i:06d}", community, f"S{i:06d}" if i % 10 == 9 else f"H{i // 3:06d}", born,
                                not golden, i % 29 == 1, i % 97 == 2, logged[-1])
        residents.append(resident)
        rows.append({"profile_id": resident.profile_id, "version": len(logged), "status": "active",
                     "name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN), "household_id": resident.household_id,
                     "community": community, "grid": f"{community}/第{i % 5 + 1}网格", "birth_date": born,
                     "address": f"秦淮区{rng.choice(ROADS)}{rng.randint(1, 199)}号", "lives_apart": resident.apart,
                     "place_contested": resident.contested, "updated_at": logged[-1], "doc": {"golden": golden},
                     # the read-side copies the projection writes beside the document (life_columns)
                     "deceased_on": date(2024, 3, 1) if "deceased_on" in golden else None,
                     "moved_out_on": date(2024, 5, 1) if "moved_out_on" in golden else None})
        log += [{"event_id": f"e-{i:06d}-{v}", "profile_id": resident.profile_id, "version": v, "occurred_at": at,
                 "type": "ProfileUpdated", "payload": "{}"} for v, at in enumerate(logged, start=1)]
    return residents, rows, log


@pytest.fixture(scope="module", params=["sqlite", "sqlite-analyzed", pytest.param("postgres", marks=pytest.mark.postgres)])
def homes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Homes]:
    if request.param.startswith("sqlite"):
        engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('home-plans') / 'store.db'}")
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        engine = make_engine(server.fresh_database("home_plans"))
    residents, rows, log = _home_district()
    with engine.begin() as conn:
        conn.execute(insert(profiles), rows)
        conn.execute(insert(profile_event_log), log)
    if request.param != "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    yield Homes(engine, request.param, residents, HomeQueries(engine, AuditLog(engine), {}))
    engine.dispose()


def _profile_statements(seen: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The reads of the profiles among ``seen`` (not the audit log's)."""
    return [(s, p) for s, p in seen if re.search(r"\bprofiles\b", s) and not s.lstrip().upper().startswith("INSERT")]


def _alone(homes: Homes) -> set[str]:
    """The residents who are the only live member of their household (living alone, 独居)."""
    live_members: dict[str, int] = {}
    for r in homes.residents:
        live_members[r.household_id] = live_members.get(r.household_id, 0) + r.live
    return {r.profile_id for r in homes.residents if live_members[r.household_id] == 1}


def _glance(homes: Homes, community: str) -> dict[str, int]:
    """The counts at a glance, from the district as written."""
    alone = _alone(homes)
    living = [r for r in homes.residents if r.community == community and r.live]
    sixty, eighty = HOME_TODAY.replace(year=HOME_TODAY.year - 60), HOME_TODAY.replace(year=HOME_TODAY.year - 80)
    return {"residents": len(living), "households": len({r.household_id for r in living}),
            "over_60": sum(1 for r in living if r.birth_date and r.birth_date <= sixty),
            "over_80": sum(1 for r in living if r.birth_date and r.birth_date <= eighty),
            "alone": sum(1 for r in living if r.profile_id in alone), "assistance": 0, "disability": 0,
            "apart": sum(r.apart for r in living), "contested": sum(r.contested for r in living),
            "gone": sum(1 for r in homes.residents if r.community == community and not r.live)}


SORT_INDEXES = {"name": "ix_profiles_community_name", "age": "ix_profiles_community_birth_date",
                "address": "ix_profiles_community_address"}


@pytest.mark.parametrize(("sort", "descending", "flag"), [
    ("name", False, ""), ("name", True, ""), ("age", False, ""), ("age", True, ""), ("address", False, ""),
    ("address", True, ""), ("name", False, "apart"), ("name", False, "contested"), ("name", False, "alone")])
def test_the_home_page_reads_its_community_through_indexes_in_the_order_of_its_sort(
        homes: Homes, sort: str, descending: bool, flag: str) -> None:
    community = f"第{7:02d}社区"
    principal = _worker(community)
    filters = HomeFilters(apart=flag == "apart", contested=flag == "contested", alone=flag == "alone")
    glance, alone = _glance(homes, community), _alone(homes)
    living = [r for r in homes.residents if r.community == community and r.live]
    chosen = {r.profile_id for r in living if not flag or (r.profile_id in alone if flag == "alone" else getattr(r, flag))}
    dated = sorted((r for r in living if r.birth_date), key=lambda r: r.profile_id)
    dated.sort(key=lambda r: r.birth_date or HOME_TODAY, reverse=not descending)  # youngest first; ties by id
    by_age = [r.profile_id for r in dated] + sorted(r.profile_id for r in living if not r.birth_date)
    size = 50

    def listing(page: int) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
        homes.queries._glances.clear()  # counted afresh: the plan of the counting statement is checked too
        answer, seen = _executing(homes.engine, lambda: homes.queries.residents(
            principal, community, filters, sort=sort, descending=descending, page=page, size=size, today=HOME_TODAY))
        listed = [h["profile_id"] for h in answer["results"]]
        assert answer["glance"] == glance
        assert answer["total"] == len(chosen) == (glance[flag] if flag else glance["residents"])
        assert set(listed) <= chosen and len(listed) == min(size, len(chosen) - (page - 1) * size)
        if sort == "age":
            assert listed == by_age[(page - 1) * size:page * size]
        return answer, _profile_statements(seen)

    def read_through_indexes(statement: str, parameters: Any) -> str:
        plan = _plan(homes.engine, statement, parameters)
        shown = "\n".join(plan)
        assert not _whole_reads(homes.engine, plan), f"{homes.backend}: the home page reads a table whole:\n{shown}"
        assert "ix_profiles_community" in shown, f"{homes.backend}: the home page not by community:\n{shown}"
        return shown

    # An early page (a worker's first look): its counts and its page, in the order of the sort's index.
    _, statements = listing(1 if flag else 2)
    pages = [(s, p) for s, p in statements if re.search(r"\bLIMIT\b", s, re.IGNORECASE)]
    assert len(statements) >= 2 and len(pages) == 1, [s for s, _ in statements]  # the counts in one pass, the page
    for statement, parameters in statements:
        shown = read_through_indexes(statement, parameters)
        if (statement, parameters) in pages and not flag:  # a filter keeps too few rows to read in order
            assert SORT_INDEXES[sort] in shown, f"{homes.backend}: {sort} page without {SORT_INDEXES[sort]}:\n{shown}"
            assert not _sorts(homes.engine, shown.splitlines()), f"{homes.backend}: {sort} page sorts:\n{shown}"
    if sort == "age":  # the page where the residents without a birth date begin: one read of each kind
        assert len(dated) % size > 0
        _, statements = listing(len(dated) // size + 1)
        pages = [(s, p) for s, p in statements if re.search(r"\bLIMIT\b", s, re.IGNORECASE)]
        assert len(pages) == 2, [s for s, _ in statements]
        for statement, parameters in pages:
            read_through_indexes(statement, parameters)


def _bound(engine: Engine, at: datetime) -> Any:
    """``at`` as the driver receives it for a time column."""
    processor = profile_event_log.c.occurred_at.type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
    return processor(at) if processor else at


def test_what_changed_since_a_time_is_read_through_indexes_not_the_whole_log(
        homes: Homes, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ways of finding what changed: the recent events through their time, kept if in scope (a
    recent ``since``), and the community's residents with their events (more events since than
    ``RECENT_EVENTS``); the same residents in the same order, each statement through an index."""
    from services import home

    community = f"第{11:02d}社区"
    principal = _worker(community)
    since = CHANGED_FROM + timedelta(minutes=HOME_RESIDENTS * 9 // 10)
    recent = sorted((r for r in homes.residents if r.community == community and r.changed_at > since),
                    key=lambda r: r.profile_id)
    recent.sort(key=lambda r: r.changed_at, reverse=True)
    expected = [r.profile_id for r in recent][:home.CHANGES_SHOWN]
    assert expected
    after_all = CHANGED_FROM + timedelta(minutes=HOME_RESIDENTS + 1)
    for bound in (home.RECENT_EVENTS, 0):
        monkeypatch.setattr(home, "RECENT_EVENTS", bound)
        with homes.engine.connect() as conn:
            scope = homes.queries._scope(principal, community)
            found, seen = _executing(homes.engine, partial(home._changed_since, conn, scope, since))
            assert [r.profile_id for r in found] == expected, f"{homes.backend}, bound {bound}"
            assert home._changed_since(conn, scope, after_all) == []  # asked after the last event
        statements = [(s, p) for s, p in seen if s.lstrip().upper().startswith("SELECT")]
        assert any("profile_event_log" in s for s, _ in statements), [s for s, _ in seen]
        for statement, parameters in statements:
            plan = _plan(homes.engine, statement, parameters)
            shown = "\n".join(plan)
            assert not _whole_reads(homes.engine, plan), f"{homes.backend}: what changed reads a table whole:\n{shown}"
            if "profile_event_log" in statement:
                assert re.search(r"ix_profile_event_log_(occurred|profile)\b", shown), \
                    f"{homes.backend}: the log unindexed:\n{shown}"
