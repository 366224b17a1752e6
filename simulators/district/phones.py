"""Mobile numbers (valid mainland prefixes) and Nanjing fixed lines (025-xxxxxxxx), never reused.

Unrelated residents must not share a number by accident: the only shared numbers are the
deliberate ones (spouses, a household's fixed line), which are the hard cases. A counter pushed
through an affine bijection gives unique, random-looking subscriber digits without remembering
every number issued.
"""

from __future__ import annotations

import random
from typing import Final

__all__ = ["GENERATOR_RANGE", "MOBILE_PREFIXES", "PhoneBook", "passport_number"]

MOBILE_PREFIXES: Final = (
    # China Mobile
    "134", "135", "136", "137", "138", "139", "147", "150", "151", "152", "157", "158", "159",
    "172", "178", "182", "183", "184", "187", "188", "198",
    # China Unicom
    "130", "131", "132", "145", "155", "156", "166", "175", "176", "185", "186",
    # China Telecom
    "133", "153", "173", "177", "180", "181", "189", "199",
)  # fmt: skip

_MOBILE_SPACE = 10**8
_MOBILE_A = 48_271_537  # coprime with 10**8 (odd, not a multiple of 5)
_LANDLINE_SPACE = 10**7
_LANDLINE_A = 7_919_003
# Nanjing fixed-line numbers are eight digits; most start with 8 or 5.
_LANDLINE_LEADS: Final = ("8", "8", "8", "5", "5", "6", "4")


_OFFSET = 62_817_403
GENERATOR_RANGE = 40_000_000
"""Mobile counters below this belong to the generator; each evolution step gets a range above it."""
_LANDLINE_GENERATOR_RANGE = 5_000_000


class PhoneBook:
    """Issues numbers from its counters on.

    The bijections are fixed (not seeded), so numbers issued from disjoint counter ranges never
    collide: the generator starts at 0, evolution step k in a range of its own above the
    generator's.
    """

    __slots__ = ("_landlines", "_mobiles")

    def __init__(self, mobile_start: int = 0, landline_start: int = 0) -> None:
        self._mobiles = mobile_start
        self._landlines = landline_start

    @classmethod
    def for_step(cls, step: int, part: int = 0) -> PhoneBook:
        """Numbers for evolution step ``step``; ``part`` 0 for number changes, 1 for arrivals."""
        slot = (step % 1000) * 2 + part
        return cls(GENERATOR_RANGE + slot * 25_000, _LANDLINE_GENERATOR_RANGE + slot * 2_500)

    def mobile(self, rng: random.Random) -> str:
        subscriber = (_MOBILE_A * self._mobiles + _OFFSET) % _MOBILE_SPACE
        self._mobiles += 1
        return f"{rng.choice(MOBILE_PREFIXES)}{subscriber:08d}"

    def landline(self, rng: random.Random) -> str:
        subscriber = (_LANDLINE_A * self._landlines + _OFFSET) % _LANDLINE_SPACE
        self._landlines += 1
        return f"025-{rng.choice(_LANDLINE_LEADS)}{subscriber:07d}"


_PASSPORT_FORMATS: Final[dict[str, str]] = {
    # L = letter, D = digit, A = letter or digit
    "USA": "DDDDDDDDD", "GBR": "DDDDDDDDD", "KOR": "LDDDDDDDD", "JPN": "LLDDDDDDD", "VNM": "LDDDDDDD",
    "ESP": "LLLDDDDDD", "MEX": "LDDDDDDDD", "DEU": "LAAAAAAAA", "FRA": "DDLLDDDDD", "RUS": "DDDDDDDDD",
    "IND": "LDDDDDDD", "PAK": "LLDDDDDDD",
}  # fmt: skip
_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_ALNUM = "CFGHJKLMNPRTVWXYZ0123456789"


def passport_number(rng: random.Random, nationality: str) -> str:
    """A passport number in the shape that nationality's passports use (not checksummed)."""
    out = []
    for kind in _PASSPORT_FORMATS[nationality]:
        if kind == "D":
            out.append(rng.choice("0123456789"))
        elif kind == "L":
            out.append(rng.choice(_LETTERS))
        else:
            out.append(rng.choice(_ALNUM))
    if out[0] == "0":
        out[0] = "5"
    return "".join(out)
