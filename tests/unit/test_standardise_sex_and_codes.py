"""Sex (GB/T 2261.1) and the GB code tables: ethnicity, relation to head, marital status."""

from __future__ import annotations

import pytest
from stdnum.cn import ric

from core.standardise import (
    ETHNICITY,
    MARITAL_STATUS,
    NATIONALITY,
    RELATION_TO_HEAD,
    UnknownCodeValue,
    parse_sex,
    sex_code,
    sex_disagreement,
)


@pytest.mark.parametrize(
    ("value", "sex"),
    [
        ("男", "male"), ("女", "female"), ("男性", "male"), ("女性", "female"),
        ("M", "male"), ("f", "female"), ("Male", "male"), ("female", "female"),
        ("1", "male"), ("2", "female"), ("0", "unknown"), ("9", "unknown"), (1, "male"),
        ("", "unknown"), (None, "unknown"), ("未知", "unknown"),
    ],
)
def test_sex_values_map_per_gb_t_2261_1(value: object, sex: str) -> None:
    assert parse_sex(value) == sex


def test_department_table_is_consulted_first() -> None:
    # A department that wrote 1 for women (it happens) overrides the national code.
    assert parse_sex("1", {"1": "female", "2": "male"}) == "female"
    assert parse_sex("W", {"w": "female"}) == "female"


def test_unknown_sex_value_raises() -> None:
    with pytest.raises(UnknownCodeValue):
        parse_sex("3")


def test_sex_code_round_trip() -> None:
    assert [sex_code(s) for s in ("unknown", "male", "female")] == ["0", "1", "2"]


def test_sex_disagreeing_with_the_id_number_is_reported() -> None:
    body = "11010519850307001"  # odd sequence 001: male
    man = body + ric.calc_check_digit(body + "0")
    assert sex_disagreement("female", man) is not None
    assert sex_disagreement("male", man) is None
    assert sex_disagreement("unknown", man) is None


def test_all_56_ethnic_groups_are_coded() -> None:
    assert [f"{n:02d}" for n in range(1, 57)] == [c for c in ETHNICITY.names if int(c) <= 56]
    assert ETHNICITY.name_of("56") == "基诺族"


@pytest.mark.parametrize("value", ["汉", "汉族", "01", "1", 1, "漢族", " 汉族 "])
def test_ethnicity_accepts_name_short_name_and_code(value: object) -> None:
    assert ETHNICITY.code_of(value) == "01"


def test_ethnicity_without_suffix_for_multi_character_names() -> None:
    assert ETHNICITY.code_of("维吾尔") == "05"
    assert ETHNICITY.code_of("蒙古族") == "02"


def test_relation_to_head_by_code_and_name() -> None:
    assert RELATION_TO_HEAD.code_of("户主") == "02"
    assert RELATION_TO_HEAD.code_of("02") == "02"
    assert RELATION_TO_HEAD.code_of("妻") == RELATION_TO_HEAD.code_of("妻子") == "12"
    assert RELATION_TO_HEAD.code_of("长子") == "22"
    assert RELATION_TO_HEAD.code_of("女儿") == "30"
    assert RELATION_TO_HEAD.name_of("51") == "父亲"


def test_marital_status_codes() -> None:
    assert MARITAL_STATUS.code_of("已婚") == "20"
    assert MARITAL_STATUS.code_of("离异") == "40"
    assert MARITAL_STATUS.code_of("10") == "10"


def test_nationality_accepts_alpha_2_alpha_3_and_chinese_names() -> None:
    assert NATIONALITY.code_of("US") == NATIONALITY.code_of("usa") == NATIONALITY.code_of("美国") == "USA"


def test_unknown_code_value_raises() -> None:
    with pytest.raises(UnknownCodeValue):
        ETHNICITY.code_of("火星族")
    with pytest.raises(UnknownCodeValue):
        RELATION_TO_HEAD.code_of("")
    assert "火星族" not in ETHNICITY
