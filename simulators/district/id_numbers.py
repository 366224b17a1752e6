"""Citizen ID numbers (公民身份号码, GB 11643-1999): build them, and their legacy 15-digit forms.

Eighteen characters: 6-digit division code (GB/T 2260), birth date YYYYMMDD, a 3-digit sequence
whose parity gives the sex (odd = male), and an ISO 7064 MOD 11-2 check character (10 → "X").
Written by hand here (not via stdnum) because the generator builds hundreds of thousands of
them; the tests prove the two agree.
"""

from __future__ import annotations

from datetime import date
from operator import mul

__all__ = ["check_character", "legacy_to_18", "make_id_number", "to_legacy_15"]

_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK = "10X98765432"


def check_character(body: str) -> str:
    """The MOD 11-2 check character of the first 17 digits.

    >>> check_character("11010519491231002")
    'X'
    """
    if len(body) != 17:
        raise ValueError("an ID number body has 17 digits")
    return _CHECK[sum(map(mul, map(int, body), _WEIGHTS)) % 11]


def make_id_number(division: str, birth_date: date, sequence: int) -> str:
    """An 18-character ID number; ``sequence`` (1-999) must already have the right parity for the sex."""
    body = f"{division}{birth_date:%Y%m%d}{sequence:03d}"
    return body + check_character(body)


def to_legacy_15(id_number: str) -> str:
    """The 15-digit number the same person carried before 1999: no century, no check character.

    Only people born in the 1900s had one.

    >>> to_legacy_15("11010519491231002X")
    '110105491231002'
    """
    if id_number[6:8] != "19":
        raise ValueError("only people born 1900-1999 had a 15-digit ID number")
    return id_number[:6] + id_number[8:17]


def legacy_to_18(legacy: str) -> str:
    """Upgrade a 15-digit number: insert "19" after the division code and add the check character.

    >>> legacy_to_18("110105491231002")
    '11010519491231002X'
    """
    body = legacy[:6] + "19" + legacy[6:]
    return body + check_character(body)
