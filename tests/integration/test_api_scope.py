"""One scope for every read (threat model, "Scope in one function"): for a community worker, a grid
worker, a department reader and a steward, the residents that search, household reads, the home
page's resident list, the planner and ``onceonly export`` return are exactly those whose profile
reads answer — on SQLite and PostgreSQL, through the real app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, select

from api.app import create_app
from core.access import Principal, Scope, may_see_community, scope_of
from core.matching import default_matcher
from core.profile import Profile
from core.profile.read_side import qualified_grid
from onceonly.bootstrap import access_grants, resolver_state
from services.home import HomeFilters, HomeQueries
from services.operator_reads import Link, export_links_audited
from store.audit import AuditLog
from store.engine import make_engine
from store.profile_projection import ProfileProjection
from store.profile_tables import profiles
from store.scope_filter import scope_filter
from tests.integration.api_world import KEY, PASSWORD, RESIDENTS, World, build_world, populated_world, project_outbox

SURVEY = "elderly_survey"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp(f"scope-{request.param}")
    if request.param == "sqlite":
        built = build_world(tmp, tmp_path_factory.getbasetemp())
    else:
        from tests.integration.test_resolver_state import district

        engine = make_engine(request.getfixturevalue("postgres_server").fresh_database("t_scope_api"))
        state = resolver_state(engine)
        state.resolve_batch(list(district(RESIDENTS)), default_matcher())
        project_outbox(engine, state)
        built = populated_world(engine, tmp)
    _one_placed_across(built)
    yield built
    built.engine.dispose()


def _one_placed_across(world: World) -> None:
    """One resident of community A's grid whose community column names community B (the grid centre's
    file and the resident's address can disagree): a worker of A may plan that grid, yet not read them."""
    from sqlalchemy import update

    with world.engine.begin() as conn:
        moved = conn.execute(select(profiles.c.profile_id).where(
            profiles.c.community == world.community_a, profiles.c.grid.like(f"{world.community_a}/%"),
            profiles.c.status == "active").order_by(profiles.c.profile_id).limit(1)).scalar_one()
        conn.execute(update(profiles).where(profiles.c.profile_id == moved).values(community=world.community_b))


def _rows(engine: Engine) -> list[tuple[str, str | None, str | None, str | None, Profile]]:
    with engine.connect() as conn:
        return [(r.profile_id, r.community, r.grid, r.household_id, Profile.model_validate(r.doc)) for r in conn.execute(
            select(profiles.c.profile_id, profiles.c.community, profiles.c.grid, profiles.c.household_id,
                   profiles.c.doc).where(profiles.c.status == "active").order_by(profiles.c.profile_id))]


def _a_grid_of(world: World) -> str:
    """A qualified grid of community A that holds residents."""
    for profile in world.profiles_in(world.community_a):
        found = qualified_grid(profile, world.community_a)
        if found:
            return found
    raise AssertionError("no gridded resident in community A")


def _principals(world: World) -> dict[str, Principal]:
    return {
        "worker_a": Principal("u-worker-a", "worker_a", "community_worker", communities=frozenset({world.community_a})),
        "gridder": Principal("u-gridder", "gridder", "community_worker", grids=frozenset({_a_grid_of(world)})),
        "dept_civil": Principal("u-dept", "dept_civil", "department_reader", department="civil_affairs"),
        "steward": Principal("u-steward", "steward", "steward"),
    }


@pytest.fixture(scope="module")
def clients(world: World) -> Iterator[dict[str, TestClient]]:
    world.users.add("gridder", PASSWORD, "community_worker", grids=[_a_grid_of(world)])  # a grid worker (网格员)
    app = create_app(world.engine, [], world.settings)
    opened = {}
    for name in ("worker_a", "gridder", "dept_civil", "steward"):
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        opened[name] = world.login(client, name)
    yield opened
    for client in opened.values():
        client.__exit__(None, None, None)


def _readable(client: TestClient, ids: list[str]) -> set[str]:
    """The profiles whose read answers 200 (anything else must be the one not-found answer)."""
    allowed = set()
    for profile_id in ids:
        answer = client.get(f"/api/v1/residents/{profile_id}")
        if answer.status_code == 200:
            allowed.add(profile_id)
        else:
            detail = answer.json()["detail"]  # the one text for missing and out of scope
            assert answer.status_code == 404 and detail.startswith("no resident profile '") and detail.endswith(
                "' that you may see")
    return allowed


def _searched(client: TestClient, names: list[str]) -> set[str]:
    found: set[str] = set()
    for name in names:
        answer = client.get("/api/v1/residents", params={"name": name, "size": 100})
        assert answer.status_code == 200, answer.text
        found |= {hit["profile_id"] for hit in answer.json()["results"]}
    return found


def _households(client: TestClient, household_ids: list[str]) -> set[str]:
    found: set[str] = set()
    for household_id in household_ids:
        answer = client.get(f"/api/v1/households/{household_id}")
        if answer.status_code == 200:
            found |= {m["profile_id"] for m in answer.json()["members"]}
        else:
            assert answer.status_code == 404 and "that you may see" in answer.json()["detail"]
    return found


def _home(world: World, principal: Principal) -> set[str]:
    homes = HomeQueries(world.engine, AuditLog(world.engine), access_grants())
    found: set[str] = set()
    for community in homes.communities(principal):
        listing = homes.residents(principal, community, HomeFilters(gone=True), size=1000)
        found |= {hit["profile_id"] for hit in listing["results"]}
    return found


def _planned(client: TestClient, targets: list[dict[str, str]]) -> set[str]:
    found: set[str] = set()
    for target in targets:
        answer = client.post("/api/v1/planner", json={"form": SURVEY, **target})
        if answer.status_code == 200:
            found |= {r["profile_id"] for r in answer.json()["residents"]}
        else:
            assert answer.status_code == 403, answer.text  # a community or grid outside the worker's scope
    return found


def test_search_households_home_planner_and_export_return_exactly_the_residents_profile_reads_allow(
        world: World, clients: dict[str, TestClient]) -> None:
    rows = _rows(world.engine)
    ids = [r[0] for r in rows]
    names = sorted({p.golden.name.value for _, _, _, _, p in rows if p.golden.name and len(p.golden.name.value) >= 2})
    household_ids = sorted({r[3] for r in rows if r[3]})
    communities = sorted({r[1] for r in rows if r[1]})
    grids = sorted({g for _, c, _, _, p in rows if c and (g := qualified_grid(p, c))})
    plan_targets = [{"community": c} for c in communities] + [
        {"community": g.partition("/")[0], "grid": g.partition("/")[2]} for g in grids]
    principals = _principals(world)
    everything = {"search": _searched(clients["steward"], names), "households": _households(clients["steward"], household_ids),
                  "home": _home(world, principals["steward"]), "planner": _planned(clients["steward"], plan_targets)}
    assert everything["search"] == set(ids)  # every resident has a name of two characters or more
    assert everything["home"] == {r[0] for r in rows if r[1]}  # the home page lists residents by community
    located = {r[0]: (r[1], r[2]) for r in rows}
    for who, principal in principals.items():
        client = clients[who]
        allowed = _readable(client, ids)
        # The one scope: what profile reads allow is what core.access and its SQL clause say.
        assert allowed == {i for i in ids if may_see_community(principal, *located[i])}, who
        with world.engine.connect() as conn:
            in_sql = {r[0] for r in conn.execute(select(profiles.c.profile_id).where(
                profiles.c.status == "active", scope_filter(scope_of(principal))))}
        assert in_sql == allowed, who
        if who == "steward" or who == "dept_civil":
            assert allowed == set(ids)
        else:
            assert 0 < len(allowed) < len(ids)
        assert _searched(client, names) == everything["search"] & allowed, who
        assert _households(client, household_ids) == everything["households"] & allowed, who
        assert _home(world, principal) == everything["home"] & allowed, who
        if who != "dept_civil":  # departments do not plan collections
            assert _planned(client, plan_targets) == everything["planner"] & allowed, who
        written: list[str] = []

        def keep(link: Link, into: list[str] = written) -> None:
            into.append(link[2])

        exported = export_links_audited(AuditLog(world.engine), principal,
                                        ProfileProjection(world.engine, id_hash_key=KEY).located_links, keep)
        assert exported == len(written) > 0
        assert {w for w in written if w in located} == allowed, who  # merged-away ids aside


def test_the_sql_scope_and_the_python_scope_agree_on_unknown_places() -> None:
    """A resident with no community or grid is outside a place-bound scope in both (SQL's NULL)."""
    from sqlalchemy import String, column, table

    rows = [("c1", None, None), ("c2", "A", None), ("c3", None, "A/1"), ("c4", "B", "A/1"), ("c5", "B", "B/2")]
    t = table("t", column("community", String), column("grid", String))
    values = " UNION ALL ".join(f"SELECT '{p}' AS pid, {_sql(c)} AS community, {_sql(g)} AS grid" for p, c, g in rows)
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        for scope in (Scope("places", frozenset({"A"})), Scope("places", grids=frozenset({"A/1"})),
                      Scope("places"), Scope("everyone"), Scope("nobody")):
            where = str(scope_filter(scope, t).compile(engine, compile_kwargs={"literal_binds": True}))
            in_sql = {r[0] for r in conn.exec_driver_sql(f"SELECT pid FROM ({values}) AS t WHERE {where}")}
            assert in_sql == {p for p, c, g in rows if scope.admits(c, g)}, scope


def _sql(value: str | None) -> str:
    return "NULL" if value is None else f"'{value}'"


def test_a_department_readers_address_search_matches_only_the_addresses_its_grant_includes(
        world: World, clients: dict[str, TestClient]) -> None:
    """Civil affairs is granted the residential address, not the registered one (config/grants.yaml):
    a fragment of a resident's registered address alone finds them for a steward, not for civil affairs."""
    from core.profile.read_side import address_lines, normalise_address

    def found(who: str, fragment: str) -> set[str]:
        answer = clients[who].post("/api/v1/residents/search", json={"address": fragment, "size": 100})
        assert answer.status_code == 200, answer.text
        return {hit["profile_id"] for hit in answer.json()["results"]}

    for _, _, _, _, profile in _rows(world.engine):
        registered, residential = profile.golden.registered_address, profile.golden.residential_address
        if registered is None or residential is None:
            continue
        fragment = normalise_address(registered.value.raw)
        if any(fragment in line for line, weight in address_lines(profile).items() if weight >= 1.0):
            continue  # also in the residential address: not a registered-only fragment
        break
    else:
        raise AssertionError("no resident whose registered address differs from the residential one")
    assert profile.profile_id in found("steward", fragment)
    assert profile.profile_id not in found("dept_civil", fragment)
    assert profile.profile_id in found("dept_civil", normalise_address(residential.value.raw))
