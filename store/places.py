"""The gazetteer's adapter: place facts in, key assignments and each profile's place out.

Used inside the projection's transaction (records that name their community, profiles to
locate) and by the places consumer (the grid centre's standard addresses, stewards'
corrections). Whenever a key's assignment changes, every profile located through that key is
re-derived, so a profile's community is always ``derive_place(its candidates, the assignments)``
whatever order the facts arrived in: replay gives the same rows.

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
    """Stateless: every method works in the caller's transaction."""

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
        """Recompute the assignment of ``keys``; return those whose community or grid changed."""
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
                if before is None or (before.community, before.grid) != (assignment.community, assignment.grid):
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
        re-derive every other profile located through a key in ``moved``."""
        cands = {p.profile_id: (candidates(p) if p.is_active else ()) for p in touched}
        all_keys = {k for cs in cands.values() for c in cs for k in c.keys}
        known = self.assignments(conn, all_keys)
        located = {pid: derive_place(cs, known.get) for pid, cs in cands.items()}
        self._store_candidates(conn, cands)
        self.rederive(conn, moved, skip=set(cands))
        return located

    def _store_candidates(self, conn: Connection, cands: dict[str, tuple[PlaceCandidate, ...]]) -> None:
        if not cands:
            return
        ids = sorted(cands)
        held: dict[str, set[str]] = {pid: set() for pid in ids}
        for chunk in chunks(ids):
            for r in conn.execute(select(profile_place_keys.c.profile_id, profile_place_keys.c.place_key)
                                  .where(profile_place_keys.c.profile_id.in_(chunk))):
                held[r.profile_id].add(r.place_key)
        gone: list[tuple[str, str]] = []
        new: list[dict[str, str]] = []
        for pid in ids:
            wanted = {k for c in cands[pid] for k in c.keys}
            gone += [(k, pid) for k in held[pid] - wanted]
            new += [{"place_key": k, "profile_id": pid} for k in sorted(wanted - held[pid])]
        for pairs in chunks(gone):
            conn.execute(delete(profile_place_keys).where(
                tuple_(profile_place_keys.c.place_key, profile_place_keys.c.profile_id).in_(pairs)))
        if new:
            conn.execute(profile_place_keys.insert(), new)
        upsert(conn, profile_places, [{"profile_id": pid, "candidates": json.dumps(
            [c.as_json() for c in cands[pid]], ensure_ascii=False, sort_keys=True)} for pid in ids],
            keys=("profile_id",), update=("candidates",))

    def rederive(self, conn: Connection, keys: Iterable[str], skip: set[str] | None = None) -> int:
        """Re-derive the place of every profile located through ``keys``; return how many changed."""
        keys = sorted(set(keys))
        if not keys:
            return 0
        ids: set[str] = set()
        for chunk in chunks(keys):
            ids |= set(conn.execute(select(profile_place_keys.c.profile_id)
                                    .where(profile_place_keys.c.place_key.in_(chunk))).scalars())
        ids -= skip or set()
        changed = 0
        for chunk in chunks(sorted(ids)):
            stored = {r.profile_id: tuple(PlaceCandidate.from_json(c) for c in json.loads(r.candidates))
                      for r in conn.execute(select(profile_places).where(profile_places.c.profile_id.in_(chunk)))}
            known = self.assignments(conn, {k for cs in stored.values() for c in cs for k in c.keys})
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
