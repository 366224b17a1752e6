"""Dates as departments write them: ISO, 19850307, 1985/3/7, 1985.3.7, 1985年3月7日, Excel serials,
and birth months only (198503, 1985-03, 1985年3月).

Only year-first forms are read: "07/03/1985" could be March or July, so it is refused rather
than guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from core.standardise._text import cn_numeral_to_int, fold_width
from core.standardise.errors import ImplausibleDate, UnreadableDate

__all__ = ["EARLIEST", "YearMonth", "excel_serial_to_date", "parse_date", "parse_full_date"]

EARLIEST = date(1890, 1, 1)  # no living resident, and no plausible record, is older

_TIME_TAIL = re.compile(r"(?:[T ]|\s+)\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$")
_CN_DATE = re.compile(
    r"^(?P<y>[〇零一二三四五六七八九]{4})年(?P<m>[一二三四五六七八九十]{1,2})月"
    r"(?:(?P<d>[一二三四五六七八九十]{1,3})[日号])?$"
)
_YMD = re.compile(r"^(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*[日号]?$")
_YM = re.compile(r"^(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*月?$")
_COMPACT_YMD = re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$")
_COMPACT_YM = re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})$")
_SERIAL = re.compile(r"^\d{1,5}(?:\.\d+)?$")
_DAY_FIRST = re.compile(r"^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$")


@dataclass(frozen=True, order=True)
class YearMonth:
    """A month without a day, e.g. a birth month from social security (出生年月).

    >>> str(YearMonth(1985, 3))
    '1985-03'
    """

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"no month {self.month}")

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def contains(self, day: date) -> bool:
        return (day.year, day.month) == (self.year, self.month)

    @classmethod
    def parse(cls, text: str) -> YearMonth:
        """``YearMonth.parse("1985-03")``: the inverse of ``str``."""
        year, month = text.split("-")
        return cls(int(year), int(month))


def excel_serial_to_date(serial: float) -> date:
    """An Excel serial day number (1900 date system) as a date.

    Excel counts 1900-02-29, a day that never was (serial 60), so serials after it are one
    day ahead of a plain count from 1899-12-31.

    >>> excel_serial_to_date(31113)
    datetime.date(1985, 3, 7)
    """
    whole = int(serial)
    if whole < 1:
        raise UnreadableDate(serial, "Excel serial numbers start at 1")
    if whole == 60:
        raise UnreadableDate(serial, "Excel serial 60 is 1900-02-29, a day that did not exist")
    if whole < 60:
        return date(1899, 12, 31) + timedelta(days=whole)
    return date(1899, 12, 30) + timedelta(days=whole)


def _day(value: object, year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise UnreadableDate(value, f"there is no day {year:04d}-{month:02d}-{day:02d}") from None


def _month(value: object, year: int, month: int) -> YearMonth:
    if not 1 <= month <= 12:
        raise UnreadableDate(value, f"there is no month {month}")
    return YearMonth(year, month)


def _read(value: object, today: date) -> date | YearMonth:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        raise UnreadableDate(value)
    if isinstance(value, float) and not value.is_integer():
        return excel_serial_to_date(value)
    text = fold_width(str(int(value) if isinstance(value, float) else value))
    text = _TIME_TAIL.sub("", text).strip()
    if not text:
        raise UnreadableDate(value, "it is blank")

    if match := _CN_DATE.match(text):
        year = cn_numeral_to_int(match["y"])
        month = cn_numeral_to_int(match["m"])
        day = cn_numeral_to_int(match["d"]) if match["d"] else None
        if year is None or month is None:
            raise UnreadableDate(value)
        return _month(value, year, month) if day is None else _day(value, year, month, day)
    for pattern in (_YMD, _COMPACT_YMD):
        if match := pattern.match(text):
            return _day(value, int(match["y"]), int(match["m"]), int(match["d"]))
    for pattern in (_YM, _COMPACT_YM):
        if match := pattern.match(text):
            return _month(value, int(match["y"]), int(match["m"]))
    if _SERIAL.match(text):
        number = float(text)
        if len(text) == 4 and EARLIEST.year <= number <= today.year:
            raise UnreadableDate(value, "it is a year only")
        return excel_serial_to_date(number)
    if _DAY_FIRST.match(text):
        raise UnreadableDate(value, "the year must come first; day/month order is ambiguous")
    raise UnreadableDate(value)


def parse_date(
    value: object, *, today: date | None = None, earliest: date = EARLIEST
) -> date | YearMonth:
    """A date, or a :class:`YearMonth` when only the month is given.

    Raises :class:`UnreadableDate` for unknown forms and :class:`ImplausibleDate` for dates in
    the future or before ``earliest`` (1890).

    >>> parse_date("1985年3月7日"), parse_date("198503")
    (datetime.date(1985, 3, 7), YearMonth(year=1985, month=3))
    """
    today = today or date.today()
    result = _read(value, today)
    first_day = date(result.year, result.month, 1) if isinstance(result, YearMonth) else result
    if first_day > today:
        raise ImplausibleDate(value, f"{result} is in the future")
    last_possible = date(result.year, 12, 31) if isinstance(result, YearMonth) else result
    if last_possible < earliest:
        raise ImplausibleDate(value, f"{result} is before {earliest.year}")
    return result


def parse_full_date(value: object, *, today: date | None = None, earliest: date = EARLIEST) -> date:
    """Like :func:`parse_date` but a month alone is :class:`UnreadableDate` (e.g. a date of death)."""
    result = parse_date(value, today=today, earliest=earliest)
    if isinstance(result, YearMonth):
        raise UnreadableDate(value, "it names a month, not a day")
    return result
