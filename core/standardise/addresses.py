"""Chinese addresses (地址) parsed into :class:`schemas.resident.Address` fields, and their identity.

An address is read in two passes. First the division prefix, each level optional, largest
first: province 省 / city 市 / district 区 县 / sub-district 街道 镇 乡 / community 社区 居委会
(or a village committee, written 村民委员会 / 村委会). Then the locality, as a run of tokens:
names (Han text) and numbers with their markers — door number 号 (附号 "19号之一", "19-1号",
"19号附1"), building 栋 幢 号楼 座, unit 单元, floor 层 楼, room 室 — and the housing department's
short forms "12-3-2-301" (number-building-unit-room) and "3-2-301" (building-unit-room).

A name is a road or a compound by what follows it, not by a word list: a name before a door
number ("中和村12号", "标营41号", "钞库街35号") is a road, a name before a building or a flat
("瑞金北村3栋2单元301", "光华园3-2-301") is a compound. A name ending in 村, 园 or 苑 is never a
community unless the text says 村民委员会/村委会: "中和村社区" is the community "中和村社区",
"五老村街道" a sub-district. Communities keep the suffix 社区 ("秦虹社区居民委员会" → "秦虹社区");
building, unit and room are plain numbers ("三幢", "3栋", "3号楼" → "3").

No address library is used: cpca and jionlp stop at the district level (no 街道, 社区, 小区, 幢)
and pull in pandas/jieba and multi-megabyte dictionaries, and the core stays stdlib-only.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from core.standardise._text import CN_NUMERAL_CHARS, arabic, fold_width, to_simplified
from schemas.resident import Address

__all__ = ["address_identity", "parse_address"]

_HAN = "\u4e00-\u9fff"
_CN = f"[{CN_NUMERAL_CHARS}]+"
_NUM = rf"(?:\d+|{_CN})"
_ROOMISH = r"[A-Za-z]?\d+[A-Za-z]?"


def _name(excluded: str, low: int, high: int) -> str:
    """A lazy run of Han characters other than ``excluded`` (the words of other levels)."""
    return rf"(?:(?![{excluded}])[{_HAN}]){{{low},{high}}}?"


# --- pass 1: the division prefix -------------------------------------------------------------

_COUNTRY = re.compile("中华人民共和国|中国(?=[" + _HAN + "]{1,7}(?:省|自治区|市))")
_PROVINCE = re.compile(_name("省市区县路街号", 2, 8) + "(?:省|自治区|特别行政区)")
# The municipalities and Jiangsu's cities without 市 only when a district follows ("北京朝阳区",
# "南京秦淮区"), never in "北京西路" or "上海路".
_MUNICIPALITY = re.compile(
    "(?P<v>北京|上海|天津|重庆|南京|无锡|徐州|常州|苏州|南通|连云港|淮安|盐城|扬州|镇江|泰州|宿迁)"
    rf"(?:市|(?=(?:(?![路街巷社小])[{_HAN}]){{1,4}}[区县]))"
)
_CITY = re.compile(_name("省市区县路街巷号道", 1, 8) + "(?:市|自治州|地区|盟)(?![场民政辖])")
_DISTRICT_SUFFIX = "(?<![小社校片厂景园苑庭])(?:区|县|旗|市(?![场民政辖]))"
_DISTRICT_EXCLUDED = "省市区县路街巷号道栋幢室苑园庭邸馆期"
# After a city any district name; at the very start only a short one, so that a compound's
# "华庭东区" or "瑞金雅苑西区" is not taken for a district.
_DISTRICT_AFTER_CITY = re.compile(_name(_DISTRICT_EXCLUDED, 1, 8) + _DISTRICT_SUFFIX)
_DISTRICT_ALONE = re.compile(_name(_DISTRICT_EXCLUDED, 1, 4) + _DISTRICT_SUFFIX)
_SUBDISTRICT = re.compile(
    "(?P<v>" + _name("省市区县号栋幢室", 1, 10) + ")(?P<s>街道办事处|街道|(?:镇|乡)(?![路街巷道镇乡]))"
)
_COMMUNITY = re.compile(
    "(?P<v>" + _name("省市区县号栋幢室", 1, 10) + ")"
    "(?P<s>社区居民委员会|社区居委会|社区|村民委员会|村委会|居民委员会|居委会)"
)

# --- pass 2: the locality --------------------------------------------------------------------

_ROAD_SUFFIX = re.compile("(?:大道|大街|路|街|巷|弄|胡同)$")
# A compound name that is a compound even before a door number ("阳光花园12号" is not a road).
_STRONG_COMPOUND = re.compile("(?:小区|花园|家园|公寓|大厦|山庄|广场|新寓|大院|宿舍)$")
# Endings of compound names (when nothing after the name says which it is).
_COMPOUND_END = re.compile(
    "(?:小区|花园|家园|公寓|大厦|山庄|广场|新寓|新村|村|园|苑|里|院|城|府|庭|湾|邸|馆|寓|居|坊|期|区)$"
)
# Bare compound words: "钞库街小区" is one compound, not the road 钞库街 and a compound "小区".
_BARE_COMPOUND = re.compile(
    "(?:小区|花园|家园|公寓|大厦|山庄|广场|新寓|新村|新城|华庭|名邸|公馆|[雅嘉锦御]?[苑园]|[东西南北中]?[苑园村区]|"
    "[一二三四五六七八九十]村|" + _NUM + "期)+"
)
_ROAD_THEN_REST = re.compile("(?P<road>.+?(?:大道|大街|路|街|巷|弄|胡同))(?P<rest>.+)")

_TOKENS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("short4", re.compile(r"(?P<a>\d+)-(?P<b>\d+)-(?P<c>\d+)-(?P<d>[A-Za-z]?\d+[A-Za-z]?)(?:室|房|号(?!楼))?")),
    ("short3", re.compile(r"(?P<a>\d+)-(?P<b>\d+)-(?P<c>[A-Za-z]?\d+[A-Za-z]?)(?:室|房|号(?!楼))?")),
    ("number", re.compile(r"(?P<n>\d+)-(?P<s>\d+)号(?!楼)")),  # 19-1号: door 19, 附号 1
    ("short2", re.compile(r"(?P<a>\d+)-(?P<b>[A-Za-z]?\d+[A-Za-z]?)(?:室|房)?")),
    ("building", re.compile(rf"(?P<v>{_ROOMISH}|{_NUM}|[A-Za-z])(?:号楼|栋|幢|座|#楼?)")),
    ("number", re.compile(rf"(?P<n>\d+|{_CN})号(?:院)?(?:之(?P<s>{_NUM})|附(?P<f>{_NUM})号?)?")),
    ("suffix", re.compile(rf"附(?:(?P<s>\d+)号?|(?P<c>{_CN})号)")),  # not the 附一 of "附一医院"
    ("unit", re.compile(rf"(?P<v>{_NUM}|[A-Za-z])单元")),
    ("floor", re.compile(rf"(?P<v>\d+|{_CN})(?:层|楼)")),
    ("room", re.compile(rf"(?P<v>{_ROOMISH})(?:室|房间|房|户)")),
    ("bare", re.compile(rf"(?P<v>{_ROOMISH})")),
)
# A phase (一期) or a village group (3组) belongs to the name it follows.
_PHASE = re.compile(rf"{_NUM}(?:期|组|队)")
_NAME_CHAR = re.compile(rf"[{_HAN}A-Za-z]")
_DASHES = re.compile(r"[–—―~～﹣_]")


@dataclass
class _Token:
    kind: str
    values: dict[str, str] = field(default_factory=dict)


def _tokens(text: str) -> list[_Token]:
    """The locality as names and marked numbers; punctuation only separates."""
    tokens: list[_Token] = []
    name: list[str] = []

    def flush() -> None:
        if name:
            tokens.append(_Token("name", {"v": "".join(name)}))
            name.clear()

    pos = 0
    while pos < len(text):
        if (phase := _PHASE.match(text, pos)) and (name or not phase.group(0).endswith("期")):
            name.append(phase.group(0))
            pos = phase.end()
            continue
        for kind, pattern in _TOKENS:
            match = pattern.match(text, pos)
            if match is None:
                continue
            if kind == "bare" and name and text[pos].isalpha():
                continue  # a letter inside a name ("B区"), not a room
            flush()
            tokens.append(_Token(kind, {k: v for k, v in match.groupdict().items() if v is not None}))
            pos = match.end()
            break
        else:
            if _NAME_CHAR.match(text, pos):
                name.append(text[pos])
            else:
                flush()
            pos += 1
    flush()
    return tokens


def _split_name(text: str, road: str | None) -> tuple[str | None, str | None]:
    """A road and a compound written together ("王府大街王府园小区"), else ``(None, None)``.

    A compound named after its road ("钞库街小区", "宏运大道新城五期", or any name that opens
    with the road already read) is one name.
    """
    match = _ROAD_THEN_REST.fullmatch(text)
    if match is None or (road is not None and text.startswith(road)):
        return None, None
    rest = match["rest"]
    if _BARE_COMPOUND.fullmatch(rest) or not _COMPOUND_END.search(rest) or len(rest) < 2:
        return None, None
    return match["road"], rest


class _Locality:
    def __init__(self) -> None:
        self.found: dict[str, str] = {}

    def put(self, name: str, value: str | None) -> None:
        if value is not None and name not in self.found:
            self.found[name] = value

    def has(self, *names: str) -> bool:
        return any(n in self.found for n in names)

    def read(self, tokens: list[_Token]) -> dict[str, str]:
        for index, token in enumerate(tokens):
            after = tokens[index + 1].kind if index + 1 < len(tokens) else None
            getattr(self, f"_{token.kind}")(token.values, after)
        return self.found

    def _name(self, v: dict[str, str], after: str | None) -> None:
        text = v["v"]
        road, compound = _split_name(text, self.found.get("road"))
        if road is not None:
            self.put("road", road)
            self.put("compound", compound)
            return
        if after in ("number", "short4") or (after in ("bare", "short2") and _ROAD_SUFFIX.search(text)):
            kind = "compound" if _STRONG_COMPOUND.search(text) else "road"
        elif after in ("short3", "short2", "building", "unit", "floor", "room", "bare"):
            kind = "road" if _ROAD_SUFFIX.search(text) and not self.has("road") else "compound"
        else:
            kind = "road" if _ROAD_SUFFIX.search(text) or not _COMPOUND_END.search(text) else "compound"
        if kind == "road" and self.has("road") and not self.has("compound"):
            kind = "compound"
        self.put(kind, text)

    def _number(self, v: dict[str, str], after: str | None) -> None:
        if self.has("number", "building", "unit", "room"):
            if self.has("building", "unit") and not self.has("room"):
                self.put("room", arabic(v["n"]))  # "3幢201号": a room
            return
        self.put("number", arabic(v["n"]))
        suffix = v.get("s") or v.get("f")
        self.put("number_suffix", arabic(suffix) if suffix else None)

    def _suffix(self, v: dict[str, str], after: str | None) -> None:
        value = arabic(v.get("s") or v["c"])
        if self.has("number"):
            self.put("number_suffix", value)
        elif not self.has("building", "unit", "room"):
            self.put("number", value)  # "附19号": an annex door number, kept apart from 19号
            self.put("number_suffix", "附")

    def _short4(self, v: dict[str, str], after: str | None) -> None:
        self.put("number", arabic(v["a"]))
        self._flat(v["b"], v["c"], v["d"])

    def _short3(self, v: dict[str, str], after: str | None) -> None:
        self._flat(v["a"], v["b"], v["c"])

    def _short2(self, v: dict[str, str], after: str | None) -> None:
        if self.has("road") and not self.has("number", "compound", "building"):
            self.put("number", arabic(v["a"]))  # "中山路12-301": door 12, room 301
        else:
            self.put("building", arabic(v["a"]))
        self.put("room", arabic(v["b"]))

    def _flat(self, building: str, unit: str, room: str) -> None:
        self.put("building", arabic(building))
        self.put("unit", arabic(unit))
        self.put("room", arabic(room))

    def _building(self, v: dict[str, str], after: str | None) -> None:
        self.put("building", arabic(v["v"]))

    def _unit(self, v: dict[str, str], after: str | None) -> None:
        self.put("unit", arabic(v["v"]))

    def _floor(self, v: dict[str, str], after: str | None) -> None:
        self.put("floor", arabic(v["v"]))

    def _room(self, v: dict[str, str], after: str | None) -> None:
        self.put("room", arabic(v["v"]))

    def _bare(self, v: dict[str, str], after: str | None) -> None:
        if self.has("road") and not self.has("number", "compound", "building", "unit", "floor"):
            self.put("number", arabic(v["v"]))  # "中山路12": a door number without 号
        else:
            self.put("room", arabic(v["v"]))


def _divisions(text: str) -> tuple[dict[str, str], int]:
    """The division prefix of ``text``: the fields found and where the locality starts."""
    found: dict[str, str] = {}
    pos = 0

    def take(pattern: re.Pattern[str]) -> re.Match[str] | None:
        nonlocal pos
        match = pattern.match(text, pos)
        if match is not None:
            pos = match.end()
        return match

    take(_COUNTRY)
    if match := take(_PROVINCE):
        found["province"] = match.group(0)
    if match := take(_MUNICIPALITY):
        found["city"] = match["v"] + "市"
    elif match := take(_CITY):
        found["city"] = match.group(0)
    if match := take(_DISTRICT_AFTER_CITY if found else _DISTRICT_ALONE):
        found["district"] = match.group(0)
    if match := take(_SUBDISTRICT):
        found["subdistrict"] = match["v"] + ("街道" if match["s"].startswith("街道") else match["s"])
    if match := take(_COMMUNITY):
        stem, suffix = match["v"], match["s"]
        if suffix.startswith("村"):
            found["community"] = stem if stem.endswith("村") else stem + "村"
        else:
            found["community"] = stem + "社区"
    return found, pos


def _normalise(raw: str) -> str:
    text = "".join(to_simplified(fold_width(raw)).split())
    return _DASHES.sub("-", text)


_STORED = frozenset(Address.model_fields) - {"raw"}


@functools.lru_cache(maxsize=65536)
def parse_address(raw: str) -> Address:
    """Parse a free-text address; parts it does not recognise are simply not filled.

    >>> a = parse_address("南京市鼓楼区湖南路街道中山路12-3-2-301")
    >>> (a.city, a.district, a.subdistrict, a.road, a.number, a.building, a.unit, a.room)
    ('南京市', '鼓楼区', '湖南路街道', '中山路', '12', '3', '2', '301')
    >>> parse_address("阳光花园三幢2单元301室").building
    '3'
    >>> a = parse_address("光华路街道中和村社区中和村12号")
    >>> (a.community, a.road, a.number)
    ('中和村社区', '中和村', '12')
    """
    text = _normalise(raw)
    found, pos = _divisions(text)
    found.update(_Locality().read(_tokens(text[pos:])))
    return Address(raw=raw, **{k: v for k, v in found.items() if k in _STORED})


# --- identity --------------------------------------------------------------------------------

_MARKERS = re.compile(r"(?:号楼|单元|室|房间|房|栋|幢|座|号|层|楼|#)$")


def _part(value: str | None) -> str:
    if not value:
        return ""
    text = _MARKERS.sub("", _normalise(value))
    return arabic(text)


@functools.lru_cache(maxsize=1 << 16)  # survivorship asks again for the same addresses at every fold
def address_identity(address: Address) -> str:
    """A key meaning "the same dwelling": equal for two spellings of one flat or house.

    It leaves out the division prefix (省 市 区 街道 社区), and the road and door number when a
    compound is named beside them; it reads 栋/幢/号楼 alike, full- and half-width digits alike,
    and a room with or without 室. An address with no locality falls back to its divisions, and
    one that parsed to nothing to its raw text.

    >>> address_identity(parse_address("江苏省南京市秦淮区秦虹街道秦虹社区秦虹路12号秦虹小区3幢2单元301室"))
    'c:秦虹小区|3|2|301'
    >>> address_identity(parse_address("秦虹小区３栋2单元301"))
    'c:秦虹小区|3|2|301'
    """
    compound = _normalise(address.compound or "")
    if compound:
        place = f"c:{compound}"
    else:
        road, number = _normalise(address.road or ""), _part(address.number)
        suffix = _part(address.number_suffix)
        place = f"r:{road}#{number}" + (f"-{suffix}" if suffix else "") if road or number else ""
    flat = [_part(address.building), _part(address.unit), _part(address.room)]
    if not address.room and address.floor:
        flat.append(f"f{_part(address.floor)}")
    if place or any(flat):
        return "|".join([place, *flat]).rstrip("|")
    divisions = [_normalise(getattr(address, name) or "") for name in ("city", "district", "subdistrict", "community")]
    if any(divisions):
        return "d:" + "|".join(divisions)
    return "raw:" + _normalise(address.raw)
