"""ID numbers (公民身份号码): cleaning, legacy upgrade, validation, masking, keyed hashing.

Test numbers are built from a division code, a birth date and a sequence, with the check digit
computed by stdnum: they are well-formed but belong to nobody.
"""

from __future__ import annotations

from datetime import date

import pytest
from stdnum.cn import ric

from core.standardise import (
    InvalidIdNumber,
    check_id_number,
    clean_id_number,
    keyed_hash,
    looks_like_foreigner_permit,
    mask_id_number,
    upgrade_legacy_id_number,
    validate_id_number,
)


def make_id(division: str = "110105", birth: str = "19850307", seq: str = "002") -> str:
    body = division + birth + seq
    return body + ric.calc_check_digit(body + "0")


WOMAN = make_id(seq="002")  # Beijing Chaoyang, born 1985-03-07, even sequence: female
MAN = make_id(seq="001")
ENDS_IN_X = next(make_id(seq=f"{n:03d}") for n in range(1000) if make_id(seq=f"{n:03d}").endswith("X"))


def test_valid_number_is_kept_with_birth_date_and_sex() -> None:
    check = check_id_number(WOMAN)
    assert check.valid and check.id_number == WOMAN
    assert check.birth_date == date(1985, 3, 7)
    assert check.sex == "female"


def test_odd_sequence_means_male() -> None:
    assert check_id_number(MAN).sex == "male"


def test_full_width_digits_and_spaces_are_cleaned() -> None:
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in WOMAN)
    assert clean_id_number(f" {full_width[:6]} {full_width[6:]} ") == WOMAN


def test_lower_case_x_becomes_upper_case() -> None:
    assert check_id_number(ENDS_IN_X.lower()).id_number == ENDS_IN_X


def test_hyphens_and_excel_apostrophe_are_removed() -> None:
    assert clean_id_number(f"'{WOMAN[:6]}-{WOMAN[6:14]}-{WOMAN[14:]}") == WOMAN


def test_legacy_15_digit_id_becomes_its_18_digit_form() -> None:
    legacy = WOMAN[:6] + WOMAN[8:17]  # drop the century "19" and the check digit
    assert upgrade_legacy_id_number(legacy) == WOMAN
    check = check_id_number(legacy)
    assert check.id_number == WOMAN and check.upgraded_from_15_digits


def test_wrong_check_digit_is_invalid_and_kept_as_evidence() -> None:
    typo = WOMAN[:-1] + ("0" if WOMAN[-1] != "0" else "1")
    check = check_id_number(typo)
    assert not check.valid
    assert check.cleaned == typo
    assert "check digit" in (check.reason or "")


def test_swapped_digits_are_caught_by_the_check_digit() -> None:
    # Sequence "002" typed as "020".
    swapped = WOMAN[:15] + WOMAN[16] + WOMAN[15] + WOMAN[17:]
    assert swapped != WOMAN
    assert not check_id_number(swapped).valid


def test_impossible_birth_date_is_invalid() -> None:
    # 1985-02-30 does not exist, even with a correct check digit.
    assert not check_id_number(make_id(birth="19850230")).valid


def test_future_birth_date_is_invalid() -> None:
    assert not check_id_number(make_id(birth="20300101"), today=date(2025, 1, 1)).valid


def test_wrong_length_is_invalid() -> None:
    assert "18 digits" in (check_id_number(WOMAN[:-2]).reason or "")


def test_unknown_province_is_invalid() -> None:
    # 99 is no province code.
    assert not check_id_number(make_id(division="990101")).valid


def test_division_unknown_to_the_table_is_a_warning_not_invalid() -> None:
    # 330110 (余杭区) exists since 2001; a card issued there to someone born 1985 is real.
    check = check_id_number(make_id(division="330110"))
    assert check.valid
    assert any("330110" in w for w in check.warnings)


def test_hong_kong_macao_taiwan_residence_permit_numbers_are_valid() -> None:
    assert check_id_number(make_id(division="830000")).valid


def test_validate_raises_with_masked_number() -> None:
    typo = WOMAN[:-1] + ("0" if WOMAN[-1] != "0" else "1")
    with pytest.raises(InvalidIdNumber) as raised:
        validate_id_number(typo)
    assert typo not in str(raised.value)
    assert mask_id_number(typo) in str(raised.value)


def test_mask_keeps_division_and_last_four() -> None:
    assert mask_id_number("11010519850307002X") == "110105********002X"


def test_short_strings_are_masked_almost_entirely() -> None:
    assert mask_id_number("1234567") == "*****67"


def test_keyed_hash_is_hmac_and_needs_a_key() -> None:
    assert keyed_hash(WOMAN, b"k1") != keyed_hash(WOMAN, b"k2")
    assert len(keyed_hash(WOMAN, "k1")) == 64
    assert WOMAN not in keyed_hash(WOMAN, "k1")
    with pytest.raises(ValueError):
        keyed_hash(WOMAN, b"")


def test_keyed_hash_is_the_same_for_every_spelling_of_one_number() -> None:
    legacy = ENDS_IN_X[:6] + ENDS_IN_X[8:17]
    key = b"hub-key"
    assert keyed_hash(ENDS_IN_X.lower(), key) == keyed_hash(ENDS_IN_X, key) == keyed_hash(legacy, key)


def test_new_foreigner_permanent_residence_number_is_recognised() -> None:
    # Since 2023: 9 + province + country code + birth date + sequence + check digit.
    body = "911840" + "19850307" + "001"
    permit = body + ric.calc_check_digit(body + "0")
    assert looks_like_foreigner_permit(permit)
    assert not check_id_number(permit).valid
