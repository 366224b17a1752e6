"""Citizen ID numbers (公民身份号码, GB 11643-1999): cleaning, legacy upgrade, validation.

Checks are delegated to ``stdnum.cn.ric``. One rule is ours: a division code (GB/T 2260) that
``stdnum``'s table does not know, or did not know for the birth year, is only a *warning*. The
code is assigned where the card was first issued, not at birth, and division codes are created
and retired every year, so a number whose check digit holds is far more likely right than
mistyped (ISO 7064 MOD 11-2 catches every single-digit error and every adjacent swap). An
unknown *province* (first two digits) still makes the number invalid.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Literal

from stdnum import numdb
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from core.privacy import keyed_hash as _keyed_hash
from core.privacy import mask_id_number
from core.standardise._text import fold_width
from core.standardise.errors import InvalidIdNumber

__all__ = [
    "IdNumberCheck",
    "check_id_number",
    "clean_id_number",
    "keyed_hash",
    "looks_like_foreigner_permit",
    "mask_id_number",
    "upgrade_legacy_id_number",
    "validate_id_number",
]

_SEPARATORS = re.compile(r"[\s\-_.·/]")
# Residence permits for Hong Kong, Macao and Taiwan residents (港澳台居民居住证) use these
# division codes; stdnum's table lacks 830000.
_PERMIT_DIVISIONS = {"810000", "820000", "830000"}
_EARLIEST_BIRTH = date(1890, 1, 1)


@dataclass(frozen=True)
class IdNumberCheck:
    """What one ID number turned out to be.

    ``id_number`` is the valid 18-digit number, or ``None``; then ``cleaned`` is the invalid
    string kept as evidence and ``reason`` says why. ``warnings`` hold doubts that did not
    invalidate the number (an unknown division code).
    """

    cleaned: str
    id_number: str | None
    reason: str | None = None
    warnings: tuple[str, ...] = ()
    upgraded_from_15_digits: bool = False
    birth_date: date | None = None
    sex: Literal["male", "female"] | None = None

    @property
    def valid(self) -> bool:
        return self.id_number is not None

    @property
    def masked(self) -> str:
        return mask_id_number(self.cleaned)


def clean_id_number(raw: str) -> str:
    """Full-width digits to ASCII, separators and spaces removed, ``x`` to ``X``.

    A leading apostrophe (Excel's "keep as text" mark) is dropped too.

    >>> clean_id_number(" １１０１０５ 1985-0307-002x ")
    '11010519850307002X'
    """
    text = fold_width(raw).lstrip("'‘’`")
    return _SEPARATORS.sub("", text).upper()


def upgrade_legacy_id_number(number15: str) -> str:
    """A legacy 15-digit number in its 18-digit form: "19" after the division code, new check digit.

    >>> upgrade_legacy_id_number("110105850307002")
    '110105198503070027'
    """
    cleaned = clean_id_number(number15)
    if len(cleaned) != 15 or not cleaned.isdigit():
        raise InvalidIdNumber(cleaned, "a legacy ID number has 15 digits")
    body = cleaned[:6] + "19" + cleaned[6:]
    # calc_check_digit takes the full number and ignores its last character.
    return body + ric.calc_check_digit(body + "0")


@cache
def _province_known(code: str) -> bool:
    if code == "83":
        return True
    return any("province" in props for _, props in numdb.get("cn/loc").info(code))


def _division_warning(number: str) -> str | None:
    return _division_warning_for(number[:6], number[6:10])


@functools.lru_cache(maxsize=16384)
def _division_warning_for(division: str, year: str) -> str | None:
    # stdnum looks the code up by the whole number; only the division and the birth year matter.
    if division in _PERMIT_DIVISIONS:
        return None
    probe = f"{division}{year}0101001"
    probe += ric.calc_check_digit(probe)
    try:
        ric.get_birth_place(probe)
    except ValidationError:
        return f"division code {division} is not in the GB/T 2260 table for the birth year"
    return None


def check_id_number(raw: str, *, today: date | None = None) -> IdNumberCheck:
    """Clean, upgrade (15 → 18 digits) and validate an ID number; never raises for bad input.

    >>> check_id_number("110105850307002").id_number
    '110105198503070027'
    >>> check_id_number("110105198503070020").reason
    'the check digit does not match (a typo?)'
    """
    cleaned = clean_id_number(raw)
    today = today or date.today()
    upgraded = False

    def invalid(reason: str) -> IdNumberCheck:
        return IdNumberCheck(cleaned=cleaned, id_number=None, reason=reason)

    number = cleaned
    if len(number) == 15:
        if not number.isdigit():
            return invalid("a legacy 15-digit ID number has digits only")
        number = upgrade_legacy_id_number(number)
        upgraded = True
    if len(number) != 18:
        return invalid(f"an ID number has 18 digits (or 15 in the legacy form), not {len(number)}")
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        return invalid("an ID number has 17 digits and a final digit or X")
    if not _province_known(number[:2]):
        return invalid(f"{number[:2]} is not a province code")
    try:
        birth = ric.get_birth_date(number)
    except ValidationError:
        return invalid("the birth date inside the number does not exist")
    if birth > today:
        return invalid("the birth date inside the number is in the future")
    if birth < _EARLIEST_BIRTH:
        return invalid("the birth date inside the number is before 1890")
    if number[17] != ric.calc_check_digit(number):
        return invalid("the check digit does not match (a typo?)")
    warning = _division_warning(number)
    return IdNumberCheck(
        cleaned=cleaned,
        id_number=number,
        warnings=(warning,) if warning else (),
        upgraded_from_15_digits=upgraded,
        birth_date=birth,
        sex="male" if int(number[16]) % 2 else "female",
    )


def validate_id_number(raw: str, *, today: date | None = None) -> str:
    """The valid 18-digit form of ``raw``, or :class:`InvalidIdNumber` (with the number masked)."""
    result = check_id_number(raw, today=today)
    if result.id_number is None:
        raise InvalidIdNumber(result.cleaned, result.reason or "invalid")
    return result.id_number


def looks_like_foreigner_permit(raw: str) -> bool:
    """Whether an 18-digit number is a new foreigner's permanent residence ID (外国人永久居留身份证).

    Since 2023 these start with 9 and share the citizen ID's check digit; they are not
    citizen ID numbers and belong in ``other_ids``.
    """
    number = clean_id_number(raw)
    return (
        len(number) == 18
        and number.startswith("9")
        and number[:17].isdigit()
        and number[17] == ric.calc_check_digit(number)
    )


def keyed_hash(id_number: str, key: bytes | str) -> str:
    """HMAC-SHA256 (hex) of a standardised ID number: a Kafka key or log token that is no ID number.

    The number is cleaned (and a legacy one upgraded) first, so every spelling of one number
    gives one hash.

    >>> len(keyed_hash("110105198503070027", b"secret"))
    64
    """
    number = clean_id_number(id_number)
    if len(number) == 15 and number.isdigit():
        number = upgrade_legacy_id_number(number)
    return _keyed_hash(number.encode("ascii", "replace"), key)
