"""Domain errors never carry a raw ID number, whatever the caller puts into them."""

from __future__ import annotations

import pytest
from stdnum.cn import ric

from core.standardise import (
    CannotStandardise,
    InvalidIdNumber,
    UnknownCodeValue,
    UnreadableDate,
    validate_id_number,
)
from core.standardise.errors import StandardiseError

BODY = "11010519850307002"
ID = BODY + ric.calc_check_digit(BODY + "0")


def test_exception_message_never_contains_raw_id_number() -> None:
    for error in (
        InvalidIdNumber(ID, "test"),
        CannotStandardise(f"record about {ID} is empty", source="housing", record_id="r1"),
        UnknownCodeValue("GB 3304 ethnicity", ID),
        UnreadableDate(ID),
        StandardiseError(f"anything {ID} anything"),
    ):
        assert ID not in str(error)
        assert "110105" in str(error)  # masked, not dropped: the division code still helps


def test_id_number_with_spaces_or_full_width_digits_is_masked_too() -> None:
    spaced = f"{ID[:6]} {ID[6:14]} {ID[14:]}"
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in ID)
    for raw in (spaced, full_width):
        message = str(StandardiseError(f"bad value {raw}"))
        assert raw not in message
        assert ID[6:14] not in message and full_width[6:14] not in message


def test_invalid_id_number_error_from_validation_is_masked() -> None:
    with pytest.raises(InvalidIdNumber, match=r"110105\*+") as raised:
        validate_id_number(ID[:-1] + ("1" if ID[-1] != "1" else "2"))
    assert ID[:-1] not in str(raised.value)


def test_errors_are_value_errors() -> None:
    assert issubclass(StandardiseError, ValueError)
