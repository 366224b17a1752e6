"""What the matcher reads from a resident record, computed once per record.

Scoring a pair must cost microseconds (the resolver scores thousands of pairs a second), so
every key a comparison or a blocking rule needs — pinyin, token sets, dwelling keys, the
birth date as digits — is derived here once and kept in a :class:`MatchFeatures`.
:func:`match_features` memoises them by the record's content.

A ``MatchFeatures`` holds the raw ID number in memory (comparisons need it) but never shows
it: its ``repr`` leaves it out and :meth:`MatchFeatures.display` masks it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Literal, NamedTuple

import opencc

from core.standardise import latin_key, mask_id_number, mask_phone, name_pinyin, split_surname
from schemas.resident import Address, ResidentRecord

__all__ = ["MatchFeatures", "Residence", "build_features", "match_features"]

Script = Literal["han", "latin", "mixed", "empty"]


@dataclass(frozen=True, slots=True)
class Residence:
    """Where and how to reach a resident: household numbers, flats, places, phones.

    Sets, so that the residence of a whole profile is the union of its records' (see
    :meth:`pool`): a phone from one department and the flat from another.
    """

    households: frozenset[str]  # 户号
    dwellings: frozenset[str]  # place + building/unit/room: the same flat
    flats: frozenset[str]  # building/unit/room alone (short housing addresses)
    number_flats: frozenset[str]  # door number + building/unit/room
    places: frozenset[str]  # "compound:…", "road:…" (road + door number)
    phones: frozenset[str]
    latin_addresses: frozenset[str] = frozenset()  # addresses without Han characters, as lower-case words

    @property
    def has_address(self) -> bool:
        return bool(self.dwellings or self.flats or self.places or self.latin_addresses)

    @staticmethod
    def pool(residences: Sequence[Residence]) -> Residence:
        if len(residences) == 1:
            return residences[0]
        return Residence(
            households=frozenset().union(*(r.households for r in residences)),
            dwellings=frozenset().union(*(r.dwellings for r in residences)),
            flats=frozenset().union(*(r.flats for r in residences)),
            number_flats=frozenset().union(*(r.number_flats for r in residences)),
            places=frozenset().union(*(r.places for r in residences)),
            phones=frozenset().union(*(r.phones for r in residences)),
            latin_addresses=frozenset().union(*(r.latin_addresses for r in residences)),
        )

    def __repr__(self) -> str:
        return "Residence(…)"  # phones and household numbers stay out of logs


@dataclass(frozen=True, slots=True)
class MatchFeatures:
    """The comparison keys of one resident record."""

    record_key: tuple[str, str]  # (source, record_id)
    # Name (姓名): ``name`` is the exact key (Latin names case- and accent-free).
    name: str | None
    script: Script
    pinyin_key: str | None  # syllables or Latin letters without spaces: the homophone key
    tokens: tuple[str, ...]
    sorted_tokens: str | None
    surname: str | None  # Han: the surname characters (复姓 aware); Latin: the last word
    surname_pinyin: str | None
    given_name: str | None  # Han: the characters after the surname; Latin: the words before the last
    # Birth date (出生日期) and sex.
    birth_date: date | None
    birth_digits: str | None  # "YYYYMMDD" when the full date is known
    birth_month: str | None  # "YYYYMM", from the date or the month alone
    birth_year: str | None
    sex: Literal["male", "female"] | None
    # Identity documents; the raw values stay out of repr.
    valid_id: str | None = field(repr=False)
    id_text: str | None = field(repr=False)  # the valid number, or the invalid one in 18-character form
    other_ids: frozenset[tuple[str, str]] = field(repr=False)
    residence: Residence = field(repr=False)
    # What a steward may see (ID numbers masked, phones masked).
    shown: dict[str, str] = field(repr=False, compare=False)

    def display(self, what: str) -> str | None:
        """A masked, human-readable value for evidence: ``name``, ``birth_date``, ``id_number``…"""
        return self.shown.get(what)


class _NameKeys(NamedTuple):
    name: str | None = None
    script: Script = "empty"
    pinyin_key: str | None = None
    tokens: tuple[str, ...] = ()
    sorted_tokens: str | None = None
    surname: str | None = None
    surname_pinyin: str | None = None
    given_name: str | None = None


def _name_keys(record: ResidentRecord) -> _NameKeys:
    name = record.name
    if not name or record.name_script == "empty":
        return _NameKeys()
    script = record.name_script
    pinyin = record.name_pinyin or (latin_key(name) if script == "latin" else name_pinyin(name))
    tokens = tuple(pinyin.split())
    if not tokens:
        return _NameKeys()
    if script == "latin":
        exact = " ".join(sorted(tokens))  # word order is free in Latin names: "GUPTA ANANYA" = "Ananya Gupta"
        surname: str | None = tokens[-1]
        surname_pinyin: str | None = tokens[-1]
        given_name: str | None = " ".join(tokens[:-1]) or None
    else:
        exact = name
        surname_chars, given = split_surname(name)
        surname = surname_chars or None
        # The surname's syllables are the first one or two of the name's pinyin.
        surname_pinyin = "".join(tokens[: len(surname_chars)]) if surname_chars and given else None
        given_name = given if surname_chars and given else None
    return _NameKeys(
        exact, script, "".join(tokens), tokens, " ".join(sorted(tokens)), surname, surname_pinyin, given_name
    )


def _id_text(record: ResidentRecord) -> str | None:
    if record.id_number:
        return record.id_number
    invalid = record.id_number_invalid
    if not invalid:
        return None
    if len(invalid) == 15 and invalid.isdigit():
        # A legacy number: its 18-digit form, the check digit unknown ("?" never equals a digit).
        return invalid[:6] + "19" + invalid[6:] + "?"
    return invalid


# Reading the flat off the raw address text. The parsed Address fields are used only when this
# fails: a road whose name holds a compound word (苜蓿园大街, 瞻园路) can derail a parser into
# reading a compound and a room out of the road and its door number, and then two spellings of
# one flat share nothing. The tail of an address is regular: [door number 号] [compound]
# building 幢/栋/号楼/座 [unit 单元] room [室], or the short forms 12-3-2-301 and 3-2-301.
_COMPACT = re.compile(r"(?:(?P<n>\d+)号?-)?(?P<b>\d+)-(?P<u>\d+)-(?P<r>[A-Za-z]?\d+)$")
_MARKED = re.compile(
    r"(?P<b>[0-9A-Za-z]+)(?:幢|栋|号楼|座|#)(?:(?P<u>\d+)单元)?(?:\d+(?:层|楼))?(?P<r>[A-Za-z]?\d+)$"
)
_DOOR = re.compile(r"(\d+)号(?!楼)院?")
_TRAILING_WORDS = re.compile(r"(?:室|房|号)$")
_HAN_RUN = re.compile(r"[\u4e00-\u9fffA-Za-z]+$")
# Divisions written before the road or compound (省 市 区 县 街道 社区); 小区 is a compound.
_DIVISIONS = re.compile(r"^.*(?:省|市|(?<![小校园景片])区|县|街道|社区|居委会)")


@cache
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def _tail_name(text: str) -> str:
    """The road or compound name at the end of ``text`` (divisions in front stripped)."""
    run = _HAN_RUN.search(text)
    return _DIVISIONS.sub("", run.group(0)) if run else ""


def _raw_address_keys(raw: str) -> tuple[str, str | None, list[str]] | None:
    """Flat ("building|unit|room", or "" for a house), door number and places read off the raw text.

    ``None`` when the tail of the address is not recognisable (the parsed fields are used then).
    """
    text = str(_t2s().convert(unicodedata.normalize("NFKC", raw)))
    text = "".join(text.split()).replace("—", "-")
    body = _TRAILING_WORDS.sub("", text)
    match = _COMPACT.search(body) or _MARKED.search(body)
    if match is None:
        doors = list(_DOOR.finditer(text))
        if not doors or doors[-1].end() != len(text):
            return None
        road = _tail_name(text[: doors[-1].start()])  # a courtyard house (平房): lane and door number
        return ("", doors[-1].group(1), [f"road:{road}{doors[-1].group(1)}"]) if road else None
    flat = f"{match.group('b')}|{match.group('u') or ''}|{match.group('r')}"
    prefix = body[: match.start()]
    number = match.groupdict().get("n")
    if number is not None:
        before, after = prefix, ""
    else:
        doors = list(_DOOR.finditer(prefix))
        if doors:
            number, before, after = doors[-1].group(1), prefix[: doors[-1].start()], prefix[doors[-1].end() :]
        else:
            before, after = "", prefix
    places = []
    compound = _tail_name(after)
    if compound:
        places.append(f"compound:{compound}")
    road = _tail_name(before)
    if number and road:
        places.append(f"road:{road}{number}")
    return flat, number, places


def _parsed_address_keys(address: Address) -> tuple[str, str | None, list[str]] | None:
    """The same keys from the parser's fields (Chinese numerals: 三幢), when the text was not read."""
    places = [f"compound:{address.compound}"] if address.compound else []
    if address.road and address.number:
        places.append(f"road:{address.road}{address.number}")
    if address.room:
        return f"{address.building or ''}|{address.unit or ''}|{address.room}", address.number, places
    if address.road and address.number and not (address.building or address.unit or address.compound):
        return "", address.number, places
    return ("", None, [p for p in places if p.startswith("compound:")]) if places else None


def _address_keys(addresses: list[Address]) -> tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str]]:
    dwellings: set[str] = set()
    flats: set[str] = set()
    number_flats: set[str] = set()
    places: set[str] = set()
    for address in addresses:
        if _latin_words(address) is not None:
            continue  # the parser reads Chinese addresses: "7 calder crescent" has no 幢, 单元 or 室 to read
        read = _raw_address_keys(address.raw) or _parsed_address_keys(address)
        if read is None:
            continue
        flat, number, own_places = read
        places.update(own_places)
        if flat:
            flats.add(flat)
            dwellings.update(f"{place}|{flat}" for place in own_places)
            if number:
                number_flats.add(f"{number}|{flat}")
        else:  # a courtyard house (平房): lane and door number are the dwelling
            dwellings.update(f"{place}|house" for place in own_places if place.startswith("road:"))
    return frozenset(dwellings), frozenset(flats), frozenset(number_flats), frozenset(places)


_HAN = re.compile(r"[\u3400-\u9fff]")
_LATIN_WORD = re.compile(r"[a-z]{2,}")
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def _latin_words(address: Address) -> str | None:
    """An address written in Latin words, without Han characters (a foreign address, FEBRL's), as
    lower-case words; ``None`` for a Chinese address or a bare flat number (12-3-2-301)."""
    text = unicodedata.normalize("NFKC", address.raw).casefold()
    if _HAN.search(text) is not None or _LATIN_WORD.search(text) is None:
        return None
    return " ".join(_NOT_WORD.sub(" ", text).split())


def _latin_addresses(addresses: list[Address]) -> frozenset[str]:
    """The addresses written in Latin words: compared as text (the flat and place keys read Chinese)."""
    return frozenset(words for address in addresses if (words := _latin_words(address)))


def _shown_phone(e164: str) -> str:
    return mask_phone(e164.removeprefix("+86"))


def build_features(record: ResidentRecord) -> MatchFeatures:
    """Derive the comparison keys of one record (use :func:`match_features` for the cached form)."""
    names = _name_keys(record)
    birth = record.birth_date
    if birth is not None:
        birth_digits: str | None = birth.strftime("%Y%m%d")
        birth_month: str | None = birth.strftime("%Y%m")
    elif record.birth_month:
        birth_digits, birth_month = None, record.birth_month.replace("-", "")[:6]
    else:
        birth_digits = birth_month = None
    addresses = list(record.addresses.values())
    dwellings, flats, number_flats, places = _address_keys(addresses)
    id_text = _id_text(record)
    shown: dict[str, str] = {}
    if record.name:
        shown["name"] = record.name
    if birth is not None:
        shown["birth_date"] = birth.isoformat()
    elif record.birth_month:
        shown["birth_date"] = record.birth_month
    if record.sex != "unknown":
        shown["sex"] = record.sex
    if record.id_number:
        shown["id_number"] = mask_id_number(record.id_number)
    elif record.id_number_invalid:
        shown["id_number"] = mask_id_number(record.id_number_invalid) + " (invalid)"
    if record.other_ids:
        shown["other_ids"] = ", ".join(f"{o.kind} {mask_id_number(o.value)}" for o in record.other_ids)
    residence = []
    if record.household_id:
        residence.append(f"户号 {record.household_id}")
    residence.extend(a.raw for a in addresses)
    residence.extend(_shown_phone(p) for p in record.phones)
    if residence:
        shown["residence"] = "; ".join(residence)
    sex: Literal["male", "female"] | None = None if record.sex == "unknown" else record.sex
    return MatchFeatures(
        record_key=(record.source, record.record_id),
        name=names.name,
        script=names.script,
        pinyin_key=names.pinyin_key,
        tokens=names.tokens,
        sorted_tokens=names.sorted_tokens,
        surname=names.surname,
        surname_pinyin=names.surname_pinyin,
        given_name=names.given_name,
        birth_date=birth,
        birth_digits=birth_digits,
        birth_month=birth_month,
        birth_year=birth_month[:4] if birth_month else None,
        sex=sex,
        valid_id=record.id_number,
        id_text=id_text,
        other_ids=frozenset((o.kind, o.value) for o in record.other_ids),
        residence=Residence(
            households=frozenset((record.household_id,)) if record.household_id else frozenset(),
            dwellings=dwellings,
            flats=flats,
            number_flats=number_flats,
            places=places,
            phones=frozenset(record.phones),
            latin_addresses=_latin_addresses(addresses),
        ),
        shown=shown,
    )


_CACHE: dict[tuple[object, ...], MatchFeatures] = {}
_CACHE_SIZE = 20_000  # about 3 KB each: resolvers keep features with their profiles for more


def _fingerprint(record: ResidentRecord) -> tuple[object, ...]:
    return (
        record.source, record.record_id, record.observed_at, record.name, record.name_script,
        record.name_pinyin, record.id_number, record.id_number_invalid, record.other_ids, record.sex,
        record.birth_date, record.birth_month, record.phones, record.household_id,
        tuple((kind, address.raw) for kind, address in record.addresses.items()),
    )  # fmt: skip


def match_features(record: ResidentRecord | MatchFeatures) -> MatchFeatures:
    """The features of ``record``, memoised by content (a bounded cache, oldest entries dropped)."""
    if isinstance(record, MatchFeatures):
        return record
    key = _fingerprint(record)
    cached = _CACHE.get(key)
    if cached is None:
        cached = build_features(record)
        if len(_CACHE) >= _CACHE_SIZE:
            for old in list(_CACHE)[: _CACHE_SIZE // 4]:
                del _CACHE[old]
        _CACHE[key] = cached
    return cached
