"""The gazetteer's adapter: place facts in, key assignments and each profile's place out.

Used inside the projection's transaction (records that name their community, profiles to
locate) and by the places consumer (the grid centre's standard addresses, stewards'
corrections). Whenever a key's assignment changes, every profile whose place that key can change
is re-derived, so a profile's community is always ``derive_place(its candidates, the assignments)``
whatever order the facts arrived in: replay gives the same rows. A key can change a profile's
place when it decides one of its candidates or is more specific than the key that does (stored
as ``decisive`` with the profile's keys, :func:`core.places.decisive_keys`), or when a steward's
correction now holds it; a busy road or compound whose assignment moves as facts accumulate
re-derives only the profiles it places, not those its buildings place.

On PostgreSQL the gazetteer step takes a transaction-level advisory lock, so two projection
workers never recompute one key from half of its facts (SQLite already serialises writers).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, bindparam, case, delete, func, select, text, tuple_, update

from core.places import (
    Assignment,
    PlaceCandidate,
    PlaceFact,
    ProfilePlace,
    assign_counted,
    candidates,
    decisive_keys,
    derive_place,
    record_facts,
)
from core.profile import Profile
from schemas.resident import ResidentRecord
from store.place_tables import place_facts, places, profile_place_keys, profile_places
from store.profile_tables import profiles
from store.upsert import chunks, upsert

__all__ = ["STEWARD_SOURCE", "PlaceIndex", "PlaceRow"]

STEWARD_SOURCE = "steward"
_LOCK_ID = 0x6F6E6365_706C6163 & 0x7FFF_FFFF_FFFF_FFFF  # "onceplac": one advisory lock for the gazetteer


@dataclass(frozen=True)
class PlaceRow:
    """A key's assignment as stored, with its facts (for the steward's page)."""

    place_key: str
    community: str
    grid: str | None
    origin: str
    disagreement: bool
    facts: tuple[PlaceFact, ...] = ()


class PlaceIndex:
    """Stateless: every method works in the caller's transaction. ``rederived`` and
    ``rederived_changed`` only count (for the benches): profiles re-derived by :meth:`rederive`,
    and those of them whose place columns changed."""

    def __init__(self) -> None:
        self.rederived = 0
        self.rederived_changed = 0

    def lock(self, conn: Connection) -> None:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})

    # -- facts -------------------------------------------------------------------------------------
    def replace_facts(self, conn: Connection, source: str, record_id: str, facts: Iterable[PlaceFact]) -> set[str]:
        """Make ``facts`` the only ones of one record; return the keys whose facts changed."""
        return self.replace_many(conn, {(source, record_id): tuple(facts)})

    def replace_many(self, conn: Connection, wanted_by_record: Mapping[tuple[str, str], Iterable[PlaceFact]]
                     ) -> set[str]:
        """:meth:`replace_facts` for many records at once: one read of what they held, writes only
        for the records whose facts changed (most profile writes change none)."""
        f = place_facts
        wanted = {rec: {fact.place_key: fact for fact in facts} for rec, facts in wanted_by_record.items()}
        held: dict[tuple[str, str], set[PlaceFact]] = {rec: set() for rec in wanted}
        records = sorted(wanted)
        for chunk in chunks(records):
            for r in conn.execute(select(f.c.place_key, f.c.origin, f.c.source, f.c.record_id, f.c.community, f.c.grid)
                                  .where(tuple_(f.c.source, f.c.record_id).in_(chunk))):
                held[(r.source, r.record_id)].add(
                    PlaceFact(r.place_key, r.origin, r.source, r.record_id, r.community, r.grid))
        changed: set[str] = set()
        stale: list[dict[str, str]] = []
        rows: list[dict[str, str | None]] = []
        for rec in records:
            facts = wanted[rec]
            if held[rec] == set(facts.values()):
                continue
            if held[rec]:
                stale.append({"s": rec[0], "r": rec[1]})
            rows += [{"place_key": x.place_key, "source": x.source, "record_id": x.record_id, "origin": x.origin,
                      "community": x.community, "grid": x.grid} for x in facts.values()]
            changed |= {x.place_key for x in held[rec]} | set(facts)
        if stale:  # one statement for all the records whose facts changed, one for their new facts
            conn.execute(delete(f).where(f.c.source == bindparam("s"), f.c.record_id == bindparam("r")), stale)
        if rows:
            conn.execute(f.insert(), rows)
        return changed

    def correct(self, conn: Connection, place_key: str, community: str | None, grid: str | None) -> set[str]:
        """A steward's assignment of one key (``community=None`` withdraws it)."""
        fact = [PlaceFact(place_key, "steward", STEWARD_SOURCE, "", community, grid)] if community else []
        f = place_facts
        held = conn.execute(select(f.c.community, f.c.grid).where(
            f.c.place_key == place_key, f.c.source == STEWARD_SOURCE)).first()
        if held is not None and fact and (held.community, held.grid) == (community, grid):
            return set()
        conn.execute(delete(f).where(f.c.place_key == place_key, f.c.source == STEWARD_SOURCE))
        if fact:
            conn.execute(f.insert(), [{"place_key": place_key, "source": STEWARD_SOURCE, "record_id": "",
                                       "origin": "steward", "community": community, "grid": grid}])
        return {place_key} if (held is not None or fact) else set()

    def learn_from_profiles(self, conn: Connection, touched: Iterable[Profile]) -> set[str]:
        """Facts from the records of the profiles a projection batch touched; the changed keys."""
        live: dict[tuple[str, str], ResidentRecord] = {}
        listed: set[tuple[str, str]] = set()
        for profile in touched:
            for linked in profile.records.values():
                listed.add((linked.record.source, linked.record.record_id))
            if profile.is_active:
                for linked in profile.live_records.values():
                    live[(linked.record.source, linked.record.record_id)] = linked.record
        return self.replace_many(conn, {key: (record_facts(record) if (record := live.get(key)) is not None else ())
                                        for key in listed | set(live)})

    # -- assignments -------------------------------------------------------------------------------
    def reassign(self, conn: Connection, keys: Iterable[str]) -> set[str]:
        """Recompute the assignment of ``keys``; return those whose community, grid or origin
        changed (what a profile's place reads of a key)."""
        keys = sorted(set(keys))
        moved: set[str] = set()
        for chunk in chunks(keys):
            facts: dict[str, list[tuple[PlaceFact, int]]] = {k: [] for k in chunk}
            for r in conn.execute(_counted_facts(chunk)):
                facts[r.place_key].append((PlaceFact(r.place_key, r.origin, r.source, r.record_id, r.community, r.grid),
                                           r.n))
            held = {r.place_key: r for r in conn.execute(select(places).where(places.c.place_key.in_(chunk)))}
            rows = []
            for key in chunk:
                assignment = assign_counted(facts[key])
                before = held.get(key)
                if assignment is None:
                    if before is not None:
                        conn.execute(delete(places).where(places.c.place_key == key))
                        moved.add(key)
                    continue
                row = {"place_key": key, "community": assignment.community, "grid": assignment.grid,
                       "origin": assignment.origin, "disagreement": assignment.disagreement,
                       "facts": sum(n for _, n in facts[key])}
                if before is None or (before.community, before.grid, before.origin) != (
                        assignment.community, assignment.grid, assignment.origin):
                    moved.add(key)
                if before is None or any(getattr(before, c) != v for c, v in row.items()):
                    rows.append(row)
            upsert(conn, places, rows, keys=("place_key",),
                   update=("community", "grid", "origin", "disagreement", "facts"))
        return moved

    def assignments(self, conn: Connection, keys: Iterable[str]) -> dict[str, Assignment]:
        keys = sorted(set(keys))
        found: dict[str, Assignment] = {}
        for chunk in chunks(keys):
            for r in conn.execute(select(places.c.place_key, places.c.community, places.c.grid, places.c.origin,
                                         places.c.disagreement).where(places.c.place_key.in_(chunk))):
                found[r.place_key] = Assignment(r.community, r.grid, r.origin, r.disagreement)
        return found

    # -- profiles ----------------------------------------------------------------------------------
    def locate(self, conn: Connection, touched: Sequence[Profile], moved: set[str]) -> dict[str, ProfilePlace]:
        """Store the place candidates of the touched profiles and derive their places; then
        re-derive every other profile whose place a key in ``moved`` can change."""
        return self.locate_candidates(conn, {p.profile_id: (candidates(p) if p.is_active else ()) for p in touched}, moved)

    def locate_candidates(self, conn: Connection, cands: Mapping[str, tuple[PlaceCandidate, ...]], moved: set[str]
                          ) -> dict[str, ProfilePlace]:
        """:meth:`locate` for profiles given by their place candidates (:func:`core.places.candidates`)."""
        all_keys = {k for cs in cands.values() for c in cs for k in c.keys}
        known = self.assignments(conn, all_keys)
        located = {pid: derive_place(cs, known.get) for pid, cs in cands.items()}
        self._store_candidates(conn, cands, {pid: decisive_keys(cs, known.get) for pid, cs in cands.items()})
        self.rederive(conn, moved, skip=set(cands))
        return located

    def _store_candidates(self, conn: Connection, cands: Mapping[str, tuple[PlaceCandidate, ...]],
                          decisive: Mapping[str, frozenset[str]]) -> None:
        if not cands:
            return
        ids = sorted(cands)
        self._store_keys(conn, {pid: {k: k in decisive[pid] for c in cands[pid] for k in c.keys} for pid in ids},
                         self._held_keys(conn, ids))
        upsert(conn, profile_places, [{"profile_id": pid, "candidates": json.dumps(
            [c.as_json() for c in cands[pid]], ensure_ascii=False, sort_keys=True)} for pid in ids],
            keys=("profile_id",), update=("candidates",))

    @staticmethod
    def _held_keys(conn: Connection, ids: Sequence[str]) -> dict[str, dict[str, bool]]:
        """profile → its stored place keys, each with its ``decisive`` flag."""
        k = profile_place_keys
        held: dict[str, dict[str, bool]] = {pid: {} for pid in ids}
        for chunk in chunks(list(ids)):
            for r in conn.execute(select(k.c.profile_id, k.c.place_key, k.c.decisive).where(k.c.profile_id.in_(chunk))):
                held[r.profile_id][r.place_key] = bool(r.decisive)
        return held

    @staticmethod
    def _store_keys(conn: Connection, wanted: Mapping[str, Mapping[str, bool]],
                    held: Mapping[str, Mapping[str, bool]]) -> None:
        """Make ``wanted`` (profile → key → decisive) the stored keys of its profiles."""
        k = profile_place_keys
        gone: list[tuple[str, str]] = []
        new: list[dict[str, object]] = []
        flipped: list[dict[str, object]] = []
        for pid in sorted(wanted):
            want, have = wanted[pid], held.get(pid, {})
            gone += [(key, pid) for key in sorted(have.keys() - want.keys())]
            new += [{"place_key": key, "profile_id": pid, "decisive": want[key]} for key in sorted(want.keys() - have.keys())]
            flipped += [{"k": key, "p": pid, "d": want[key]} for key in sorted(want.keys() & have.keys())
                        if want[key] != have[key]]
        for pairs in chunks(gone):
            conn.execute(delete(k).where(tuple_(k.c.place_key, k.c.profile_id).in_(pairs)))
        if new:
            conn.execute(k.insert(), new)
        if flipped:
            conn.execute(update(k).where(k.c.place_key == bindparam("k"), k.c.profile_id == bindparam("p"))
                         .values(decisive=bindparam("d")), flipped)

    def rederive(self, conn: Connection, keys: Iterable[str], skip: set[str] | None = None) -> int:
        """Re-derive the place of every profile whose place a key in ``keys`` (keys whose
        assignment moved) can change: those the key decides (``decisive``) and, where a steward's
        correction now holds the key, every profile located through it. Return how many changed."""
        keys = sorted(set(keys))
        if not keys:
            return 0
        k = profile_place_keys
        ids: set[str] = set()
        for chunk in chunks(keys):
            stewarded = list(conn.execute(select(places.c.place_key).where(
                places.c.place_key.in_(chunk), places.c.origin == "steward")).scalars())
            reaches = k.c.decisive.is_(True) if not stewarded else (k.c.decisive.is_(True) | k.c.place_key.in_(stewarded))
            ids |= set(conn.execute(select(k.c.profile_id).where(k.c.place_key.in_(chunk), reaches)).scalars())
        ids -= skip or set()
        changed = 0
        for chunk in chunks(sorted(ids)):
            stored = {r.profile_id: tuple(PlaceCandidate.from_json(c) for c in json.loads(r.candidates))
                      for r in conn.execute(select(profile_places).where(profile_places.c.profile_id.in_(chunk)))}
            known = self.assignments(conn, {key for cs in stored.values() for c in cs for key in c.keys})
            marks = {pid: decisive_keys(cs, known.get) for pid, cs in stored.items()}
            self._store_keys(conn, {pid: {key: key in marks[pid] for c in cs for key in c.keys}
                                    for pid, cs in stored.items()}, self._held_keys(conn, list(stored)))
            current = {r.profile_id: r for r in conn.execute(
                select(profiles.c.profile_id, profiles.c.community, profiles.c.grid, profiles.c.place_basis,
                       profiles.c.registered_community, profiles.c.lives_apart, profiles.c.place_contested)
                .where(profiles.c.profile_id.in_(list(stored))))}
            for pid, cs in stored.items():
                place = derive_place(cs, known.get)
                row = current.get(pid)
                values = place_columns(place)
                if row is None or any(getattr(row, c) != v for c, v in values.items()):
                    conn.execute(update(profiles).where(profiles.c.profile_id == pid).values(**values))
                    changed += 1
        self.rederived += len(ids)
        self.rederived_changed += changed
        return changed

    # -- reading (steward pages) -------------------------------------------------------------------
    def disagreements(self, conn: Connection, limit: int = 200) -> list[PlaceRow]:
        keys = list(conn.execute(select(places.c.place_key).where(places.c.disagreement.is_(True))
                                 .order_by(places.c.place_key).limit(limit)).scalars())
        return self.rows(conn, keys)

    def rows(self, conn: Connection, keys: Sequence[str]) -> list[PlaceRow]:
        out = []
        for chunk in chunks(list(keys)):
            facts: dict[str, list[PlaceFact]] = {}
            for r in conn.execute(select(place_facts).where(place_facts.c.place_key.in_(chunk))
                                  .order_by(place_facts.c.place_key, place_facts.c.source, place_facts.c.record_id)):
                facts.setdefault(r.place_key, []).append(
                    PlaceFact(r.place_key, r.origin, r.source, r.record_id, r.community, r.grid))
            for r in conn.execute(select(places).where(places.c.place_key.in_(chunk)).order_by(places.c.place_key)):
                out.append(PlaceRow(r.place_key, r.community, r.grid, r.origin, r.disagreement,
                                    tuple(facts.get(r.place_key, ()))))
        return out

    def counts(self, conn: Connection) -> dict[str, int]:
        """Keys per origin, and how many disagree (the steward's summary)."""
        out: dict[str, int] = {}
        for r in conn.execute(select(places.c.origin, places.c.disagreement)):
            out[r.origin] = out.get(r.origin, 0) + 1
            out["disagreement"] = out.get("disagreement", 0) + int(bool(r.disagreement))
        return out


def place_columns(place: ProfilePlace) -> dict[str, object]:
    """The profile row's columns that say where the resident lives."""
    return {"community": place.community, "grid": place.grid, "place_basis": place.basis,
            "registered_community": place.registered_community, "lives_apart": place.lives_apart,
            "place_contested": place.contested}


def _counted_facts(keys: Sequence[str]) -> Select[Any]:
    """The facts of ``keys`` counted in SQL: one row per key, origin, source, community and grid
    (a steward's correction one row each, with its record id: the latest replaces the last),
    however many records of a busy road or compound said the same."""
    steward_id = case((place_facts.c.origin == "steward", place_facts.c.record_id), else_="")
    return (select(place_facts.c.place_key, place_facts.c.origin, place_facts.c.source,
                   steward_id.label("record_id"), place_facts.c.community, place_facts.c.grid,
                   func.count().label("n"))
            .where(place_facts.c.place_key.in_(keys))
            .group_by(place_facts.c.place_key, place_facts.c.origin, place_facts.c.source, steward_id,
                      place_facts.c.community, place_facts.c.grid))
