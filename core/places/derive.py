"""A profile's community and grid, from its own addresses and the gazetteer.

The resident is placed where they *live*: by the residential addresses of their records (现住址),
else by property, else by the registered address (户籍地). Each address either names its
community itself (an address written with its 社区, or a record that carries 所属社区 / 社区 and
网格 beside it) or is looked up in the gazetteer by its place keys, most specific first. Among the
addresses of one kind, each record's address is one vote for the community it gives: a visit
written before the resident moved, or a department that has not heard of the move yet, is
outvoted by the records that agree on the new dwelling.

Older news gives way where the records date it: an address a community worker wrote on a visit
(``seen_on``) drops out of the vote when a register changed its row *after* that visit
(``changed_on``) and places the resident in another community: the register has processed a
move the visit predates. The reverse does not hold: a visit's form is often pre-filled from the
roster, so a later visit that repeats an address is no news about a register's change. Undated
records always vote. The dropped address still makes the profile *contested*: the records
disagree, and the door is where it is settled.

Settled at the door: a visit on which the worker verified the address (``attributes.verification``
is ``at_door``, 核实方式 入户核实, as the community mapping declares it; ``core.door_check``) is the
answer the contested flag asks for. Every address that places the resident elsewhere and carries no
news dated after that check (a register's change, or another door check) drops out, undated records
included: the worker saw that the resident did not live there on that day. Those addresses no
longer make the profile contested. The check is a visit like any other: a register that changes its
row *after* it and places the resident elsewhere outranks it (the resident has moved again), and
the profile is contested again.

A tie goes to the surviving address, then to the department first in survivorship's authority
order for the field, then to the newer record.

The registered address is placed the same way; a resident registered in one community (or
outside the district) and living in another is flagged ``lives_apart`` (人户分离).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from core.door_check import checked_on, latest_news
from core.places.assign import Assignment, PlaceFact, PlaceOrigin
from core.places.keys import place_keys
from core.profile.model import Profile
from core.profile.survivorship import default_rules
from schemas.resident import Address, AddressKind, ResidentRecord

__all__ = ["PlaceCandidate", "ProfilePlace", "candidates", "decisive_keys", "derive_place", "record_facts"]

PlaceBasis = Literal["named", "steward", "standard_address", "record"]
_KIND_ORDER: tuple[AddressKind, ...] = ("residential", "property", "registered")


@dataclass(frozen=True)
class PlaceCandidate:
    """One address of a profile that may place it: its kind, place keys and what it names."""

    kind: AddressKind
    keys: tuple[str, ...]
    community: str | None = None
    grid: str | None = None
    district: str | None = None
    votes: int = 1  # how many of the profile's live records give this address
    sources: tuple[str, ...] = ()  # the departments those records come from (sorted, distinct)
    changed_on: str | None = None  # ISO date: the latest day a register among those records changed its row
    seen_on: str | None = None  # ISO date: the latest visit among those records
    verified_on: str | None = None  # ISO date: the latest of those visits that verified it at the door (residential)

    def as_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "kind": self.kind, "keys": list(self.keys), "community": self.community, "grid": self.grid,
            "district": self.district, "votes": self.votes, "sources": list(self.sources),
            "changed_on": self.changed_on, "seen_on": self.seen_on}
        if self.verified_on is not None:  # absent otherwise: stored candidates of unchecked profiles stay as they were
            data["verified_on"] = self.verified_on
        return data

    @classmethod
    def from_json(cls, data: dict[str, object]) -> PlaceCandidate:
        keys = data.get("keys") or []
        assert isinstance(keys, list)
        return cls(kind=data["kind"], keys=tuple(str(k) for k in keys),  # type: ignore[arg-type]
                   community=_text(data.get("community")), grid=_text(data.get("grid")),
                   district=_text(data.get("district")), votes=int(str(data.get("votes", 1))),
                   sources=tuple(str(s) for s in data.get("sources") or ()),  # type: ignore[attr-defined]
                   changed_on=_text(data.get("changed_on")), seen_on=_text(data.get("seen_on")),
                   verified_on=_text(data.get("verified_on")))


@dataclass(frozen=True)
class ProfilePlace:
    """Where a profile's resident lives: community, grid qualified by it ("秦虹社区/第2网格"), on
    what basis, and the registered community with the 人户分离 flag."""

    community: str | None = None
    grid: str | None = None
    basis: PlaceBasis | None = None
    registered_community: str | None = None
    lives_apart: bool = False
    contested: bool = False  # the records' dwellings disagree on the community: worth a check at the door


def _text(value: object) -> str | None:
    return str(value).strip() or None if value is not None else None


def _named_community(record: ResidentRecord) -> str | None:
    community = _text(record.attributes.get("community"))
    return community if community is not None and community.endswith(("社区", "村")) else None


def _named(record: ResidentRecord, kind: AddressKind, address: Address) -> tuple[str | None, str | None]:
    """The community (and grid) a record names for one of its addresses."""
    community = address.community
    grid = None
    if kind == "residential":
        # 所属社区 / 社区 and 网格 columns describe where the resident lives.
        community = _text(record.attributes.get("community")) or community
        grid = _text(record.attributes.get("grid"))
    if community is not None and not community.endswith("社区") and not community.endswith("村"):
        community = None  # "秦虹" alone is no community name the gazetteer would know
    return community, grid if community else None


def _candidate(record: ResidentRecord, kind: AddressKind, address: Address) -> PlaceCandidate:
    community, grid = _named(record, kind, address)
    return PlaceCandidate(kind, place_keys(address), community, grid, address.district)


def _recency(record: ResidentRecord) -> float:
    observed: datetime = record.observed_at
    return -observed.timestamp()


def candidates(profile: Profile) -> tuple[PlaceCandidate, ...]:
    """The profile's addresses in the order they place it (see the module docstring)."""
    live = sorted(profile.live_records.values(),
                  key=lambda r: (_recency(r.record), r.record.source, r.record.record_id))
    golden = profile.golden
    out: dict[PlaceCandidate, list[ResidentRecord]] = {}
    for kind in _KIND_ORDER:
        survivor = getattr(golden, f"{kind}_address")
        rule = default_rules().rule_for(f"{kind}_address")
        ordered = sorted(((r.record, a) for r in live if (a := r.record.addresses.get(kind)) is not None),
                         key=lambda item: (survivor is None or (item[0].source, item[0].record_id) != (
                             survivor.provenance.source, survivor.provenance.record_id),
                             _rank(rule.rank(item[0].source))))
        for record, address in ordered:
            candidate = _candidate(record, kind, address)
            if candidate.keys or candidate.community:
                out.setdefault(candidate, []).append(record)
        if kind == "residential":
            # A visit that names its 社区 (and 网格) without writing the address still says where
            # the resident lives.
            for linked in live:
                record = linked.record
                if "residential" not in record.addresses and (named := _named_community(record)) is not None:
                    candidate = PlaceCandidate("residential", (), named, _text(record.attributes.get("grid")))
                    out.setdefault(candidate, []).append(record)
    return tuple(PlaceCandidate(c.kind, c.keys, c.community, c.grid, c.district, len(by),
                                tuple(sorted({r.source for r in by})), _latest(r.changed_on for r in by),
                                _latest(r.seen_on for r in by),
                                # a door check verifies where the resident lives, not their 户籍
                                _latest(checked_on(r) for r in by if c.kind == "residential"))
                 for c, by in out.items())


def _rank(rank: int | None) -> int:
    return 1_000 if rank is None else rank


def _latest(days: Iterable[date | None]) -> str | None:
    known = [d for d in days if d is not None]
    return max(known).isoformat() if known else None


def record_facts(record: ResidentRecord, origin: PlaceOrigin = "record") -> Iterator[PlaceFact]:
    """What one record teaches the gazetteer: each of its addresses that names a community, for
    every place key of that address. A standard-address row (``origin="standard_address"``) is
    read the same way: its address, 社区 and 网格 columns."""
    for kind, address in sorted(record.addresses.items()):
        community, grid = _named(record, kind, address)
        if community is None:
            continue
        for key in place_keys(address):
            yield PlaceFact(key, origin, record.source, record.record_id, community, grid)


_Placed = tuple[str, str | None, PlaceBasis, int]  # community, grid, basis, how exactly the grid is known


def _grid_rank(key: str) -> int:
    """0 when the key names a building (its grid is the building's), 1 for a whole compound or
    door number (a large compound spans grids)."""
    return 0 if key.count("#") >= (1 if key.startswith("c:") else 2) else 1


def _place(candidate: PlaceCandidate, lookup: Callable[[str], Assignment | None]) -> _Placed | None:
    found = [(key, a) for key in candidate.keys if (a := lookup(key)) is not None]
    if any(_grid_rank(k) == 0 for k in candidate.keys):
        # The address names its building: only what is known of that building gives the grid (the
        # compound's grid is a guess where a compound spans grids; no grid beats a wrong one).
        found = [(k, a if _grid_rank(k) == 0 else Assignment(a.community, None, a.origin, a.disagreement))
                 for k, a in found]
    steward = next((a for _, a in found if a.origin == "steward"), None)
    if steward is not None:  # a steward's correction outranks what the record itself says
        return steward.community, steward.grid, "steward", 0
    if candidate.community is not None:
        if candidate.grid:
            return candidate.community, candidate.grid, "named", 0
        key, grid = next(((k, a.grid) for k, a in found if a.community == candidate.community and a.grid), ("", None))
        return candidate.community, grid, "named", _grid_rank(key) if grid else 2
    if found:
        key, assignment = found[0]
        return assignment.community, assignment.grid, assignment.origin, _grid_rank(key) if assignment.grid else 2
    return None


def _decisive(candidate: PlaceCandidate, lookup: Callable[[str], Assignment | None]) -> tuple[str, ...]:
    """The keys of ``candidate`` whose assignment :func:`_place` reads to place it: the key that
    decides it and every more specific key (one that gains an assignment may take over). A coarser
    key can change nothing unless a steward's correction lands on it (the first steward's key wins
    wherever it stands), so a store re-derives every profile of a key a steward now holds."""
    keys = candidate.keys
    assigned = [lookup(k) for k in keys]
    steward = next((i for i, a in enumerate(assigned) if a is not None and a.origin == "steward"), None)
    if steward is not None:
        return keys[:steward + 1]
    if candidate.community is not None:
        if candidate.grid:
            return ()  # the record names community and grid: only a steward overrules it
        # only the grid is looked up: the first key of that community with a grid (a building's own
        # key, where the address names its building: the coarser keys' grids are dropped)
        building = any(_grid_rank(k) == 0 for k in keys)
        eligible = [(k, a) for k, a in zip(keys, assigned, strict=True) if not building or _grid_rank(k) == 0]
        upto = next((i for i, (_, a) in enumerate(eligible)
                     if a is not None and a.community == candidate.community and a.grid), len(eligible) - 1)
        return tuple(k for k, _ in eligible[:upto + 1])
    first = next((i for i, a in enumerate(assigned) if a is not None), len(keys) - 1)
    return keys[:first + 1]


def decisive_keys(cands: Iterable[PlaceCandidate], lookup: Callable[[str], Assignment | None]) -> frozenset[str]:
    """The place keys whose assignment can change :func:`derive_place` of ``cands``: for each
    candidate the key that decides where it places the profile and the keys more specific than it
    (see :func:`_decisive`). Any other key of the candidates may change its community, grid or
    origin without changing the profile's place, as long as no steward's correction lands on it."""
    return frozenset(k for c in cands for k in _decisive(c, lookup))


def _latest_by_community(dated: Iterable[tuple[str, str | None]]) -> dict[str, str]:
    """community → the latest of the ISO days given for it (``None`` days left out)."""
    out: dict[str, str] = {}
    for community, day in dated:
        if day is not None and day > out.get(community, ""):
            out[community] = day
    return out


def _later_elsewhere(days: dict[str, str], community: str, day: str | None) -> bool:
    """Whether another community than ``community`` has a day after ``day`` (any day, if undated)."""
    return any(day is None or when > day for other, when in days.items() if other != community)


def _vote(cands: Iterable[PlaceCandidate], lookup: Callable[[str], Assignment | None]
          ) -> tuple[str, str | None, PlaceBasis, bool] | None:
    """The community most of ``cands``' records give (ties: the first candidate's, in order; older
    news left out, see the module docstring), its grid from the candidate that knows it most
    exactly, and whether the records still name more than one community."""
    placed_all = [(c, placed) for c in cands if (placed := _place(c, lookup)) is not None]
    # community → the latest day a register changed a row placing them there
    changed = _latest_by_community((placed[0], c.changed_on) for c, placed in placed_all)
    # community → the latest door check that found them there
    verified = _latest_by_community((placed[0], c.verified_on) for c, placed in placed_all)
    stated: set[str] = set()
    tally: dict[str, int] = {}
    first: dict[str, _Placed] = {}
    grids: dict[str, tuple[int, str | None]] = {}
    for candidate, placed in placed_all:
        community = placed[0]
        news = latest_news(candidate.changed_on, candidate.verified_on)
        if _later_elsewhere(verified, community, news):
            continue  # settled at the door since: no longer a disagreement
        stated.add(community)
        if candidate.changed_on is None and candidate.seen_on is not None and _later_elsewhere(
                changed, community, candidate.seen_on):
            continue  # a visit before a register recorded the resident elsewhere: older news
        tally[community] = tally.get(community, 0) + candidate.votes
        first.setdefault(community, placed)
        if community not in grids or placed[3] < grids[community][0]:
            grids[community] = (placed[3], placed[1])
    if not tally:
        return None
    best = max(tally.values())
    community, _, basis, _ = next(first[c] for c in first if tally[c] == best)
    return community, grids[community][1], basis, len(stated) > 1


def derive_place(cands: Iterable[PlaceCandidate], lookup: Callable[[str], Assignment | None]) -> ProfilePlace:
    """Place a profile from its candidates (see :func:`candidates`) and the gazetteer ``lookup``."""
    cands = tuple(cands)
    living = _vote([c for c in cands if c.kind == "residential"], lookup) or _vote(
        [c for c in cands if c.kind == "property"], lookup)
    living_district = next((c.district for c in cands if c.kind != "registered" and c.district), None)
    registered_district = next((c.district for c in cands if c.kind == "registered" and c.district), None)
    registered = _vote([c for c in cands if c.kind == "registered"], lookup)
    if living is None and registered is not None:
        living = registered  # only the registered address is known: the best there is
    community, grid, basis, contested = living if living is not None else (None, None, None, False)
    registered_community = registered[0] if registered is not None else None
    lives_apart = bool(
        community is not None
        and ((registered_community is not None and registered_community != community)
             or (registered_community is None and registered_district is not None
                 and living_district is not None and registered_district != living_district)))
    return ProfilePlace(community=community, grid=f"{community}/{grid}" if community and grid else None,
                        basis=basis, registered_community=registered_community, lives_apart=lives_apart,
                        contested=contested)
