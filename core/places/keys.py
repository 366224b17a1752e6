"""Place keys: the parts of an address that locate its building in the gazetteer.

A community is made of compounds (小区) and door numbers on roads; a compound rarely spans two
communities, a building never does. So a parsed address gives, most specific first::

    c:秦虹小区#3      compound and building
    c:秦虹小区        compound
    r:秦虹路#12#3     road, door number and building
    r:秦虹路#12       road and door number (a courtyard house, or the compound's gate)

A road alone is never a key: one road runs through several communities.
"""

from __future__ import annotations

from core.standardise._text import fold_width, to_simplified
from schemas.resident import Address

__all__ = ["place_keys"]

_COMPOUND_SUFFIXES = ("小区",)


def _clean(text: str | None) -> str:
    return "".join(to_simplified(fold_width(text or "")).split())


def _compound(text: str | None) -> str:
    name = _clean(text)
    # "秦虹小区" and "秦虹" name one compound; "秦虹南苑" stays itself.
    for suffix in _COMPOUND_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def place_keys(address: Address) -> tuple[str, ...]:
    """The gazetteer keys of ``address``, most specific first.

    >>> from core.standardise.addresses import parse_address
    >>> place_keys(parse_address("秦虹路12号秦虹小区3幢2单元301室"))
    ('c:秦虹#3', 'c:秦虹', 'r:秦虹路#12#3', 'r:秦虹路#12')
    >>> place_keys(parse_address("钞库街35号"))
    ('r:钞库街#35',)
    """
    keys: list[str] = []
    compound = _compound(address.compound)
    building = _clean(address.building)
    road, number = _clean(address.road), _clean(address.number)
    if compound:
        if building:
            keys.append(f"c:{compound}#{building}")
        keys.append(f"c:{compound}")
    if road and number:
        if building:
            keys.append(f"r:{road}#{number}#{building}")
        keys.append(f"r:{road}#{number}")
    return tuple(keys)
