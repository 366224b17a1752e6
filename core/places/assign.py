"""Which community and grid one place key belongs to, from the facts known about it.

Facts come from three origins, and the order of trust is theirs:

1. ``steward``: a data steward's correction (an event in the log, audited) wins outright.
2. ``standard_address``: the grid-management centre's standard-address file (标准地址库) is the
   district's authority on where a building belongs.
3. ``record``: a department record that names its community (an address written with its 社区,
   civil affairs' 所属社区, a community worker's visit) teaches the hub where its building is.

Records never override the standard file silently. When records of at least two departments agree
with each other and all contradict the file, the key takes the records' community (the file is the
likelier one to be stale: a building re-assigned, a typing error) and the key is marked
``disagreement`` so a steward sees it; so is a key whose records disagree among themselves.
Ties are broken by name, so the assignment is a function of the facts alone (never of arrival
order).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = ["Assignment", "PlaceFact", "PlaceOrigin", "assign", "assign_counted"]

PlaceOrigin = Literal["steward", "standard_address", "record"]


@dataclass(frozen=True, order=True)
class PlaceFact:
    """One statement "place key → community (and grid)", with where it came from."""

    place_key: str
    origin: PlaceOrigin
    source: str
    record_id: str
    community: str
    grid: str | None = None


@dataclass(frozen=True)
class Assignment:
    """The community and grid (unqualified, e.g. "第3网格") a place key is assigned to."""

    community: str
    grid: str | None
    origin: PlaceOrigin
    disagreement: bool = False


def _majority(weighted: Iterable[tuple[str | None, int]]) -> str | None:
    counts: Counter[str] = Counter()
    for value, weight in weighted:
        if value:
            counts[value] += weight
    if not counts:
        return None
    return min(counts, key=lambda v: (-counts[v], v))


def assign(facts: Iterable[PlaceFact]) -> Assignment | None:
    """The assignment of one key from all its facts; ``None`` when nothing is known.

    >>> f = [PlaceFact("c:秦虹#3", "record", "public_security", "1", "秦虹社区"),
    ...      PlaceFact("c:秦虹#3", "standard_address", "grid_centre", "A1", "秦虹社区", "第2网格")]
    >>> assign(f)
    Assignment(community='秦虹社区', grid='第2网格', origin='standard_address', disagreement=False)
    """
    return assign_counted((f, 1) for f in facts)


def assign_counted(counted: Iterable[tuple[PlaceFact, int]]) -> Assignment | None:
    """:func:`assign` over facts given with how many times each occurs: records and standard
    addresses count only by origin, source, community and grid (which record said it does not
    matter), so a store can hand over one row per kind instead of every fact of a busy road."""
    facts = list(counted)
    stewards = [f for f, _ in facts if f.origin == "steward"]
    standard = [(f, n) for f, n in facts if f.origin == "standard_address"]
    records = [(f, n) for f, n in facts if f.origin == "record"]
    record_communities = {f.community for f, _ in records}
    if stewards:
        chosen = max(stewards, key=_order)  # one steward fact per key: the latest correction replaces the last
        return Assignment(chosen.community, chosen.grid, "steward")
    if standard:
        community = _majority((f.community, n) for f, n in standard)
        assert community is not None
        disagreement = len({f.community for f, _ in standard}) > 1 or bool(record_communities - {community})
        against = [(f, n) for f, n in records if f.community != community]
        if against and not any(f.community == community for f, _ in records):
            rival = _majority((f.community, n) for f, n in against)
            assert rival is not None
            agreeing = {f.source for f, _ in against if f.community == rival}
            if len(agreeing) >= 2 and len(record_communities) == 1:
                return Assignment(rival, _grid(records, rival), "record", disagreement=True)
        grid = _majority((f.grid, n) for f, n in standard if f.community == community and f.grid)
        return Assignment(community, grid or _grid(records, community), "standard_address", disagreement)
    if records:
        community = _majority((f.community, n) for f, n in records)
        assert community is not None
        return Assignment(community, _grid(records, community), "record", disagreement=len(record_communities) > 1)
    return None


def _order(fact: PlaceFact) -> tuple[str, ...]:
    return fact.place_key, fact.origin, fact.source, fact.record_id, fact.community, fact.grid or ""


def _grid(facts: Iterable[tuple[PlaceFact, int]], community: str) -> str | None:
    return _majority((f.grid, n) for f, n in facts if f.community == community and f.grid)
