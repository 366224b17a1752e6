"""Dates as departments write them."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from core.standardise import (
    ImplausibleDate,
    UnreadableDate,
    YearMonth,
    excel_serial_to_date,
    parse_date,
    parse_full_date,
)

TODAY = date(2025, 6, 1)
MARCH_7 = date(1985, 3, 7)


@pytest.mark.parametrize(
    "text",
    [
        "1985-03-07", "1985-3-7", "19850307", "1985/3/7", "1985.3.7", "1985年3月7日",
        "1985年03月07日", "1985年3月7号", "1985-03-07 00:00:00", "1985-03-07T00:00:00",
        "１９８５－０３－０７", "一九八五年三月七日",
    ],
)
def test_common_day_forms_are_read(text: str) -> None:
    assert parse_date(text, today=TODAY) == MARCH_7


def test_excel_serial_date_is_read() -> None:
    assert parse_date("31113", today=TODAY) == MARCH_7
    assert parse_date(31113, today=TODAY) == MARCH_7
    assert parse_date(31113.0, today=TODAY) == MARCH_7
    assert parse_date(31113.75, today=TODAY) == MARCH_7  # a time of day is dropped


def test_excel_1900_leap_year_bug_is_honoured() -> None:
    # Excel thinks 1900-02-29 existed (serial 60): serial 59 is 1900-02-28, 61 is 1900-03-01.
    assert excel_serial_to_date(59) == date(1900, 2, 28)
    assert excel_serial_to_date(61) == date(1900, 3, 1)
    with pytest.raises(UnreadableDate):
        excel_serial_to_date(60)


@pytest.mark.parametrize("text", ["198503", "1985-03", "1985/3", "1985.03", "1985年3月", "一九八五年三月"])
def test_birth_month_only_is_a_year_month(text: str) -> None:
    assert parse_date(text, today=TODAY) == YearMonth(1985, 3)


def test_year_month_prints_as_iso_month() -> None:
    assert str(YearMonth(1985, 3)) == "1985-03"
    assert YearMonth.parse("1985-03") == YearMonth(1985, 3)
    assert YearMonth(1985, 3).contains(MARCH_7)


def test_datetime_objects_from_spreadsheets_are_accepted() -> None:
    assert parse_date(datetime(1985, 3, 7, 12, 30), today=TODAY) == MARCH_7
    assert parse_date(MARCH_7, today=TODAY) == MARCH_7


def test_future_date_is_rejected() -> None:
    with pytest.raises(ImplausibleDate, match="future"):
        parse_date("2030-01-01", today=TODAY)


def test_date_before_1890_is_rejected() -> None:
    with pytest.raises(ImplausibleDate, match="1890"):
        parse_date("1889-12-31", today=TODAY)


def test_no_such_day_is_unreadable() -> None:
    with pytest.raises(UnreadableDate, match="no day"):
        parse_date("1985-02-30", today=TODAY)


def test_month_thirteen_is_unreadable() -> None:
    with pytest.raises(UnreadableDate):
        parse_date("198513", today=TODAY)


def test_day_first_form_is_refused_rather_than_guessed() -> None:
    # 07/03/1985: 7 March or 3 July?
    with pytest.raises(UnreadableDate, match="year must come first"):
        parse_date("07/03/1985", today=TODAY)


def test_a_year_alone_is_not_taken_for_an_excel_serial() -> None:
    with pytest.raises(UnreadableDate, match="year only"):
        parse_date("1985", today=TODAY)


def test_gibberish_is_unreadable() -> None:
    with pytest.raises(UnreadableDate):
        parse_date("不详", today=TODAY)


def test_full_date_refuses_a_month_alone() -> None:
    assert parse_full_date("2020-05-06", today=TODAY) == date(2020, 5, 6)
    with pytest.raises(UnreadableDate, match="month"):
        parse_full_date("2020-05", today=TODAY)
