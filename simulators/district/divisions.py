"""Birthplace division codes (GB/T 2260) for ID numbers, drawn from real county-level codes.

The list of codes and the years each was in use come from python-stdnum's own table
(``stdnum/cn/loc.dat``), the same one ``stdnum.cn.ric`` validates against: a code is only drawn
for a birth year in which it existed, so every generated number passes that check. (This is why
Nanjing natives born before 1983 carry 320120 南京市市区: 320104 秦淮区 only dates from 1983.)

Draws are weighted by *pools*: natives of Nanjing, the rest of Jiangsu, the provinces that send
most migrants to Nanjing (Anhui, northern Jiangsu, Henan ...), and the home regions of ethnic
minorities (Xinjiang for Uyghurs, Tibet, Yanbian ...).
"""

from __future__ import annotations

import random
import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Final, Literal

__all__ = ["BirthplaceTable", "Division", "Pool", "MIGRANT_POOLS", "REGISTERED_POOLS", "ETHNIC_POOLS"]

Pool = Literal[
    "nanjing", "jiangsu", "north_jiangsu", "anhui", "henan", "shandong", "jiangxi", "hubei",
    "sichuan", "zhejiang", "xinjiang", "tibet", "ningxia", "inner_mongolia", "guangxi",
    "yanbian", "southwest", "yunnan", "northeast", "china",
]  # fmt: skip

_POOL_PREFIXES: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    # pool: (prefixes included, prefixes excluded)
    "nanjing": (("3201",), ()),
    "jiangsu": (("32",), ("3201",)),
    "north_jiangsu": (("3203", "3207", "3208", "3209", "3213"), ()),
    "anhui": (("34",), ()),
    "henan": (("41",), ()),
    "shandong": (("37",), ()),
    "jiangxi": (("36",), ()),
    "hubei": (("42",), ()),
    "sichuan": (("51", "50"), ()),
    "zhejiang": (("33",), ()),
    "xinjiang": (("65",), ()),
    "tibet": (("54",), ()),
    "ningxia": (("64",), ()),
    "inner_mongolia": (("15",), ()),
    "guangxi": (("45",), ()),
    "yanbian": (("2224",), ()),
    "southwest": (("52", "43"), ()),
    "yunnan": (("53",), ()),
    "northeast": (("21", "13", "22", "23"), ()),
    "china": (("1", "2", "3", "4", "5", "6"), ()),
}

# Codes drawn far more often than their neighbours: the old city districts of Nanjing (秦淮 and
# 白下, merged into 秦淮 in 2013), and 320120 南京市市区 for births before 1983.
_BOOSTS: Final[dict[str, float]] = {
    "320104": 40.0, "320103": 25.0, "320120": 70.0, "320102": 6.0, "320106": 6.0,
    "320105": 4.0, "320107": 3.0, "320114": 3.0, "320113": 2.0,
}  # fmt: skip

REGISTERED_POOLS: Final = MappingProxyType({"nanjing": 0.78, "jiangsu": 0.1, "anhui": 0.05, "china": 0.07})
"""Where people with a Nanjing hukou were born."""

MIGRANT_POOLS: Final = MappingProxyType(
    {
        "anhui": 0.3, "north_jiangsu": 0.22, "jiangsu": 0.05, "henan": 0.1, "shandong": 0.05,
        "jiangxi": 0.05, "hubei": 0.04, "sichuan": 0.05, "zhejiang": 0.02, "china": 0.12,
    }
)  # fmt: skip
"""Where migrants (流动人口) living in Nanjing come from."""

ETHNIC_POOLS: Final = MappingProxyType(
    {
        "02": "inner_mongolia", "04": "tibet", "05": "xinjiang", "17": "xinjiang", "06": "southwest",
        "15": "southwest", "09": "southwest", "12": "southwest", "07": "yunnan", "08": "guangxi",
        "10": "yanbian", "11": "northeast", "03": "ningxia",
    }
)  # fmt: skip
"""Home region of a minority household that did not come from Nanjing itself."""

_RANGED = re.compile(r"^\[(\d*)-(\d*)\](.+)$")
_NOT_A_COUNTY = frozenset({"市辖区", "市区", "县", "郊区", "矿区", "省直辖县级行政单位", "省直辖县级行政区划"})


@dataclass(frozen=True, slots=True)
class Division:
    """One GB/T 2260 code with the years it was in use, and its names."""

    code: str
    province: str
    city: str
    spans: tuple[tuple[int, int, str], ...]
    """(first year, last year, county name); open ends are 0 and 9999."""

    def valid_in(self, year: int) -> bool:
        return any(start <= year <= end for start, end, _ in self.spans)

    @property
    def county(self) -> str:
        """The most recent name."""
        return self.spans[-1][2]

    @property
    def is_county(self) -> bool:
        return not self.code.endswith("00") and self.county not in _NOT_A_COUNTY


def _spans(value: str) -> tuple[tuple[int, int, str], ...]:
    spans = []
    for part in value.split(","):
        match = _RANGED.match(part)
        if match is None:
            spans.append((0, 9999, part))
        else:
            spans.append((int(match[1] or 0), int(match[2] or 9999), match[3]))
    return tuple(spans)


@cache
def _divisions() -> tuple[Division, ...]:
    """Every six-digit code in stdnum's table (read once: it is static package data)."""
    text = resources.files("stdnum.cn").joinpath("loc.dat").read_text(encoding="utf-8")
    divisions: list[Division] = []
    province = ""
    prefix = ""
    cities: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, _, rest = line.strip().partition(" ")
        value = rest.split("=", 1)[1].strip('"')
        if not line.startswith(" "):
            prefix, province = key, value
            continue
        code = prefix + key
        spans = _spans(value)
        if code.endswith("00"):
            cities[code[:4]] = spans[-1][2]
        municipality = prefix in {"11", "12", "31", "50"}
        city = province if municipality else cities.get(code[:4], province)
        divisions.append(Division(code=code, province=province, city=city, spans=spans))
    return tuple(divisions)


@cache
def _pool_members(pool: str) -> tuple[tuple[Division, float], ...]:
    """The divisions a pool may draw, with their weights (any year)."""
    included, excluded = _POOL_PREFIXES[pool]
    out = []
    for division in _divisions():
        code = division.code
        if not code.startswith(included) or (excluded and code.startswith(excluded)):
            continue
        boost = _BOOSTS.get(code)
        if boost is None and not division.is_county:
            continue
        out.append((division, boost or 1.0))
    return tuple(out)


@cache
def _candidates(pool: str, year: int) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """Codes of ``pool`` in use in ``year`` with cumulative weights (a pure function of static data)."""
    codes: list[str] = []
    cumulative: list[float] = []
    total = 0.0
    for division, weight in _pool_members(pool):
        if division.valid_in(year):
            total += weight
            codes.append(division.code)
            cumulative.append(total)
    if not codes:
        if pool == "china":
            raise LookupError(f"no division code in use in {year}")
        return _candidates("china", year)
    return tuple(codes), tuple(cumulative)


class BirthplaceTable:
    """Draws a division code valid in a birth year from a pool, and looks codes up."""

    __slots__ = ("_by_code",)

    def __init__(self) -> None:
        self._by_code = {d.code: d for d in _divisions()}

    def division(self, code: str) -> Division:
        return self._by_code[code]

    def draw(self, rng: random.Random, pool: str, year: int) -> str:
        """A county-level code of ``pool`` that existed in ``year``."""
        codes, cumulative = _candidates(pool, year)
        return codes[bisect_right(cumulative, rng.random() * cumulative[-1])]

    def valid(self, code: str, year: int) -> bool:
        division = self._by_code.get(code)
        return division is not None and division.valid_in(year)
