"""The gazetteer's pure core: place keys, a key's assignment from its facts, a profile's place."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from core.places import (
    Assignment,
    PlaceCandidate,
    PlaceFact,
    assign,
    candidates,
    derive_place,
    place_keys,
    record_facts,
)
from core.profile import replay
from core.standardise.addresses import parse_address
from schemas.profile_events import ProfileCreated, RecordLinked
from schemas.resident import ResidentRecord

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _record(source: str, record_id: str, **fields: Any) -> ResidentRecord:
    return ResidentRecord(source=source, record_id=record_id, observed_at=T0, name="王芳", **fields)


def _profile(*records: ResidentRecord) -> Any:
    events: list[Any] = [ProfileCreated(profile_id="p-1", version=1, occurred_at=T0, caused_by="c")]
    for i, record in enumerate(records, start=2):
        events.append(RecordLinked(profile_id="p-1", version=i, occurred_at=T0, caused_by=f"c{i}", record=record,
                                   rule="id_number", score=1.0))
    return replay(events)["p-1"]


def _fact(key: str, origin: str, source: str, community: str, grid: str | None = None, rid: str = "1") -> PlaceFact:
    return PlaceFact(key, origin, source, rid, community, grid)  # type: ignore[arg-type]


def test_one_flat_written_four_ways_gives_the_same_building_key() -> None:
    spellings = ["江苏省南京市秦淮区秦虹街道秦虹社区秦虹路12号秦虹小区3幢2单元301室", "秦虹小区3栋2单元301",
                 "秦虹小区3-2-301室", "秦虹路12号秦虹小区三号楼2单元301"]
    assert {place_keys(parse_address(s))[0] for s in spellings} == {"c:秦虹#3"}


def test_a_road_alone_is_no_place_key() -> None:
    # one road runs through several communities: "秦虹路" says nothing about which
    assert place_keys(parse_address("秦虹路")) == ()


def test_a_housing_short_form_keys_on_road_number_and_building() -> None:
    assert place_keys(parse_address("秦虹路12-3-2-301")) == ("r:秦虹路#12#3", "r:秦虹路#12")


def test_the_standard_address_file_outranks_one_record() -> None:
    facts = [_fact("c:秦虹#3", "standard_address", "grid_centre", "秦虹社区", "第2网格"),
             _fact("c:秦虹#3", "record", "community", "扇骨里社区")]
    assert assign(facts) == Assignment("秦虹社区", "第2网格", "standard_address", disagreement=True)


def test_two_departments_agreeing_against_the_file_win_and_are_flagged() -> None:
    facts = [_fact("c:秦虹#3", "standard_address", "grid_centre", "秦虹社区"),
             _fact("c:秦虹#3", "record", "public_security", "扇骨里社区", rid="a"),
             _fact("c:秦虹#3", "record", "civil_affairs", "扇骨里社区", rid="b")]
    assert assign(facts) == Assignment("扇骨里社区", None, "record", disagreement=True)


def test_two_records_of_one_department_do_not_overrule_the_file() -> None:
    facts = [_fact("c:秦虹#3", "standard_address", "grid_centre", "秦虹社区"),
             _fact("c:秦虹#3", "record", "community", "扇骨里社区", rid="a"),
             _fact("c:秦虹#3", "record", "community", "扇骨里社区", rid="b")]
    assert assign(facts).community == "秦虹社区"  # type: ignore[union-attr]


def test_a_stewards_correction_wins_over_everything() -> None:
    facts = [_fact("c:秦虹#3", "standard_address", "grid_centre", "秦虹社区"),
             _fact("c:秦虹#3", "steward", "steward", "扇骨里社区", "第1网格", rid="")]
    assert assign(facts) == Assignment("扇骨里社区", "第1网格", "steward")


def test_the_assignment_does_not_depend_on_the_order_of_the_facts() -> None:
    facts = [_fact("k:x", "record", "a", "甲社区", rid="1"), _fact("k:x", "record", "b", "乙社区", rid="2")]
    assert assign(facts) == assign(list(reversed(facts)))
    assert assign(facts).disagreement  # type: ignore[union-attr]


def test_a_record_that_names_its_community_teaches_every_key_of_its_dwelling() -> None:
    record = _record("civil_affairs", "MZ-1", addresses={"residential": parse_address("秦虹路12号秦虹小区3幢2单元301室")},
                     attributes={"community": "秦虹社区"})
    assert {f.place_key for f in record_facts(record)} == {"c:秦虹#3", "c:秦虹", "r:秦虹路#12#3", "r:秦虹路#12"}
    assert {f.community for f in record_facts(record)} == {"秦虹社区"}


def test_a_village_named_road_is_not_taken_for_a_community() -> None:
    # 中和村 is a road of 光华路街道: "中和村12号" names no community
    record = _record("social_security", "SB-1", addresses={"residential": parse_address("中和村12号中和村小区3幢")})
    assert list(record_facts(record)) == []


def test_a_profile_without_a_named_community_is_placed_by_the_gazetteer() -> None:
    profile = _profile(_record("social_security", "SB-1",
                               addresses={"residential": parse_address("秦虹路12号秦虹小区3幢2单元301室")}))
    gazetteer = {"c:秦虹#3": Assignment("秦虹社区", "第2网格", "standard_address")}
    place = derive_place(candidates(profile), gazetteer.get)
    assert (place.community, place.grid, place.basis) == ("秦虹社区", "秦虹社区/第2网格", "standard_address")


def test_a_visit_written_before_a_move_is_outvoted_by_the_records_of_the_new_flat() -> None:
    old = parse_address("瑞金北村19幢2单元502室")
    new = parse_address("中和村10号中和村小区9幢1单元501室")
    profile = _profile(
        _record("community", "SQ-1", addresses={"residential": old}, attributes={"community": "瑞金北村社区"}),
        _record("public_security", "GA-1", addresses={"residential": parse_address(
            "江苏省南京市秦淮区光华路街道中和村社区中和村10号中和村小区9幢1单元501室")}),
        _record("social_security", "SB-1", addresses={"residential": new}))
    gazetteer = {"c:中和村#9": Assignment("中和村社区", "第1网格", "standard_address")}
    place = derive_place(candidates(profile), gazetteer.get)
    assert place.community == "中和村社区"
    assert place.contested  # the records disagree: worth a check at the door


def test_registered_in_one_community_living_in_another_is_flagged_lives_apart() -> None:
    profile = _profile(_record("public_security", "GA-1", addresses={
        "residential": parse_address("江苏省南京市秦淮区秦虹街道秦虹社区秦虹路12号秦虹小区3幢2单元301室"),
        "registered": parse_address("江苏省南京市秦淮区夫子庙街道钞库街社区钞库街35号")}))
    place = derive_place(candidates(profile), dict[str, Assignment]().get)
    assert (place.community, place.registered_community, place.lives_apart) == ("秦虹社区", "钞库街社区", True)


def test_registered_where_they_live_is_not_lives_apart() -> None:
    address = "江苏省南京市秦淮区秦虹街道秦虹社区秦虹路12号秦虹小区3幢2单元301室"
    profile = _profile(_record("public_security", "GA-1", addresses={
        "residential": parse_address(address), "registered": parse_address(address)}))
    assert derive_place(candidates(profile), dict[str, Assignment]().get).lives_apart is False


def test_a_resident_nobody_can_place_has_no_community() -> None:
    profile = _profile(_record("housing", "FG-1", addresses={"property": parse_address("某某路99号")}))
    assert derive_place(candidates(profile), dict[str, Assignment]().get).community is None


def test_candidates_survive_their_json_form() -> None:
    candidate = PlaceCandidate("residential", ("c:秦虹#3", "c:秦虹"), "秦虹社区", "第2网格", "秦淮区", votes=2,
                               sources=("civil_affairs", "public_security"), changed_on="2026-01-02", seen_on="2026-02-03")
    assert PlaceCandidate.from_json(candidate.as_json()) == candidate


def _dated(source: str, rid: str, address: str, **dates: date) -> ResidentRecord:
    return _record(source, rid, addresses={"residential": parse_address(address)}, **dates)


MOVED = {"c:中和村#9": Assignment("中和村社区", "第1网格", "standard_address"),
         "c:瑞金北村#19": Assignment("瑞金北村社区", "第3网格", "standard_address")}
NEW_FLAT, OLD_FLAT = "中和村10号中和村小区9幢1单元501室", "瑞金北村19幢2单元502室"


def test_a_visit_before_a_register_recorded_the_move_is_older_news() -> None:
    # the worker saw them at the old flat in March; in June the station recorded the move;
    # social security has not heard: one against one once the visit gives way, and the tie goes
    # to the department first in the authority order (the visit, first, has dropped out)
    profile = _profile(_dated("community", "SQ-1", OLD_FLAT, seen_on=date(2026, 3, 2)),
                       _dated("public_security", "GA-1", NEW_FLAT, changed_on=date(2026, 6, 10)),
                       _dated("social_security", "SB-1", OLD_FLAT))
    place = derive_place(candidates(profile), MOVED.get)
    assert place.community == "中和村社区"
    assert place.contested  # the records still disagree: a check at the door


def test_a_later_visit_repeating_the_old_flat_still_votes() -> None:
    # a form pre-filled from the roster after the station's change is no news about the move
    profile = _profile(_dated("community", "SQ-1", OLD_FLAT, seen_on=date(2026, 9, 1)),
                       _dated("public_security", "GA-1", NEW_FLAT, changed_on=date(2026, 6, 10)),
                       _dated("social_security", "SB-1", OLD_FLAT))
    assert derive_place(candidates(profile), MOVED.get).community == "瑞金北村社区"


def test_a_registers_change_never_gives_way_to_a_later_visit() -> None:
    profile = _profile(_dated("public_security", "GA-1", OLD_FLAT, changed_on=date(2025, 1, 5)),
                       _dated("community", "SQ-1", NEW_FLAT, seen_on=date(2026, 9, 1)),
                       _dated("social_security", "SB-1", OLD_FLAT))
    assert derive_place(candidates(profile), MOVED.get).community == "瑞金北村社区"


def test_the_candidates_carry_their_departments_and_dates() -> None:
    profile = _profile(_dated("community", "SQ-1", OLD_FLAT, seen_on=date(2026, 3, 2)),
                       _dated("community", "SQ-2", OLD_FLAT, seen_on=date(2026, 5, 2)))
    (candidate,) = candidates(profile)
    assert (candidate.votes, candidate.sources, candidate.seen_on, candidate.changed_on) == (
        2, ("community",), "2026-05-02", None)


def test_facts_counted_by_kind_assign_as_the_facts_themselves() -> None:
    """What the store hands over (one row per key, origin, source, community and grid, with a count)
    assigns exactly as every fact one by one, ties and disagreements included."""
    import random
    from collections import Counter

    from core.places import assign_counted

    rng = random.Random(7)
    for _ in range(2_000):
        facts = [PlaceFact("k", rng.choice(["record", "record", "standard_address", "steward"]),
                           rng.choice(["public_security", "civil_affairs", "community", "grid_centre"]),
                           str(rng.randrange(1_000)), rng.choice(["秦虹社区", "扇骨里社区", "瞻园社区"]),
                           rng.choice([None, "第1网格", "第2网格"]))
                 for _ in range(rng.randrange(1, 12))]
        counted = Counter(f if f.origin == "steward" else PlaceFact(f.place_key, f.origin, f.source, "", f.community,
                                                                    f.grid) for f in facts)
        assert assign_counted(counted.items()) == assign(facts)
