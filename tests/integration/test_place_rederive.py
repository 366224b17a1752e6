"""Re-deriving only the profiles a moved key can change (store.places.PlaceIndex.rederive) gives
the store a full re-derivation would: random gazetteer changes (records, the grid centre's file,
stewards' corrections) over random profiles, checked after every step against ``derive_place`` of
every profile's candidates under the current assignments."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, Engine, select

from core.places import Assignment, PlaceCandidate, PlaceFact, derive_place
from store.place_tables import place_facts, places, profile_place_keys, profile_places
from store.places import PlaceIndex, place_columns
from store.profile_tables import profiles

SHAPES: tuple[tuple[str, ...], ...] = (
    ("c:秦虹#3", "c:秦虹", "r:秦虹路#12#3", "r:秦虹路#12"),
    ("c:秦虹#4", "c:秦虹", "r:秦虹路#12#4", "r:秦虹路#12"),
    ("c:秦虹#5", "c:秦虹"),
    ("c:秦虹",),
    ("c:扇骨#1", "c:扇骨", "r:秦虹路#14#1", "r:秦虹路#14"),
    ("c:扇骨#2", "c:扇骨"),
    ("r:秦虹路#12#3", "r:秦虹路#12"),
    ("r:钞库街#35",),
    (),
)
KEYS = sorted({k for shape in SHAPES for k in shape})
COMMUNITIES = ("秦虹社区", "扇骨里社区", "夫子庙社区")
GRIDS = (None, "第1网格", "第2网格")
DAYS = (None, "2026-01-01", "2026-03-01", "2026-06-01")
SOURCES = {"grid_centre": "standard_address", "public_security": "record", "civil_affairs": "record",
           "community": "record"}


def _candidate(rng: random.Random) -> PlaceCandidate:
    community = rng.choice((None, None, *COMMUNITIES))
    return PlaceCandidate(rng.choice(("residential", "residential", "property", "registered")), rng.choice(SHAPES),
                          community, rng.choice(GRIDS) if community else None, rng.choice((None, "秦淮区", "玄武区")),
                          rng.randint(1, 3), (), rng.choice(DAYS), rng.choice(DAYS), rng.choice(DAYS))


def _profile(rng: random.Random) -> tuple[PlaceCandidate, ...]:
    return tuple({_candidate(rng): None for _ in range(rng.randint(0, 4))})


def _facts(rng: random.Random, source: str, record_id: str) -> list[PlaceFact]:
    return [PlaceFact(key, SOURCES[source], source, record_id, rng.choice(COMMUNITIES), rng.choice(GRIDS))  # type: ignore[arg-type]
            for key in rng.sample(KEYS, rng.randint(0, 3))]


def _write(conn: Connection, index: PlaceIndex, cands: dict[str, tuple[PlaceCandidate, ...]], moved: set[str]) -> None:
    """What ProfileProjection.write_profiles does with the places of the profiles it writes."""
    located = index.locate_candidates(conn, cands, moved)
    for pid, place in located.items():
        conn.execute(profiles.update().where(profiles.c.profile_id == pid).values(**place_columns(place)))


def _expected(conn: Connection) -> dict[str, dict[str, object]]:
    """Every profile re-derived from its stored candidates under the current assignments."""
    known = {r.place_key: Assignment(r.community, r.grid, r.origin, r.disagreement)
             for r in conn.execute(select(places))}
    return {r.profile_id: place_columns(derive_place((PlaceCandidate.from_json(c) for c in json.loads(r.candidates)),
                                                     known.get))
            for r in conn.execute(select(profile_places))}


def _stored(conn: Connection) -> dict[str, dict[str, object]]:
    columns = ("community", "grid", "place_basis", "registered_community", "lives_apart", "place_contested")
    return {r.profile_id: {c: getattr(r, c) for c in columns}
            for r in conn.execute(select(profiles.c.profile_id, *(profiles.c[c] for c in columns)))}


def _under(conn: Connection, keys: set[str]) -> int:
    """How many profiles are located through ``keys`` at all (what re-deriving them all would cost)."""
    return len(set(conn.execute(select(profile_place_keys.c.profile_id)
                                .where(profile_place_keys.c.place_key.in_(sorted(keys)))).scalars()))


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_rederiving_what_a_moved_key_decides_equals_rederiving_everyone(store_engine: Engine, seed: int) -> None:
    rng = random.Random(seed)
    index = PlaceIndex()
    ids = [f"p-{i:03d}" for i in range(60)]
    with store_engine.begin() as conn:
        now = datetime(2026, 12, 7, tzinfo=UTC)
        conn.execute(profiles.insert(), [{"profile_id": pid, "version": 1, "status": "active", "updated_at": now,
                                          "doc": {}} for pid in ids])
        _write(conn, index, {pid: _profile(rng) for pid in ids}, set())
    naive = 0
    for _ in range(80):
        with store_engine.begin() as conn:
            changed: set[str] = set()
            for _ in range(rng.randint(1, 3)):
                roll = rng.random()
                if roll < 0.15:  # a steward's correction, or its withdrawal
                    community = rng.choice((None, *COMMUNITIES))
                    changed |= index.correct(conn, rng.choice(KEYS), community, rng.choice(GRIDS) if community else None)
                else:  # a record, or a standard-address row, says something else (or nothing) now
                    source = rng.choice(sorted(SOURCES))
                    rid = str(rng.randint(1, 6))
                    changed |= index.replace_facts(conn, source, rid, _facts(rng, source, rid))
            moved = index.reassign(conn, changed)
            if rng.random() < 0.4:  # a projection batch: some profiles written with new candidates
                written = {pid: _profile(rng) for pid in rng.sample(ids, rng.randint(1, 4))}
                naive += len(set(conn.execute(select(profile_place_keys.c.profile_id).where(
                    profile_place_keys.c.place_key.in_(sorted(moved)))).scalars()) - set(written))
                _write(conn, index, written, moved)
            else:  # the places consumer
                naive += _under(conn, moved)
                index.rederive(conn, moved)
            assert _stored(conn) == _expected(conn)
    with store_engine.connect() as conn:
        assert conn.execute(select(place_facts.c.place_key)).first() is not None
    assert index.rederived_changed > 0  # the walk moved residents through the gazetteer
    assert index.rederived < naive  # and re-derived fewer than every profile of every moved key
