"""Chinese addresses (地址) parsed into :class:`schemas.resident.Address` fields.

Reads left to right, from the largest division to the room: city 市 / district 区 县 /
sub-district 街道 镇 / community 社区 村 / road 路 街 巷 / number 号 / compound 小区 花园 苑 新村 /
building 栋 幢 号楼 / unit 单元 / room 室 房. Any level may be missing ("3栋2单元301" is fine).
The housing department's short form "12-3-2-301" is number-building-unit-room; with three parts
it is building-unit-room. Building, unit and room are stored as plain numbers ("3栋", "3幢",
"三号楼" → "3"), so that two departments' spellings of one flat give one dwelling key.
"""

from __future__ import annotations

import functools

import re
from collections.abc import Callable
from dataclasses import dataclass

from schemas.resident import Address

from core.standardise._text import CN_NUMERAL_CHARS, arabic, fold_width, to_simplified

__all__ = ["parse_address"]

_HAN = "\u4e00-\u9fff"


def _name(excluded: str, low: int, high: int) -> str:
    """A lazy run of Han characters other than ``excluded`` (the words of other levels)."""
    return rf"(?:(?![{excluded}])[{_HAN}]){{{low},{high}}}?"


_NUM = rf"(?:\d+|[{CN_NUMERAL_CHARS}]+)"
_ROOMISH = r"[A-Za-z]?\d+[A-Za-z]?"


@dataclass(frozen=True)
class _Level:
    fields: tuple[str, ...]
    pattern: re.Pattern[str]
    value: Callable[[re.Match[str]], tuple[str | None, ...]]


def _whole(match: re.Match[str]) -> tuple[str | None, ...]:
    return (match.group(0),)


def _v(match: re.Match[str]) -> tuple[str | None, ...]:
    return (arabic(match["v"]),)


def _strip_suffix(*suffixes: str) -> Callable[[re.Match[str]], tuple[str | None, ...]]:
    def value(match: re.Match[str]) -> tuple[str | None, ...]:
        text = match.group(0)
        for suffix, replacement in (s.split(">") for s in suffixes):
            if text.endswith(suffix):
                return (text[: -len(suffix)] + replacement,)
        return (text,)

    return value


def _compact(match: re.Match[str]) -> tuple[str | None, ...]:
    parts = [str(int(p)) for p in match["v"].split("-")]
    if len(parts) == 4:
        return tuple(parts)
    if len(parts) == 3:
        return (None, *parts)
    return (None, parts[0], None, parts[1])


def _municipality(match: re.Match[str]) -> tuple[str | None, ...]:
    return (match["v"] + "市",)


_LEVELS: tuple[_Level, ...] = (
    _Level(("country",), re.compile("中华人民共和国|中国"), _whole),
    _Level(("province",), re.compile(_name("省市区县路街号", 2, 8) + "(?:省|自治区|特别行政区)"), _whole),
    _Level(("city",), re.compile(r"(?P<v>北京|上海|天津|重庆)市?"), _municipality),
    _Level(
        ("city",),
        re.compile(_name("省市区县路街巷号道", 1, 8) + "(?:市|自治州|盟)(?![场民政辖])"),
        _whole,
    ),
    _Level(
        ("district",),
        re.compile(_name("省市路街巷号道栋幢室苑园", 1, 8) + "(?<![小社校片厂景])(?:区|县|旗|市(?![场民政辖]))"),
        _whole,
    ),
    _Level(
        ("subdistrict",),
        re.compile(_name("省市区县号栋幢室苑", 1, 10) + "(?:街道办事处|街道|镇|乡)"),
        _strip_suffix("街道办事处>街道"),
    ),
    _Level(
        ("community",),
        re.compile(
            _name("省市区县号栋幢室苑", 1, 10)
            + "(?:社区居民委员会|社区居委会|社区|居民委员会|居委会|(?<!新)村民委员会|(?<!新)村委会|(?<!新)村)"
        ),
        _strip_suffix("社区居民委员会>社区", "社区居委会>社区", "村民委员会>村", "村委会>村"),
    ),
    _Level(("road",), re.compile(_name("省市区县号栋幢室苑园", 1, 12) + "(?:大道|大街|路|街|巷|弄|胡同)"), _whole),
    _Level(("number",), re.compile(r"(?P<v>\d+(?:-\d+)?)号院?(?!楼)"), lambda m: (m["v"],)),
    _Level(
        ("compound",),
        re.compile(
            rf"[{_HAN}A-Za-z]{{1,15}}(?:小区|花园|苑|新村|公寓|家园|大厦|山庄|园|院|城|广场|府|庭|湾)"
            rf"(?:{_NUM}期)?"
        ),
        _whole,
    ),
    _Level(
        ("number", "building", "unit", "room"),
        re.compile(r"(?P<v>\d+(?:-\d+){1,3})(?:室|号|房)?(?![\d栋幢单])"),
        _compact,
    ),
    _Level(("building",), re.compile(rf"(?P<v>{_ROOMISH}|{_NUM}|[A-Za-z])(?:栋|幢|号楼|座|#楼?)"), _v),
    _Level(("unit",), re.compile(rf"(?P<v>{_NUM}|[A-Za-z])单元"), _v),
    _Level(("floor",), re.compile(rf"(?P<v>{_NUM})(?:层|楼)(?=\d)"), _v),
    _Level(("room",), re.compile(rf"(?P<v>{_ROOMISH})(?:室|房间|房|号)?"), _v),
)

_DASHES = re.compile(r"[–—―~～﹣]")
_STORED = frozenset(Address.model_fields) - {"raw"}


@functools.lru_cache(maxsize=65536)
def parse_address(raw: str) -> Address:
    """Parse a free-text address; parts it does not recognise are simply not filled.

    >>> a = parse_address("南京市鼓楼区湖南路街道中山路12-3-2-301")
    >>> (a.city, a.district, a.subdistrict, a.road, a.number, a.building, a.unit, a.room)
    ('南京市', '鼓楼区', '湖南路街道', '中山路', '12', '3', '2', '301')
    >>> parse_address("阳光花园三幢2单元301室").building
    '3'
    """
    text = "".join(to_simplified(fold_width(raw)).split())
    text = _DASHES.sub("-", text)
    found: dict[str, str] = {}
    pos, next_level = 0, 0
    while pos < len(text) and next_level < len(_LEVELS):
        for index in range(next_level, len(_LEVELS)):
            level = _LEVELS[index]
            match = level.pattern.match(text, pos)
            if match is None or match.end() == pos:
                continue
            for name, value in zip(level.fields, level.value(match), strict=True):
                if value is not None and name in _STORED and name not in found:
                    found[name] = value
            pos, next_level = match.end(), index + 1
            break
        else:
            pos += 1  # a character no level reads (punctuation, a floor note…): skip it
    return Address(raw=raw, **found)
