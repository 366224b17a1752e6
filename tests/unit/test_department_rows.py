"""Department renderings: each department's own columns, codes and noise, with a separate truth."""

from __future__ import annotations

import csv
import random
import re
import unicodedata
from collections import Counter
from dataclasses import replace
from datetime import date
from pathlib import Path

import opencc
import pytest
from stdnum.cn import ric

from simulators.district import (
    COLUMNS,
    DEPARTMENTS,
    DistrictConfig,
    NoiseConfig,
    RenderedRecord,
    Resident,
    apply_changes,
    department_rows,
    evolve,
    generate_district,
    render_district,
    write_truth,
)
from simulators.district.departments import render_public_security
from simulators.district.id_numbers import legacy_to_18
from simulators.district.noise import mistype_id

N = 3000
SEED = 11


@pytest.fixture(scope="module")
def residents() -> list[Resident]:
    config = DistrictConfig(foreign_household_rate=0.02, minority_household_rate=0.05)
    return list(generate_district(N, SEED, config))


@pytest.fixture(scope="module")
def records(residents: list[Resident]) -> list[RenderedRecord]:
    return list(render_district(residents, SEED))


@pytest.fixture(scope="module")
def by_id(residents: list[Resident]) -> dict[str, Resident]:
    return {r.resident_id: r for r in residents}


def _rows(records: list[RenderedRecord], source: str) -> list[RenderedRecord]:
    return [r for r in records if r.source == source]


def _plain(text: str) -> str:
    """An ID number as a matcher would clean it: width folded, blanks gone, upper case."""
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", text)).upper()


# -- the whole rendering --------------------------------------------------------------------------


def test_rendering_the_same_district_with_the_same_seed_gives_the_same_rows(
    residents: list[Resident], records: list[RenderedRecord]
) -> None:
    assert list(render_district(residents, SEED)) == records


def test_a_different_seed_gives_different_noise(residents: list[Resident], records: list[RenderedRecord]) -> None:
    other = list(render_district(residents, SEED + 1))
    assert [r.row for r in other] != [r.row for r in records]


def test_every_department_knows_someone_and_uses_its_own_columns(records: list[RenderedRecord]) -> None:
    sources = Counter(r.source for r in records)
    assert set(sources) == set(DEPARTMENTS)
    for record in records:
        assert tuple(record.row) == COLUMNS[record.source]


def test_public_security_knows_everyone_and_the_others_a_subset(records: list[RenderedRecord]) -> None:
    sources = Counter(r.source for r in records)
    assert sources["public_security"] == N
    assert sources["civil_affairs"] < sources["housing"] < sources["social_security"] < N


def test_the_truth_file_covers_every_record(records: list[RenderedRecord], tmp_path: Path) -> None:
    path = tmp_path / "truth.csv"
    assert write_truth(records, path) == len(records)
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["source", "record_id", "resident_id"]
    assert sorted(tuple(row) for row in rows[1:]) == sorted((r.source, r.record_id, r.resident_id) for r in records)


def test_record_ids_are_unique_within_each_department(records: list[RenderedRecord]) -> None:
    identities = [(r.source, r.record_id) for r in records]
    assert len(identities) == len(set(identities))
    assert all(r.record_id for r in records)


def test_record_ids_never_contain_an_id_number(records: list[RenderedRecord], by_id: dict[str, Resident]) -> None:
    for record in records:
        resident = by_id[record.resident_id]
        assert not re.search(r"\d{15}", record.record_id), record.record_id
        if resident.id_number:
            assert resident.id_number not in record.record_id
            assert resident.id_number[:17] not in record.record_id
        if resident.passport_number:
            assert resident.passport_number not in record.record_id


def test_the_true_resident_id_never_appears_in_a_native_row(records: list[RenderedRecord]) -> None:
    for record in records:
        assert record.resident_id not in {str(v) for v in record.row.values()}
        assert not any(str(v).startswith("R0") for v in record.row.values() if v)


def test_department_rows_yields_one_department_without_the_truth(residents: list[Resident]) -> None:
    rows = list(department_rows(residents[:200], SEED, "housing"))
    assert rows and all(tuple(row) == COLUMNS["housing"] for row in rows)


# -- public security ------------------------------------------------------------------------------


def test_public_security_writes_labels_and_iso_dates(records: list[RenderedRecord], by_id: dict[str, Resident]) -> None:
    for record in _rows(records, "public_security"):
        row, resident = record.row, by_id[record.resident_id]
        assert row["性别"] in {"男", "女"}
        assert row["出生日期"] == resident.birth_date.isoformat()
        assert row["人员类别"] in {"户籍人口", "流动人口", "境外人员"}
        assert row["民族"] == "" or str(row["民族"]).endswith("族")
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", str(row["updated_at"]))


def test_public_security_legacy_ids_convert_to_the_residents_number(
    records: list[RenderedRecord], by_id: dict[str, Resident]
) -> None:
    legacy = [r for r in _rows(records, "public_security") if len(str(r.row["公民身份号码"])) == 15]
    assert legacy
    for record in legacy:
        resident = by_id[record.resident_id]
        assert resident.birth_date.year < 1980
        assert legacy_to_18(str(record.row["公民身份号码"])) == resident.id_number
    older = sum(1 for r in by_id.values() if r.id_number and r.birth_date.year < 1980)
    assert len(legacy) < 0.1 * older


def test_public_security_marks_the_dead(records: list[RenderedRecord], by_id: dict[str, Resident]) -> None:
    for record in _rows(records, "public_security"):
        resident = by_id[record.resident_id]
        if resident.death_date is not None:
            assert record.row["人员状态"] == "死亡注销"
            assert record.row["注销日期"] == resident.death_date.isoformat()
        else:
            assert record.row["人员状态"] == "正常"


def test_foreigners_appear_with_passports_and_no_id_number(records: list[RenderedRecord], by_id: dict[str, Resident]) -> None:
    foreign = [r for r in _rows(records, "public_security") if by_id[r.resident_id].category == "foreign"]
    assert foreign
    for record in foreign:
        assert record.row["公民身份号码"] == ""
        assert record.row["护照号码"] == by_id[record.resident_id].passport_number
        assert re.fullmatch(r"[A-Z\- ]+", str(record.row["姓名"]))


# -- social security ------------------------------------------------------------------------------


def test_social_security_gives_sex_as_a_code_and_birth_as_a_month(
    records: list[RenderedRecord], by_id: dict[str, Resident]
) -> None:
    for record in _rows(records, "social_security"):
        resident = by_id[record.resident_id]
        assert record.row["xb"] == resident.sex
        assert record.row["csny"] == resident.birth_date.strftime("%Y%m")
        assert record.row["cbzt"] in {"1", "2", "3", "4"}


def test_social_security_mistypes_about_two_percent_of_id_numbers(
    records: list[RenderedRecord], by_id: dict[str, Resident]
) -> None:
    chinese = [r for r in _rows(records, "social_security") if r.row["zjlx"] == "01"]
    wrong = [r for r in chinese if r.row["sfzhm"] != by_id[r.resident_id].id_number]
    assert 0.005 < len(wrong) / len(chinese) < 0.05
    for record in wrong:
        assert not ric.is_valid(str(record.row["sfzhm"]))


def test_a_mistyped_id_number_always_fails_its_check_character() -> None:
    rng = random.Random(0)
    for resident in generate_district(500, 3):
        if resident.id_number:
            typo = mistype_id(resident.id_number, rng)
            assert typo != resident.id_number and len(typo) == 18
            assert not ric.is_valid(typo)


# -- civil affairs --------------------------------------------------------------------------------


def test_civil_affairs_lists_only_entitled_residents(records: list[RenderedRecord], by_id: dict[str, Resident]) -> None:
    ledger = _rows(records, "civil_affairs")
    assert ledger
    allowed = {"城市低保", "特困供养", "高龄津贴", "残疾人两项补贴"}
    for record in ledger:
        resident = by_id[record.resident_id]
        assert resident.assistance
        assert set(str(record.row["救助类别"]).split("、")) == set(resident.assistance) <= allowed
        assert float(str(record.row["发放金额"])) > 0
    assert [int(str(r.row["序号"])) for r in ledger] == list(range(1, len(ledger) + 1))


def test_civil_affairs_ids_are_messy_but_the_same_number(records: list[RenderedRecord], by_id: dict[str, Resident]) -> None:
    for record in _rows(records, "civil_affairs"):
        assert _plain(str(record.row["身份证号"])) == by_id[record.resident_id].id_number


def test_civil_affairs_noise_shows_at_high_rates(residents: list[Resident], by_id: dict[str, Resident]) -> None:
    noisy = NoiseConfig(ca_traditional_rate=0.5, ca_fullwidth_id_rate=0.3, ca_spaced_id_rate=0.3)
    ledger = list(render_district(residents, SEED, noisy, ("civil_affairs",)))
    t2s = opencc.OpenCC("t2s")
    traditional = [r for r in ledger if r.row["姓名"] != by_id[r.resident_id].name]
    assert any(t2s.convert(str(r.row["姓名"])) == by_id[r.resident_id].name for r in traditional)
    ids = [str(r.row["身份证号"]) for r in ledger]
    assert any(" " in i for i in ids)
    assert any(any(ord(c) > 0xFF00 for c in i) for i in ids)


# -- housing --------------------------------------------------------------------------------------


def test_housing_registers_heads_and_often_lacks_the_id_number(
    records: list[RenderedRecord], by_id: dict[str, Resident]
) -> None:
    rows = _rows(records, "housing")
    assert all(by_id[r.resident_id].relation == "02" for r in rows)
    missing = sum(1 for r in rows if not r.row["证件号码"])
    assert 0.3 < missing / len(rows) < 0.5
    assert {str(r.row["业务类型"]) for r in rows} == {"产权登记", "租赁备案"}
    for record in rows:
        name = str(record.row["产权人"] or record.row["承租人"])
        assert name and not (record.row["产权人"] and record.row["承租人"])


def test_housing_uses_passports_for_foreigners_and_short_addresses(
    records: list[RenderedRecord], by_id: dict[str, Resident]
) -> None:
    rows = _rows(records, "housing")
    foreign = [r for r in rows if by_id[r.resident_id].category == "foreign" and r.row["证件号码"]]
    assert foreign and all(r.row["证件类型"] == "护照" for r in foreign)
    assert any(re.search(r"\d+-\d+-\d+-\d{3,4}$", str(r.row["房屋坐落"])) for r in rows)
    assert any(" " in str(r.row["产权人"] or r.row["承租人"]) for r in rows if by_id[r.resident_id].category != "foreign")


# -- community ------------------------------------------------------------------------------------


def test_community_visits_record_ages_and_no_id_numbers(records: list[RenderedRecord], by_id: dict[str, Resident]) -> None:
    visits = _rows(records, "community")
    assert visits
    for record in visits:
        resident = by_id[record.resident_id]
        values = " ".join(str(v) for v in record.row.values())
        if resident.id_number:
            assert resident.id_number not in values
        if record.row["年龄"]:
            visited = date.fromisoformat(str(record.row["走访日期"]))
            assert abs(int(str(record.row["年龄"])) - resident.age_on(visited)) <= 1


def test_community_workers_visit_whole_households(records: list[RenderedRecord], by_id: dict[str, Resident]) -> None:
    visits = _rows(records, "community")
    visited = {r.resident_id for r in visits}
    day = {by_id[r.resident_id].household_id: date.fromisoformat(str(r.row["走访日期"])) for r in visits}
    for resident in by_id.values():
        when = day.get(resident.household_id)
        if when is not None and resident.left_on is None and resident.registered_on <= when:
            assert resident.resident_id in visited
    assert len(day) < len({r.household_id for r in by_id.values()})


def test_community_writes_the_head_s_name_for_household_members(
    records: list[RenderedRecord], by_id: dict[str, Resident]
) -> None:
    heads = {r.household_id: r.name for r in by_id.values() if r.relation == "02"}
    named = [r for r in _rows(records, "community") if r.row["户主姓名"] and by_id[r.resident_id].category != "foreign"]
    assert named
    assert all(r.row["户主姓名"] == heads[by_id[r.resident_id].household_id] for r in named)


# -- noise and change -----------------------------------------------------------------------------


def test_with_noise_switched_off_names_and_ids_are_exact(residents: list[Resident], by_id: dict[str, Resident]) -> None:
    clean = NoiseConfig(
        ps_legacy_id_rate=0, ps_name_typo_rate=0, ss_id_typo_rate=0, ss_name_homophone_rate=0, ss_name_typo_rate=0,
        ca_traditional_rate=0, ca_fullwidth_id_rate=0, ca_spaced_id_rate=0, ca_lowercase_x_rate=0,
        ca_name_typo_rate=0, ca_name_homophone_rate=0,
    )  # fmt: skip
    for record in render_district(residents, SEED, clean, ("public_security", "social_security", "civil_affairs")):
        resident = by_id[record.resident_id]
        if resident.category == "foreign" or "·" in resident.name:
            continue
        row = record.row
        name = row.get("姓名", row.get("xm"))
        number = row.get("公民身份号码", row.get("sfzhm", row.get("身份证号")))
        assert (name, number) == (resident.name, resident.id_number)


def test_an_unchanged_resident_renders_the_same_row_after_evolution(residents: list[Resident]) -> None:
    changes = list(evolve(residents, SEED, 1))
    changed = {c.resident.resident_id for c in changes}
    after = list(apply_changes(residents, changes))
    # 序号 is the row's position in the ledger, so it moves when rows above it come and go.
    before_rows = {(r.source, r.resident_id): r.row | {"序号": ""} for r in render_district(residents, SEED)}
    after_rows = {(r.source, r.resident_id): r.row | {"序号": ""} for r in render_district(after, SEED)}
    # These three read nothing but the person; housing and community also read the household.
    personal = {"public_security", "social_security", "civil_affairs"}
    same = [key for key in before_rows if key[1] not in changed and key[0] in personal]
    assert same
    assert all(after_rows[key] == before_rows[key] for key in same)


def test_a_changed_resident_keeps_its_record_ids(residents: list[Resident]) -> None:
    changes = list(evolve(residents, SEED, 1))
    changed = {c.resident.resident_id for c in changes if c.previous is not None}
    after = list(apply_changes(residents, changes))
    before_ids = {(r.source, r.resident_id): r.record_id for r in render_district(residents, SEED)}
    after_ids = {(r.source, r.resident_id): r.record_id for r in render_district(after, SEED)}
    both = [k for k in before_ids if k in after_ids and k[1] in changed and k[0] != "housing"]
    assert both
    assert all(before_ids[k] == after_ids[k] for k in both)
    moved = next(c.resident for c in changes if c.kind == "moved")
    assert after_ids[("public_security", moved.resident_id)] == before_ids[("public_security", moved.resident_id)]


def test_a_renderer_can_be_called_for_one_resident(residents: list[Resident]) -> None:
    row = render_public_security(residents[0], random.Random(1), NoiseConfig())
    assert row is not None and row["姓名"]
    later = replace(NoiseConfig(), observed_on=NoiseConfig().observed_on.replace(year=2025))
    assert render_public_security(residents[0], random.Random(1), later) == row


def test_a_station_row_that_missed_a_move_was_last_written_before_it(
        records: list[RenderedRecord], by_id: dict[str, Resident]) -> None:
    stale = fresh = 0
    for record in _rows(records, "public_security"):
        resident = by_id[record.resident_id]
        if resident.previous_address is None or resident.moved_on is None or resident.death_date is not None:
            continue
        written = date.fromisoformat(str(record.row["updated_at"])[:10])
        if record.row["现住址"] == resident.previous_address.full_text():
            stale += 1
            assert written < resident.moved_on
        else:
            fresh += 1
            assert written >= resident.moved_on
    assert stale and fresh


def test_the_register_and_visit_dates_reach_the_standard_record() -> None:
    from connectors.spec import ConnectorSpec
    from core.standardise import standardise
    from onceonly.settings import PROJECT_ROOT
    from schemas.source_record import SourceRecord

    def standard(source: str, payload: dict[str, str]) -> object:
        mapping = ConnectorSpec.load(PROJECT_ROOT / "mappings" / f"{source}.yaml").field_mapping()
        assert mapping is not None
        return standardise(SourceRecord.of(source=source, record_id="1", payload=payload, mapping_version="t"), mapping)

    station = standard("public_security", {"人员编号": "GA1", "姓名": "王芳", "updated_at": "2026-06-10 09:12:00"})
    visit = standard("community", {"走访编号": "ZF1", "姓名": "王芳", "走访日期": "2026-03-02"})
    assert (station.changed_on, station.seen_on) == (date(2026, 6, 10), None)  # type: ignore[attr-defined]
    assert (visit.changed_on, visit.seen_on) == (None, date(2026, 3, 2))  # type: ignore[attr-defined]
