"""Which place keys can change a profile's place (core.places.decisive_keys): a key outside them
may gain, lose or change any assignment but a steward's without changing ``derive_place``."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from core.places import Assignment, PlaceCandidate, decisive_keys, derive_place

# Address shapes, most specific key first (core.places.keys): buildings share their compound and road.
SHAPES: tuple[tuple[str, ...], ...] = (
    ("c:秦虹#3", "c:秦虹", "r:秦虹路#12#3", "r:秦虹路#12"),
    ("c:秦虹#4", "c:秦虹", "r:秦虹路#12#4", "r:秦虹路#12"),
    ("c:秦虹#3", "c:秦虹"),
    ("c:秦虹",),
    ("r:秦虹路#12#3", "r:秦虹路#12"),
    ("r:秦虹路#12",),
    ("r:钞库街#35",),
    (),
)
KEYS = sorted({k for shape in SHAPES for k in shape})
COMMUNITIES = ("秦虹社区", "扇骨里社区", "夫子庙社区")
GRIDS = (None, "第1网格", "第2网格")
DAYS = (None, "2026-01-01", "2026-03-01", "2026-06-01")

assignments = st.builds(Assignment, st.sampled_from(COMMUNITIES), st.sampled_from(GRIDS),
                        st.sampled_from(("steward", "standard_address", "record")), st.booleans())
plain = st.none() | st.builds(Assignment, st.sampled_from(COMMUNITIES), st.sampled_from(GRIDS),
                              st.sampled_from(("standard_address", "record")), st.booleans())


@st.composite
def candidate(draw: st.DrawFn) -> PlaceCandidate:
    community = draw(st.none() | st.sampled_from(COMMUNITIES))
    return PlaceCandidate(draw(st.sampled_from(("residential", "property", "registered"))), draw(st.sampled_from(SHAPES)),
                          community, draw(st.sampled_from(GRIDS)) if community else None,
                          draw(st.sampled_from((None, "秦淮区", "玄武区"))), draw(st.integers(1, 3)), (),
                          draw(st.sampled_from(DAYS)), draw(st.sampled_from(DAYS)), draw(st.sampled_from(DAYS)))


gazetteer = st.dictionaries(st.sampled_from(KEYS), assignments)


@settings(max_examples=1500, deadline=None)
@given(st.lists(candidate(), max_size=5), gazetteer, st.dictionaries(st.sampled_from(KEYS), plain))
def test_a_key_outside_the_decisive_ones_changes_nothing_but_by_a_steward(
        cands: list[PlaceCandidate], before: dict[str, Assignment], moves: dict[str, Assignment | None]) -> None:
    marks = decisive_keys(cands, before.get)
    after = dict(before)
    for key, moved in moves.items():
        if key in marks:
            continue
        if moved is None:
            after.pop(key, None)
        else:
            after[key] = moved
    assert derive_place(cands, after.get) == derive_place(cands, before.get)
    # and the decisive keys stay the same: a store need not touch a profile such a move skips
    assert decisive_keys(cands, after.get) == marks


def test_a_building_the_gazetteer_knows_leaves_its_compound_and_road_out() -> None:
    keys = SHAPES[0]
    cand = PlaceCandidate("residential", keys)
    known = {k: Assignment("秦虹社区", "第2网格", "standard_address") for k in keys}
    assert decisive_keys([cand], known.get) == {"c:秦虹#3"}
    # the road moving to another community does not move a resident its building places
    moved = dict(known, **{"r:秦虹路#12": Assignment("扇骨里社区", None, "record")})
    assert derive_place([cand], moved.get) == derive_place([cand], known.get)


def test_until_the_building_is_known_the_coarser_key_decides() -> None:
    cand = PlaceCandidate("residential", SHAPES[0])
    known = {"c:秦虹": Assignment("秦虹社区", None, "record")}
    assert decisive_keys([cand], known.get) == {"c:秦虹#3", "c:秦虹"}
    nothing: dict[str, Assignment] = {}
    assert decisive_keys([cand], nothing.get) == set(SHAPES[0])  # any key gaining an assignment places it


def test_a_named_community_with_its_grid_needs_no_key_but_a_stewards() -> None:
    cand = PlaceCandidate("residential", SHAPES[0], "秦虹社区", "第1网格")
    assert decisive_keys([cand], {k: Assignment("扇骨里社区", "第2网格", "record") for k in SHAPES[0]}.get) == set()
    steward = {"r:秦虹路#12": Assignment("扇骨里社区", None, "steward")}
    assert decisive_keys([cand], steward.get) == set(SHAPES[0])  # the steward's key decides, and all before it
