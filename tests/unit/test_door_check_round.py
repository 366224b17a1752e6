"""The simulated district's door checks (入户核实): what community workers write when the hub sends
them to a resident whose records disagree on where they live."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from connectors.spec import ConnectorSpec
from core.standardise import standardise
from onceonly.settings import PROJECT_ROOT
from schemas.source_record import SourceRecord
from simulators.district import NoiseConfig, Resident, door_check_round, generate_district, render_district

N = 2000
SEED = 23


@pytest.fixture(scope="module")
def residents() -> list[Resident]:
    return list(generate_district(N, seed=SEED))


def test_only_the_residents_asked_for_are_answered_and_each_answer_is_a_check_at_the_door(
        residents: list[Resident]) -> None:
    asked = {r.resident_id for r in residents[::7]}
    answers = list(door_check_round(residents, asked, SEED))
    assert answers and {a.resident_id for a in answers} <= asked
    noise = NoiseConfig()
    for answer in answers:
        assert answer.source == "community" and answer.row["核实方式"] == "入户核实"
        day = answer.row["走访日期"]
        assert day is not None
        assert noise.observed_on < date.fromisoformat(day) <= noise.observed_on + timedelta(days=30)
    visits = {r.record_id for r in render_district(residents, SEED, departments=("community",))}
    ids = [a.record_id for a in answers]
    assert len(set(ids)) == len(ids) and not set(ids) & visits  # a new visit, never a rewrite of an old one


def test_the_worker_writes_the_flat_she_finds_never_the_one_before_a_move(residents: list[Resident]) -> None:
    moved = {r.resident_id: r for r in residents if r.previous_address is not None and r.present}
    assert len(moved) > 20
    answers = list(door_check_round(residents, set(moved), SEED))
    assert answers
    for answer in answers:
        now = moved[answer.resident_id].address
        assert (answer.row["社区"], answer.row["网格"]) == (now.community, now.grid)
        written = answer.row["居住地址"] or ""
        assert f"{now.road}{now.number}号" in written or (now.compound or "\x00") in written


def test_about_as_many_are_not_at_home_as_a_visit_round_misses(residents: list[Resident]) -> None:
    present = {r.resident_id for r in residents if r.present}
    answered = len(list(door_check_round(residents, present, SEED)))
    households = len({r.household_id for r in residents if r.present})
    # decided per household (a household is in or out together), so the spread is that of ~households
    expected = NoiseConfig().cm_household_coverage
    assert abs(answered / len(present) - expected) < 4 * (expected * (1 - expected) / households) ** 0.5
    assert answered < len(present)  # some are never at home: the check is not perfect


def test_being_at_home_does_not_depend_on_whether_the_household_was_visited_before(
        residents: list[Resident]) -> None:
    present = {r.resident_id for r in residents if r.present}
    visited = {r.resident_id for r in render_district(residents, SEED, departments=("community",))}
    answered = {a.resident_id for a in door_check_round(residents, present, SEED)}
    seen, unseen = present & visited, present - visited
    assert len(unseen) > 100
    assert abs(len(answered & seen) / len(seen) - len(answered & unseen) / len(unseen)) < 0.1


def test_nobody_answers_for_a_resident_who_left_or_died(residents: list[Resident]) -> None:
    gone = {r.resident_id for r in residents if not r.present}
    assert gone
    assert list(door_check_round(residents, gone, SEED)) == []


def test_a_round_is_repeatable_and_the_next_round_is_another_visit(residents: list[Resident]) -> None:
    asked = {r.resident_id for r in residents[::5]}
    first = list(door_check_round(residents, asked, SEED))
    assert first == list(door_check_round(residents, asked, SEED))
    second = list(door_check_round(residents, asked, SEED, round_number=2))
    assert not {a.record_id for a in first} & {a.record_id for a in second}


def test_the_community_mapping_reads_the_answers_as_checks_at_the_door(residents: list[Resident]) -> None:
    mapping = ConnectorSpec.load(PROJECT_ROOT / "mappings" / "community.yaml").field_mapping()
    assert mapping is not None
    (answer, *_) = door_check_round(residents, {r.resident_id for r in residents[:40]}, SEED)
    payload = {k: v or "" for k, v in answer.row.items()}
    record = standardise(SourceRecord.of(source="community", record_id=answer.record_id, payload=payload,
                                         mapping_version="t"), mapping)
    assert record.attributes["verification"] == "at_door"
    assert record.seen_on is not None and record.seen_on.isoformat() == answer.row["走访日期"]
    assert "residential" in record.addresses
