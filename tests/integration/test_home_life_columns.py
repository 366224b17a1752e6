"""A worker's home page counts and filters from read-side columns (``core.profile.read_side.life_columns``:
died on, moved out on, says she lives alone, assistance, disability), not from each document (issue
#12: at 100,000 profiles the page took ~2 s extracting them from 6,000 documents per view). What the page
says must still be what the documents say: every count and filter is checked against the profiles
folded from the log, on a real SQLite store built by the real projection; and the migration's
backfill writes the same columns the projection does."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from core.access import Principal
from core.profile import Profile
from core.profile.read_side import YES, life_columns
from onceonly.bootstrap import access_grants
from services.home import HomeFilters, HomeQueries
from store.audit import AuditLog
from store.profile_tables import profiles
from tests.integration.api_world import World, build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    built = build_world(tmp_path_factory.mktemp("home-life"), tmp_path_factory.getbasetemp())
    yield built
    built.engine.dispose()


def _all(world: World) -> list[Profile]:
    with world.engine.connect() as conn:
        return [Profile.model_validate(r.doc) for r in conn.execute(select(profiles.c.doc))]


def _live(p: Profile) -> bool:
    return p.golden.deceased_on is None and p.golden.moved_out_on is None


def _expected(world: World, community: str) -> Counter[str]:
    """The glance, computed from the documents alone."""
    mine = [p for p in world.profiles_in(community) if p.is_active]
    members = Counter(p.golden.household_id.value for p in _all(world) if p.is_active and _live(p)
                      and p.golden.household_id)
    out: Counter[str] = Counter()
    for p in mine:
        if not _live(p):
            out["gone"] += 1
            continue
        attrs = p.golden.attributes
        says_alone = "living_alone" in attrs and attrs["living_alone"].value in YES
        alone_household = p.golden.household_id is not None and members[p.golden.household_id.value] == 1
        out["residents"] += 1
        out["alone"] += says_alone or alone_household
        out["assistance"] += "assistance" in attrs
        out["disability"] += "disability" in attrs
    return out


def test_the_columns_hold_what_each_document_says(world: World) -> None:
    with world.engine.connect() as conn:
        rows = {r.profile_id: r for r in conn.execute(select(profiles))}
    checked = Counter[str]()
    for p in _all(world):
        row = rows[p.profile_id]
        assert {k: getattr(row, k) for k in life_columns(p).as_row()} == life_columns(p).as_row()
        checked.update(k for k, v in life_columns(p).as_row().items() if v)
    # The world holds residents of every kind, or the comparison above proves little.
    assert checked["deceased_on"] + checked["moved_out_on"] > 0 and checked["assistance"] > 0


def test_the_glance_and_filters_equal_what_the_documents_say(world: World) -> None:
    homes = HomeQueries(world.engine, AuditLog(world.engine), access_grants())
    today = datetime.now(UTC).date()
    for community in (world.community_a, world.community_b):
        worker = Principal(f"u-{community}", f"w-{community}", "community_worker", communities=frozenset({community}))
        expected = _expected(world, community)
        page = homes.residents(worker, community, HomeFilters(), size=100, today=today)
        glance = page["glance"]
        assert glance["residents"] == expected["residents"] == page["total"]
        assert glance["gone"] == expected["gone"]
        assert glance["alone"] == expected["alone"]
        assert (glance["assistance"] or 0) == expected["assistance"]
        assert (glance["disability"] or 0) == expected["disability"]
        for name, only in (("alone", HomeFilters(alone=True)), ("assistance", HomeFilters(assistance=True)),
                           ("disability", HomeFilters(disability=True))):
            filtered = homes.residents(worker, community, only, size=100, purpose="上门走访核对", today=today)
            assert filtered["total"] == expected[name]
            if name == "alone":
                assert all(hit["alone"] for hit in filtered["results"])
        with_gone = homes.residents(worker, community, HomeFilters(gone=True), size=100, today=today)
        assert with_gone["total"] == expected["residents"] + expected["gone"]
        shown = {h["profile_id"]: h for h in with_gone["results"]}
        for p in world.profiles_in(community):
            if p.profile_id in shown and p.golden.deceased_on is not None:
                assert shown[p.profile_id]["deceased_on"] == p.golden.deceased_on.value.isoformat()


def test_the_migration_backfill_writes_what_the_projection_writes(world: World) -> None:
    """Wipe the columns, run the migration's backfill over the store, and find them as before."""
    import importlib.util
    from pathlib import Path

    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    spec = importlib.util.spec_from_file_location("life_migration", next(
        Path("store/migrations/versions").glob("*_home_life_columns.py")))
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    with world.engine.connect() as conn:
        before = {r.profile_id: tuple(r[1:]) for r in conn.execute(select(
            profiles.c.profile_id, *(profiles.c[c] for c in migration._COLUMNS)))}
    with world.engine.begin() as conn:
        conn.execute(update(profiles).values(deceased_on=None, moved_out_on=None, says_alone=False,
                                             assistance=False, disability=False))
        with Operations.context(MigrationContext.configure(conn)):
            migration._backfill()
    with world.engine.connect() as conn:
        after = {r.profile_id: tuple(r[1:]) for r in conn.execute(select(
            profiles.c.profile_id, *(profiles.c[c] for c in migration._COLUMNS)))}
    assert after == before and any(any(v) for v in before.values())


def test_the_glance_is_counted_once_while_the_store_stands_and_again_once_it_moves(world: World) -> None:
    """A worker paging through her list: the counts come from the first page's pass until a projection
    (profiles or places) moves its position, as it does in the transaction that changes profiles."""
    from sqlalchemy import event

    from store import positions
    from store.engine import write_transaction

    homes = HomeQueries(world.engine, AuditLog(world.engine), access_grants())
    worker = Principal("u-a", "worker_a", "community_worker", communities=frozenset({world.community_a}))
    counting: list[str] = []
    living = [p for p in world.profiles_in(world.community_a) if _live(p)]

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "sum(" in statement.lower():
            counting.append(statement)

    event.listen(world.engine, "before_cursor_execute", seen)
    try:
        first = homes.residents(worker, world.community_a, HomeFilters(), page=1)
        second = homes.residents(worker, world.community_a, HomeFilters(), page=2, size=5)
        assert len(counting) == 1 and second["glance"] == first["glance"] and second["total"] == first["total"]
        homes.residents(worker, world.community_a, HomeFilters(age="60+"), page=1)  # other filters: counted
        assert len(counting) == 2
        with write_transaction(world.engine) as conn:  # what the projection does: the profile and its position
            conn.execute(update(profiles).where(profiles.c.profile_id == living[0].profile_id)
                         .values(deceased_on=datetime(2026, 12, 1, tzinfo=UTC).date()))
            positions.advance(conn, "profiles", [("profile-events", 0, 10**9)])
        third = homes.residents(worker, world.community_a, HomeFilters(), page=1)
        assert len(counting) == 3
        assert third["glance"]["residents"] == first["glance"]["residents"] - 1
        assert third["glance"]["gone"] == first["glance"]["gone"] + 1
    finally:
        event.remove(world.engine, "before_cursor_execute", seen)
        with write_transaction(world.engine) as conn:
            conn.execute(update(profiles).where(profiles.c.profile_id == living[0].profile_id)
                         .values(deceased_on=None))
