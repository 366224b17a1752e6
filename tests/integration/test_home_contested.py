"""The home page's 住址有冲突 (需入户核实) filter (issue #10): a profile whose department records place the
resident in different communities (``profiles.place_contested``, core.places) is listed under the filter
for the workers of its community, the way 人户分离 is — same scope, same paging, masked, audited — and
an uncontested one is not; a worker of another community never sees it. Through ``HomeQueries`` and
the real console on a real SQLite store."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from core.access import AccessDenied, Principal
from core.profile import Profile
from onceonly.bootstrap import access_grants
from services.home import HomeFilters, HomeQueries
from store.audit import AuditLog, audit_log
from store.profile_tables import profiles
from tests.integration.api_world import World, build_world


def _living(p: Profile) -> bool:
    return p.golden.deceased_on is None and p.golden.moved_out_on is None


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    built = build_world(tmp_path_factory.mktemp("home-contested"), tmp_path_factory.getbasetemp())
    yield built
    built.engine.dispose()


@pytest.fixture(scope="module")
def flagged(world: World) -> dict[str, list[Profile]]:
    """Two living residents of community A and one of community B flagged 住址有冲突 (as the projection
    writes the column when the records disagree); every other profile left as the world derived it."""
    mine = [p for p in world.profiles_in(world.community_a) if _living(p) and p.golden.name]
    theirs = [p for p in world.profiles_in(world.community_b) if _living(p) and p.golden.name]
    chosen = {"a": mine[:2], "b": theirs[:1], "a_clear": mine[2:3]}
    with world.engine.begin() as conn:
        conn.execute(update(profiles).where(profiles.c.profile_id.in_(
            [p.profile_id for p in chosen["a"] + chosen["b"]])).values(place_contested=True))
        conn.execute(update(profiles).where(profiles.c.profile_id == chosen["a_clear"][0].profile_id)
                     .values(place_contested=False))
    return chosen


def _contested_in(world: World, community: str) -> set[str]:
    """Every living contested resident of the community, as the store holds them now."""
    with world.engine.connect() as conn:
        ids = set(conn.execute(select(profiles.c.profile_id).where(
            profiles.c.community == community, profiles.c.status == "active",
            profiles.c.place_contested.is_(True))).scalars())
    return {p.profile_id for p in world.profiles_in(community) if _living(p) and p.profile_id in ids}


def _worker(world: World, community: str) -> Principal:
    return Principal(f"u-{community}", f"worker-{community}", "community_worker", communities=frozenset({community}))


def test_the_contested_filter_lists_the_contested_residents_of_the_workers_community_only(
        world: World, flagged: dict[str, list[Profile]]) -> None:
    audit = AuditLog(world.engine)
    homes = HomeQueries(world.engine, audit, access_grants())
    worker_a = _worker(world, world.community_a)
    expected = _contested_in(world, world.community_a)
    assert {p.profile_id for p in flagged["a"]} <= expected
    listing = homes.residents(worker_a, world.community_a, HomeFilters(contested=True), size=1000)
    listed = {h["profile_id"] for h in listing["results"]}
    assert listed == expected and listing["total"] == len(expected)
    assert flagged["a_clear"][0].profile_id not in listed  # uncontested: not under the filter
    assert not listed & {p.profile_id for p in flagged["b"]}
    assert all(h["contested"] is True for h in listing["results"])
    assert listing["glance"]["contested"] == len(expected)
    everyone = homes.residents(worker_a, world.community_a, HomeFilters(), size=1000)
    assert len(everyone["results"]) > len(listed)  # the filter narrows
    assert {h["profile_id"] for h in everyone["results"] if h["contested"]} == expected
    assert flagged["a_clear"][0].profile_id in {h["profile_id"] for h in everyone["results"]}
    # masked as today: an ID number is shown only masked, never in clear
    numbers = {p.golden.id_number.value for p in flagged["a"] if p.golden.id_number}
    for hit in listing["results"]:
        assert hit["id_number"] is None or ("*" in hit["id_number"] and hit["id_number"] not in numbers)
    # paged like every filter: one per page, each page another resident
    pages = [homes.residents(worker_a, world.community_a, HomeFilters(contested=True), size=1, page=n)
             for n in range(1, len(expected) + 1)]
    assert all(p["total"] == len(expected) and len(p["results"]) == 1 for p in pages)
    assert {p["results"][0]["profile_id"] for p in pages} == expected
    # audited with the filter named
    with audit.engine.connect() as conn:  # the audit log's own database
        fields = conn.execute(select(audit_log.c.fields).where(audit_log.c.user_id == worker_a.user_id)
                              .order_by(audit_log.c.seq.desc()).limit(1)).scalar_one()
    assert "filter:contested" in str(fields)
    # a worker of community B: A's page is refused, B's filter lists B's contested resident, none of A's
    worker_b = _worker(world, world.community_b)
    with pytest.raises(AccessDenied):
        homes.residents(worker_b, world.community_a, HomeFilters(contested=True))
    theirs = {h["profile_id"] for h in homes.residents(worker_b, world.community_b, HomeFilters(contested=True),
                                                        size=1000)["results"]}
    assert theirs == _contested_in(world, world.community_b)
    assert flagged["b"][0].profile_id in theirs and not theirs & expected


def _listed(html: str) -> set[str]:
    return set(re.findall(r'<tr class="resident" data-profile="([^"]+)"', html))


def test_the_console_home_page_filters_by_contested_for_its_worker_and_refuses_another(
        world: World, flagged: dict[str, list[Profile]]) -> None:
    expected = _contested_in(world, world.community_a)
    with world.app_client() as client:
        world.login(client, "worker_a")
        page = client.get("/console/", params={"contested": "1"})
        assert page.status_code == 200, page.text
        assert _listed(page.text) == expected
        assert 'id="f-contested" checked' in page.text and "住址有冲突（需入户核实）" in page.text
        assert re.search(r'id="tile-contested"[^>]*><b>' + str(len(expected)) + "</b>住址有冲突", page.text)
        assert flagged["a_clear"][0].profile_id not in _listed(page.text)
        for p in flagged["a"]:
            if p.golden.id_number:
                assert p.golden.id_number.value not in page.text
    with world.app_client() as client:
        world.login(client, "worker_b")
        assert client.get("/console/", params={"community": world.community_a, "contested": "1"}).status_code == 403
        theirs = _listed(client.get("/console/", params={"contested": "1"}).text)
        assert flagged["b"][0].profile_id in theirs and not theirs & expected
