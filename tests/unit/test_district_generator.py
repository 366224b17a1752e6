"""The synthetic 秦淮区: deterministic, valid identity numbers, realistic people, hard cases on purpose."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import replace

import phonenumbers
import pytest
from pypinyin import lazy_pinyin
from stdnum.cn import ric

from simulators.district import (
    DistrictConfig,
    Resident,
    apply_changes,
    evolve,
    generate_district,
    generate_households,
    step_period,
)
from simulators.district.codes import ETHNICITY, MARITAL_STATUS, RELATION
from simulators.district.geography import STREETS
from simulators.district.id_numbers import check_character, legacy_to_18, to_legacy_15
from simulators.district.names import HOMOPHONES

N = 2000
SEED = 20240630


@pytest.fixture(scope="module")
def district() -> list[Resident]:
    return list(generate_district(N, SEED))


@pytest.fixture(scope="module")
def larger_district() -> list[Resident]:
    # More minorities and foreigners than life, so that 8,000 residents show every kind.
    config = DistrictConfig(minority_household_rate=0.08, foreign_household_rate=0.03)
    return list(generate_district(8000, 7, config))


def _by_id(residents: list[Resident]) -> dict[str, Resident]:
    return {r.resident_id: r for r in residents}


# -- determinism and size -------------------------------------------------------------------------


def test_the_same_seed_generates_the_same_district(district: list[Resident]) -> None:
    assert list(generate_district(N, SEED)) == district


def test_a_different_seed_generates_a_different_district(district: list[Resident]) -> None:
    other = list(generate_district(N, SEED + 1))
    assert [r.id_number for r in other] != [r.id_number for r in district]
    assert [r.name for r in other] != [r.name for r in district]


def test_exactly_n_residents_are_numbered_from_r000001(district: list[Resident]) -> None:
    assert len(district) == N
    assert [r.resident_id for r in district] == [f"R{i:06d}" for i in range(1, N + 1)]


def test_one_hundred_thousand_residents_generate() -> None:
    count = sum(1 for _ in generate_district(100_000, 1))
    assert count == 100_000


# -- ID numbers -----------------------------------------------------------------------------------


def test_every_id_number_is_valid_and_agrees_with_sex_and_birth_date(district: list[Resident]) -> None:
    chinese = [r for r in district if r.category != "foreign"]
    assert chinese
    for resident in chinese:
        assert resident.id_number is not None
        assert ric.is_valid(resident.id_number), resident.id_number
        assert ric.get_birth_date(resident.id_number) == resident.birth_date
        assert int(resident.id_number[16]) % 2 == (1 if resident.sex == "1" else 0)
        assert resident.id_number[:6] == resident.birthplace_code


def test_id_numbers_are_unique_even_at_scale() -> None:
    numbers = [r.id_number for r in generate_district(30_000, 3) if r.id_number]
    assert len(numbers) == len(set(numbers))


def test_the_check_character_agrees_with_stdnum(district: list[Resident]) -> None:
    for resident in district[:300]:
        if resident.id_number:
            assert check_character(resident.id_number[:17]) == ric.calc_check_digit(resident.id_number)


def test_legacy_fifteen_digit_numbers_convert_back_to_the_eighteen_digit_number(district: list[Resident]) -> None:
    born_last_century = [r for r in district if r.id_number and r.birth_date.year < 2000]
    assert born_last_century
    for resident in born_last_century:
        assert resident.id_number is not None
        legacy = to_legacy_15(resident.id_number)
        assert len(legacy) == 15 and legacy.isdigit()
        assert legacy_to_18(legacy) == resident.id_number


def test_a_person_born_this_century_never_had_a_fifteen_digit_number() -> None:
    with pytest.raises(ValueError):
        to_legacy_15("320104201001015746")


def test_birthplaces_come_from_across_china_not_only_qinhuai(district: list[Resident]) -> None:
    codes = {r.birthplace_code for r in district if r.birthplace_code}
    provinces = {code[:2] for code in codes}
    assert "320104" in codes
    assert len(codes) > 100
    assert len(provinces) >= 10


# -- people ---------------------------------------------------------------------------------------


def test_the_commonest_surnames_lead(larger_district: list[Resident]) -> None:
    top = [s for s, _ in Counter(r.surname for r in larger_district if r.category != "foreign").most_common(6)]
    assert {"王", "李", "张"} <= set(top)


def test_homophone_groups_really_share_a_pronunciation() -> None:
    for char, group in HOMOPHONES.items():
        assert char in group
        assert len({lazy_pinyin(c)[0] for c in group}) == 1, group


def test_codes_come_from_the_national_tables(district: list[Resident]) -> None:
    for resident in district:
        assert resident.relation in RELATION
        assert resident.marital_status in MARITAL_STATUS
        assert resident.ethnicity is None or resident.ethnicity in ETHNICITY
        assert resident.sex in {"1", "2"}


def test_each_household_has_one_head_and_one_address(district: list[Resident]) -> None:
    households: defaultdict[str, list[Resident]] = defaultdict(list)
    for resident in district:
        households[resident.household_id].append(resident)
    for members in households.values():
        assert sum(1 for m in members if m.relation == "02") == 1
        assert len({m.address for m in members}) == 1


def test_the_population_is_an_ageing_city(district: list[Resident]) -> None:
    as_of = DistrictConfig().as_of
    ages = [r.age_on(as_of) for r in district]
    assert 0.15 < sum(a >= 60 for a in ages) / len(ages) < 0.4
    assert 0.08 < sum(a < 18 for a in ages) / len(ages) < 0.3
    assert max(ages) < 105 and min(ages) >= 0


def test_addresses_are_in_qinhuai_s_real_sub_districts(district: list[Resident]) -> None:
    streets = {r.address.street for r in district}
    assert streets <= {s.name for s in STREETS}
    assert {"夫子庙街道", "秦虹街道", "月牙湖街道"} <= streets
    assert all(r.address.full_text().startswith("江苏省南京市秦淮区") for r in district)


def test_mobile_numbers_are_valid_and_only_spouses_share_one(district: list[Resident]) -> None:
    holders: defaultdict[str, list[Resident]] = defaultdict(list)
    for resident in district:
        if resident.mobile:
            number = phonenumbers.parse(resident.mobile, "CN")
            assert phonenumbers.is_valid_number(number), resident.mobile
            assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
            holders[resident.mobile].append(resident)
    for sharing in holders.values():
        if len(sharing) > 1:
            assert len(sharing) == 2 and sharing[0].spouse_id == sharing[1].resident_id


def test_landlines_are_nanjing_fixed_lines(district: list[Resident]) -> None:
    landlines = {r.home_phone for r in district if r.home_phone}
    assert landlines
    for landline in landlines:
        assert re.fullmatch(r"025-\d{8}", landline)
        number = phonenumbers.parse(landline, "CN")
        assert phonenumbers.is_valid_number(number)
        assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.FIXED_LINE


def test_migrants_are_registered_elsewhere(district: list[Resident]) -> None:
    migrants = [r for r in district if r.category == "migrant"]
    assert migrants
    assert all(r.hukou_number is None for r in migrants)
    assert sum(not r.hukou_address.startswith("江苏省南京市") for r in migrants) > 0.8 * len(migrants)


def test_foreign_residents_have_latin_names_and_passports_but_no_id_number(larger_district: list[Resident]) -> None:
    foreigners = [r for r in larger_district if r.category == "foreign"]
    assert len({r.nationality for r in foreigners}) >= 4
    for resident in foreigners:
        assert resident.id_number is None and resident.ethnicity is None
        assert resident.passport_number and resident.nationality != "CHN"
        assert re.fullmatch(r"[A-Za-zÀ-ÿ\- ]+", resident.name), resident.name


def test_minority_names_keep_their_own_form(larger_district: list[Resident]) -> None:
    uyghur = [r for r in larger_district if r.ethnicity == "05"]
    assert uyghur
    assert all("·" in r.name and r.surname == "" for r in uyghur)
    assert any(r.ethnicity == "03" for r in larger_district)


# -- hard cases -----------------------------------------------------------------------------------


def test_hard_cases_are_present_at_two_thousand_residents(district: list[Resident]) -> None:
    seen = Counter(case for r in district for case in r.hard_cases)
    for case in ("twin", "common_name", "shared_phone", "moved", "deceased"):
        assert seen[case] >= 2, case


def test_twins_share_surname_birth_date_address_and_home_phone_but_not_name_or_id(district: list[Resident]) -> None:
    residents = _by_id(district)
    twins = [r for r in district if "twin" in r.hard_cases]
    for twin in twins:
        assert twin.peer_id is not None
        other = residents[twin.peer_id]
        assert other.peer_id == twin.resident_id
        assert (other.surname, other.birth_date, other.address, other.home_phone, other.household_id) == (
            twin.surname, twin.birth_date, twin.address, twin.home_phone, twin.household_id,
        )  # fmt: skip
        assert other.given_name != twin.given_name
        assert other.id_number != twin.id_number


def test_namesakes_are_born_the_same_day_in_different_households(district: list[Resident]) -> None:
    residents = _by_id(district)
    namesakes = [r for r in district if "common_name" in r.hard_cases]
    assert namesakes
    for person in namesakes:
        assert person.peer_id is not None
        other = residents[person.peer_id]
        assert (other.name, other.birth_date) == (person.name, person.birth_date)
        assert other.household_id != person.household_id
        assert other.id_number != person.id_number


def test_spouses_sharing_a_phone_also_share_an_address(district: list[Resident]) -> None:
    residents = _by_id(district)
    sharing = [r for r in district if "shared_phone" in r.hard_cases and r.spouse_id in residents]
    assert sharing
    for person in sharing:
        spouse = residents[person.spouse_id or ""]
        assert spouse.mobile == person.mobile and spouse.address == person.address


def test_people_who_moved_have_an_old_and_a_new_address(district: list[Resident]) -> None:
    movers = [r for r in district if "moved" in r.hard_cases]
    assert movers
    for person in movers:
        assert person.previous_address is not None and person.previous_address != person.address
        assert person.moved_on is not None and person.moved_on >= person.registered_on


def test_the_dead_have_a_death_date_after_their_birth(district: list[Resident]) -> None:
    dead = [r for r in district if "deceased" in r.hard_cases]
    assert dead
    for person in dead:
        assert person.death_date is not None
        assert person.birth_date < person.death_date <= DistrictConfig().as_of


def test_hard_case_rates_are_configurable() -> None:
    calm = DistrictConfig(twin_rate=0.0, common_name_rate=0.0, shared_phone_rate=0.0, moved_rate=0.0, deceased_rate=0.0)
    cases = {case for r in generate_district(1500, 5, calm) for case in r.hard_cases}
    assert cases == set()


def test_households_list_their_members(district: list[Resident]) -> None:
    for household, members in generate_households(300, SEED):
        assert household.member_ids == tuple(m.resident_id for m in members)
        assert household.head_id == members[0].resident_id
        assert all(m.household_id == household.household_id for m in members)


# -- evolution ------------------------------------------------------------------------------------


def test_evolving_the_same_snapshot_with_the_same_seed_gives_the_same_changes(district: list[Resident]) -> None:
    assert list(evolve(district, 1, 1)) == list(evolve(district, 1, 1))


def test_an_evolution_step_moves_people_and_adds_newcomers_with_valid_unique_ids(district: list[Resident]) -> None:
    changes = list(evolve(district, 1, 1))
    kinds = Counter(c.kind for c in changes)
    assert kinds["moved"] and kinds["phone_changed"] and kinds["arrived"]
    first, last = step_period(1)
    assert all(first <= c.effective_on <= last for c in changes if c.kind != "arrived" or c.resident.birth_date < first)
    after = list(apply_changes(district, changes))
    assert len(after) == N + kinds["arrived"] + kinds["born"]
    numbers = [r.id_number for r in after if r.id_number]
    assert len(numbers) == len(set(numbers))
    assert all(ric.is_valid(n) for n in numbers)
    assert len({r.resident_id for r in after}) == len(after)


def test_a_move_keeps_the_old_address_and_a_new_phone_keeps_the_old_number(district: list[Resident]) -> None:
    changes = list(evolve(district, 2, 1))
    move = next(c for c in changes if c.kind == "moved")
    assert move.previous is not None
    assert move.resident.previous_address == move.previous.address != move.resident.address
    phone = next(c for c in changes if c.kind == "phone_changed")
    assert phone.previous is not None
    assert phone.resident.previous_mobile == phone.previous.mobile != phone.resident.mobile


def test_new_flats_from_evolution_never_collide_with_existing_ones(district: list[Resident]) -> None:
    changes = list(evolve(district, 3, 1))
    old = {(r.address.community, r.address.locality) for r in district}
    new = {(c.resident.address.community, c.resident.address.locality) for c in changes if c.kind in {"moved", "arrived"}}
    assert new and not (old & new)


def test_a_later_step_continues_from_the_last(district: list[Resident]) -> None:
    first = list(apply_changes(district, evolve(district, 4, 1)))
    second_changes = list(evolve(first, 4, 2))
    second = list(apply_changes(first, second_changes))
    assert len({r.resident_id for r in second}) == len(second)
    born_or_arrived = [c.resident for c in second_changes if c.previous is None]
    assert min(r.number for r in born_or_arrived) > max(r.number for r in first)


def test_config_values_are_frozen() -> None:
    config = DistrictConfig()
    with pytest.raises(AttributeError):
        config.twin_rate = 1.0  # type: ignore[misc]
    assert replace(config, twin_rate=0.5).twin_rate == 0.5
