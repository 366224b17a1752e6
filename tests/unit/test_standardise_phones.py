"""Phone numbers to E.164; invalid ones are warnings, not errors."""

from __future__ import annotations

import pytest

from core.standardise import mask_phone, parse_phone, parse_phones

MOBILE = "+8613800138000"
NANJING_LANDLINE = "+862584561234"


@pytest.mark.parametrize(
    "text", ["13800138000", "138 0013 8000", "+86 138 0013 8000", "8613800138000", "008613800138000", "１３８００１３８０００"]
)
def test_mobile_forms_become_e164(text: str) -> None:
    assert parse_phone(text) == MOBILE


@pytest.mark.parametrize("text", ["025-84561234", "(025)84561234", "（025）84561234", "025 84561234", "02584561234"])
def test_landline_with_area_code_becomes_e164(text: str) -> None:
    assert parse_phone(text) == NANJING_LANDLINE


def test_local_landline_takes_the_default_area_code() -> None:
    assert parse_phone("84561234", default_area_code="025") == NANJING_LANDLINE
    assert parse_phone("84561234", default_area_code="25") == NANJING_LANDLINE
    assert parse_phone("84561234") is None  # no area code known: cannot be dialled


def test_extension_is_dropped() -> None:
    assert parse_phone("025-84561234转8001") == NANJING_LANDLINE


def test_spreadsheet_float_tail_is_dropped() -> None:
    assert parse_phone("13800138000.0") == MOBILE
    assert parse_phones(13800138000.0).numbers == (MOBILE,)


def test_several_numbers_in_one_cell_are_all_read() -> None:
    result = parse_phones("13800138000/025-84561234；13900139000")
    assert result.numbers == (MOBILE, NANJING_LANDLINE, "+8613900139000")


def test_two_mobiles_separated_by_one_space_are_two_numbers() -> None:
    assert parse_phones("13800138000 13900139000").numbers == (MOBILE, "+8613900139000")


def test_duplicates_across_columns_are_kept_once() -> None:
    assert parse_phones("13800138000", "138-0013-8000").numbers == (MOBILE,)


def test_invalid_number_is_a_masked_warning() -> None:
    result = parse_phones("1380013800", "13800138000")  # the first lost a digit
    assert result.numbers == (MOBILE,)
    assert len(result.warnings) == 1
    assert "1380013800" not in result.warnings[0]


def test_blank_placeholders_are_no_phone_and_no_warning() -> None:
    assert parse_phones("无", "", None, "-") == parse_phones()


def test_foreign_number_with_plus_is_kept() -> None:
    assert parse_phone("+1 650 253 0000") == "+16502530000"


def test_mask_phone_hides_the_middle() -> None:
    assert mask_phone("13800138000") == "138****8000"
