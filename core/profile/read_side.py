"""The read side of a profile: its grid (网格) and its search terms (检索词).

Pure: a folded :class:`Profile` in; the projection writes the result beside the profile row, and
replay rebuilds it with it. The search terms are what the query service looks up instead of
scanning documents, as ``(kind, term, weight)``:

- ``phone``: each E.164 number; the surviving phones weigh 1.0, other live records' 0.8.
- ``name``: the surviving name (1.0), other live records' names (0.9), their pinyin with and
  without spaces (0.8): an alias or unspaced pinyin is found without a scan.
- ``address_line``: each address of a live record, normalised (:func:`normalise_address`), both as
  written and rebuilt from its parsed parts ("瞻园路12-3-2-301" → "瞻园路12号3栋2单元301室");
  the surviving residential address weighs 1.0, registered 0.9, property 0.8, the others 0.7.
- ``address``: the character bigrams of those lines. A typed fragment ("瞻园路12号", "秦虹小区3幢")
  is normalised the same way; its bigrams select candidates through the index, and the lines
  confirm that the whole fragment occurs (and rank the hit by the line's weight).

Merged-away profiles have no terms: search finds residents under their surviving profile only.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from core.profile.model import Profile
from core.standardise._text import arabic, fold_width, to_simplified
from schemas.profile_events import record_key
from schemas.resident import Address

TermKind = Literal["phone", "name", "address", "address_line"]
MAX_TERM = 300  # the column's width; longer address lines are cut (their bigrams are all kept)

_DASHES = re.compile(r"[–—―~～﹣]")
_BUILDING = re.compile(r"([0-9]+|[〇零一二两三四五六七八九十百]+)(?:栋|座)")
_UNIT = re.compile(r"([〇零一二两三四五六七八九十百]+)单元")
_ROOM = re.compile(r"([0-9]+)(?:房间|房)")
# The housing department's short forms: number-building-unit-room, building-unit-room.
_SHORT4 = re.compile(r"(?<![0-9-])([0-9]+)-([0-9]+)-([0-9]+)-([0-9]+)(?:室|号)?(?![0-9-])")
_SHORT3 = re.compile(r"(?<![0-9-])([0-9]+)-([0-9]+)-([0-9]+)(?:室|号)?(?![0-9-])")


@dataclass(frozen=True, order=True)
class SearchTerm:
    kind: TermKind
    term: str
    weight: float


def normalise_address(text: str) -> str:
    """An address or a typed fragment in one spelling: half-width, simplified, no blanks, "3幢" /
    "三号楼" → "3栋", "二单元" → "2单元", "301房" → "301室".

    >>> normalise_address("秦虹小区 三幢 二单元"), normalise_address("瞻園路１２号"), normalise_address("幢1单元")
    ('秦虹小区3栋2单元', '瞻园路12号', '栋1单元')
    """
    out = "".join(to_simplified(fold_width(text)).split()).lower()
    # 幢 and 号楼 always name a building, also at the start of a fragment cut off after the number
    out = _DASHES.sub("-", out).replace("幢", "栋").replace("号楼", "栋")
    out = _BUILDING.sub(lambda m: f"{arabic(m[1])}栋", out)
    out = _UNIT.sub(lambda m: f"{arabic(m[1])}单元", out)
    return _ROOM.sub(r"\1室", out)


def expand_short_form(line: str) -> str:
    """The housing short form spelled out with its level words.

    >>> expand_short_form("瞻园路12-3-2-301"), expand_short_form("永乐路29号18-2-102")
    ('瞻园路12号3栋2单元301室', '永乐路29号18栋2单元102室')
    """
    line = _SHORT4.sub(r"\1号\2栋\3单元\4室", line)
    return _SHORT3.sub(r"\1栋\2单元\3室", line)


def rebuilt_address(address: Address) -> str | None:
    """The address from its parsed parts, in the one order and spelling a fragment is typed in."""
    parts = [address.city, address.district, address.subdistrict, address.community, address.road,
             f"{address.number}号" if address.number else None, address.compound,
             f"{address.building}栋" if address.building else None,
             f"{address.unit}单元" if address.unit else None,
             f"{address.room}室" if address.room else None]
    text = "".join(p for p in parts if p)
    return normalise_address(text) if text else None


def bigrams(text: str) -> set[str]:
    """The overlapping character pairs of ``text``.

    >>> sorted(bigrams("瞻园路"))
    ['园路', '瞻园']
    """
    return {text[i:i + 2] for i in range(len(text) - 1)}


# The weight of a surviving address's lines, by field: it also says which field a line is (a line two
# fields share weighs as the stronger one); lines of other records' addresses weigh OTHER_ADDRESS_WEIGHT.
ADDRESS_FIELD_WEIGHTS = {"residential_address": 1.0, "registered_address": 0.9, "property_address": 0.8}
OTHER_ADDRESS_WEIGHT = 0.7


def address_lines(profile: Profile) -> dict[str, float]:
    """Each normalised address line of the profile with its weight (the strongest one wins)."""
    lines: dict[str, float] = {}

    def add(address: Address | None, weight: float) -> None:
        if address is None:
            return
        for line in _lines_of(address):
            if lines.get(line, 0.0) < weight:
                lines[line] = weight

    golden = profile.golden
    for field, weight in ADDRESS_FIELD_WEIGHTS.items():
        value = getattr(golden, field)
        if value is not None:
            add(value.value, weight)
    for linked in profile.live_records.values():
        for address in linked.record.addresses.values():
            add(address, OTHER_ADDRESS_WEIGHT)
    return lines


@functools.lru_cache(maxsize=1 << 16)  # every profile write asks again for the same addresses
def _lines_of(address: Address) -> tuple[str, ...]:
    """An address's lines as written, with its short form spelled out, and rebuilt from its parts."""
    written = normalise_address(address.raw)
    lines = (written, expand_short_form(written), rebuilt_address(address))
    return tuple(dict.fromkeys(line for line in lines if line and len(line) >= 2))


@functools.lru_cache(maxsize=1 << 16)
def _line_bigrams(line: str) -> frozenset[str]:
    return frozenset(bigrams(line))


YES = ("是", "true", "True", "1", "yes", "Y", "y", "独居")  # how departments write "lives alone"


@dataclass(frozen=True)
class LifeColumns:
    """What a community's resident list filters and counts by, copied out of the document so a
    worker's home page reads narrow columns of her community's rows instead of every document."""

    deceased_on: date | None
    moved_out_on: date | None
    says_alone: bool  # a record says the resident lives alone (独居)
    assistance: bool  # 享受救助 on record (a sensitive filter)
    disability: bool  # 残疾 on record (a sensitive filter)

    def as_row(self) -> dict[str, object]:
        return {"deceased_on": self.deceased_on, "moved_out_on": self.moved_out_on, "says_alone": self.says_alone,
                "assistance": self.assistance, "disability": self.disability}


def life_columns(profile: Profile) -> LifeColumns:
    golden = profile.golden
    alone = golden.attributes.get("living_alone")
    return LifeColumns(
        deceased_on=golden.deceased_on.value if golden.deceased_on else None,
        moved_out_on=golden.moved_out_on.value if golden.moved_out_on else None,
        says_alone=alone is not None and alone.value in YES,
        assistance="assistance" in golden.attributes,
        disability="disability" in golden.attributes,
    )


def qualified_grid(profile: Profile, community: str | None) -> str | None:
    """The surviving grid qualified by its community ("秦虹社区/第2网格"): grids are numbered
    within a community, so "第3网格" of two communities are two grids.

    The community is the one the grid's own source record names, else the profile's ``community``.
    """
    grid = profile.golden.attributes.get("grid")
    if grid is None or not grid.value.strip():
        return None
    source = profile.records.get(record_key(grid.provenance.source, grid.provenance.record_id))
    named = None
    if source is not None:
        record = source.record
        named = record.attributes.get("community") or next(
            (a.community for a in record.addresses.values() if a.community), None)
    owner = named or community
    return f"{owner}/{grid.value.strip()}" if owner else None


def search_terms(profile: Profile) -> set[SearchTerm]:
    """The terms under which search finds ``profile`` (none when it was merged away)."""
    if not profile.is_active:
        return set()
    terms: dict[tuple[TermKind, str], float] = {}

    def add(kind: TermKind, term: str | None, weight: float) -> None:
        if not term:
            return
        key = (kind, term[:MAX_TERM])
        if terms.get(key, 0.0) < weight:
            terms[key] = weight

    golden = profile.golden
    for phone in golden.phones.value if golden.phones else ():
        add("phone", phone, 1.0)
    if golden.name is not None:
        add("name", golden.name.value, 1.0)
    for linked in profile.live_records.values():
        record = linked.record
        for phone in record.phones:
            add("phone", phone, 0.8)
        add("name", record.name, 0.9)
        if record.name_pinyin:
            pinyin = record.name_pinyin.lower()
            add("name", pinyin, 0.8)
            add("name", pinyin.replace(" ", ""), 0.8)
    lines = address_lines(profile)
    for line, weight in lines.items():
        add("address_line", line, weight)
        for pair in _line_bigrams(line):
            add("address", pair, 1.0)
    return {SearchTerm(kind, term, weight) for (kind, term), weight in terms.items()}
