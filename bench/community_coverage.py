"""Where residents live: the share whose profile carries the right community (and grid), a wrong
one, or none, per community and in total, and what each community worker's scope returns
against the truth.

A fresh district from the project's generator, its five department systems plus the grid centre's
standard-address file (with its gaps and wrong rows), run through the hub's own code: the
standardise stage, the resolver (matcher trained by EM on the district's records, as `onceonly
train` does), and the profile store's projection with the gazetteer, into a real SQLite store.
The broker is left out (it changes no decision, only the transport); `bench/accuracy.py` runs the
same district through Kafka and the workers.

    .venv/bin/python -m bench.community_coverage --residents 5000 --seed 20261202

Targets (issue #10): right community ≥ 99.5 %, wrong ≤ 0.1 % for residents with at least one
record whose dwelling the gazetteer covers.

Then one round of door checks (入户核实): for every resident whose profile the hub flags 住址有冲突,
the simulated community worker knocks and writes what she finds (``simulators.district.door_checks``:
nobody at home as often as a visit round misses a household, a visit's usual noise), a community
visit with 核实方式 入户核实 that goes through the same standardise → resolve → projection path as
every record. The figures are printed before and after the round, with how many residents were
flagged, visited and answered, and whether each answer reached the flagged profile.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, select

from connectors.spec import ConnectorSpec
from core.matching import Matcher, estimate_parameters
from core.resolution.memory import ResolverMemory
from core.standardise import FieldMapping
from core.standardise.stage import standardise_envelope
from onceonly.settings import PROJECT_ROOT
from schemas.record_events import RecordStandardised
from schemas.source_record import SourceRecord
from simulators.district import RenderedRecord, door_check_round, generate_district, render_district
from simulators.district.gazetteer import standard_address_rows
from store.engine import make_engine
from store.place_projection import DeliveredPlaceEvent, PlaceProjection
from store.place_tables import places, profile_places
from store.profile_projection import DeliveredEvent, ProfileProjection
from store.profile_tables import profiles, record_links

console = Console(width=170)
KEY = "bench-key"


def _mappings() -> dict[str, ConnectorSpec]:
    return {p.stem: ConnectorSpec.load(p) for p in sorted((PROJECT_ROOT / "mappings").glob("*.yaml"))}


def _standardised(records: Iterable[RenderedRecord], field_mappings: dict[str, FieldMapping],
                  owner: dict[str, str]) -> list[RecordStandardised]:
    """Each rendered row through the standardise stage; ``owner`` learns whose record each one is."""
    items: list[RecordStandardised] = []
    for rendered in records:
        payload = {k: ("" if v is None else str(v)) for k, v in rendered.row.items()}
        envelope = SourceRecord.of(source=rendered.source, record_id=rendered.record_id, payload=payload,
                                   mapping_version="bench")
        result = standardise_envelope(envelope, field_mappings)
        if isinstance(result, RecordStandardised) and result.record is not None:
            items.append(result)
            owner[result.key] = rendered.resident_id
    return items


def _resolve(items: Iterable[RecordStandardised], resolver: ResolverMemory, matcher: Matcher,
             projection: ProfileProjection, offset: int) -> int:
    """Resolve and project ``items`` in batches; return the next profile-events offset."""
    batch: list[DeliveredEvent] = []
    for item in items:
        for event in resolver.resolve(item, matcher):
            batch.append(DeliveredEvent("profile-events", 0, offset, event))
            offset += 1
        if len(batch) >= 500:
            projection.apply(batch)
            batch = []
    projection.apply(batch)
    return offset


def _score(engine: Engine, owner: dict[str, str], truth_place: dict[str, tuple[str, str]]) -> dict[str, object]:
    """Per true community: residents, right/wrong/none community and grid, flagged; what each
    worker's scope shows; and each resident's profile (the one holding most of their records)."""
    with engine.connect() as conn:
        placed = {r.profile_id: (r.community, r.grid) for r in conn.execute(
            select(profiles.c.profile_id, profiles.c.community, profiles.c.grid, profiles.c.place_contested)
            .where(profiles.c.status == "active"))}
        contested = {r.profile_id for r in conn.execute(
            select(profiles.c.profile_id).where(profiles.c.place_contested.is_(True),
                                                profiles.c.status == "active"))}
        linked = {f"{r.source}:{r.record_id}": r.profile_id for r in conn.execute(
            select(record_links.c.source, record_links.c.record_id, record_links.c.profile_id)) if r.profile_id in placed}
        known_keys = set(conn.execute(select(places.c.place_key)).scalars())
        cands = {r.profile_id: r.candidates for r in conn.execute(select(profile_places))}
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for key, resident in owner.items():
        if key in linked:
            votes[resident][linked[key]] += 1
    profile_of = {resident: counter.most_common(1)[0][0] for resident, counter in votes.items()}
    rows: dict[str, Counter[str]] = defaultdict(Counter)
    worker_sees: dict[str, set[str]] = defaultdict(set)
    for resident, pid in profile_of.items():
        covered = any((c.get("community") is not None) or any(k in known_keys for k in c.get("keys", []))
                      for c in json.loads(cands.get(pid, "[]")))
        community, grid = placed[pid]
        true_community, true_grid = truth_place[resident]
        row = rows[true_community]
        row["residents"] += 1
        row["covered"] += covered
        verdict = "none" if community is None else ("right" if community == true_community else "wrong")
        row[verdict] += 1
        if covered:
            row[f"covered_{verdict}"] += 1
        if pid in contested:
            row[f"contested_{verdict}"] += 1
        grid_verdict = "grid_none" if grid is None else ("grid_right" if grid == true_grid else "grid_wrong")
        row[grid_verdict] += 1
    residents_of: dict[str, set[str]] = defaultdict(set)
    for key, pid in linked.items():
        residents_of[pid].add(owner[key])
    for pid, (community, _) in placed.items():
        if community is not None:
            worker_sees[community] |= residents_of[pid]
    truth_by_community: dict[str, set[str]] = defaultdict(set)
    for resident in votes:
        truth_by_community[truth_place[resident][0]].add(resident)
    # The residents the hub sends a worker to: those whose own profile is flagged.
    flagged = {resident for resident, pid in profile_of.items() if pid in contested}
    return {"rows": rows, "worker_sees": worker_sees, "truth": truth_by_community, "flagged": flagged,
            "flagged_profiles": len(contested), "profile_of": profile_of, "linked": linked}


def run(n: int, seed: int, store_url: str) -> dict[str, object]:
    specs = _mappings()
    field_mappings = {s: m for s, spec in specs.items() if (m := spec.field_mapping()) is not None}
    residents = list(generate_district(n, seed=seed))
    truth_place = {r.resident_id: (r.address.community, f"{r.address.community}/{r.address.grid}") for r in residents}
    owner: dict[str, str] = {}
    items = _standardised(render_district(residents, seed=seed), field_mappings, owner)
    standard = []
    for row in standard_address_rows(residents, seed):
        envelope = SourceRecord.of(source="grid_centre", record_id=row["地址编码"], payload=row, mapping_version="bench")
        result = standardise_envelope(envelope, field_mappings)
        if isinstance(result, RecordStandardised):
            standard.append(result)

    started = time.monotonic()
    parameters = estimate_parameters([i.record for i in items if i.record is not None], version=f"bench-{seed}",
                                     trained_at=datetime.now(UTC), seed=seed)
    matcher = Matcher(parameters, id_hash_key=KEY)
    engine = make_engine(store_url)
    gazetteer = PlaceProjection(engine)
    gazetteer.apply([DeliveredPlaceEvent("places", 0, i, e) for i, e in enumerate(standard)])
    projection = ProfileProjection(engine, id_hash_key=KEY)
    resolver = ResolverMemory()
    offset = _resolve(items, resolver, matcher, projection, 0)
    elapsed = time.monotonic() - started
    before = _score(engine, owner, truth_place)

    # One round of door checks on the flagged residents, through the same path as every record.
    flagged: set[str] = before["flagged"]  # type: ignore[assignment]
    answers = _standardised(door_check_round(residents, flagged, seed), field_mappings, owner)
    offset = _resolve(answers, resolver, matcher, projection, offset)
    after = _score(engine, owner, truth_place)
    profile_before: dict[str, str] = before["profile_of"]  # type: ignore[assignment]
    linked_after: dict[str, str] = after["linked"]  # type: ignore[assignment]
    reached = sum(1 for a in answers if linked_after.get(a.key) == profile_before[owner[a.key]])
    present = {r.resident_id for r in residents if r.present}
    door = {"flagged_profiles": before["flagged_profiles"], "visited": len(flagged),
            "nobody_there": len(flagged - present), "answered": len(answers), "reached": reached}
    return {"before": before, "after": after, "door": door, "elapsed": elapsed,
            "records": len(items), "standard_rows": len(standard), "residents": len(residents)}


def _totals(score: dict[str, object]) -> tuple[Counter[str], int, int, int]:
    """The district's counts, and the workers' scopes: residents shown, truly there, missing."""
    rows: dict[str, Counter[str]] = score["rows"]  # type: ignore[assignment]
    sees: dict[str, set[str]] = score["worker_sees"]  # type: ignore[assignment]
    truth: dict[str, set[str]] = score["truth"]  # type: ignore[assignment]
    total: Counter[str] = Counter()
    for row in rows.values():
        total.update(row)
    shown = sum(len(sees.get(c, set())) for c in truth)
    here = sum(len(sees.get(c, set()) & truth[c]) for c in truth)
    missed = sum(len(truth[c] - sees.get(c, set())) for c in truth)
    return total, shown, here, missed


def _share(part: int, whole: int, digits: int = 2) -> str:
    return f"{part / whole:.{digits}%}" if whole else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--store", help="SQLAlchemy URL of an empty store (default: a temporary SQLite file)")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="onceonly-coverage-") as tmp:
        result = run(args.residents, args.seed, args.store or f"sqlite:///{Path(tmp) / 'store.db'}")
    before: dict[str, object] = result["before"]  # type: ignore[assignment]
    after: dict[str, object] = result["after"]  # type: ignore[assignment]
    rows: dict[str, Counter[str]] = before["rows"]  # type: ignore[assignment]
    rows_after: dict[str, Counter[str]] = after["rows"]  # type: ignore[assignment]
    sees: dict[str, set[str]] = before["worker_sees"]  # type: ignore[assignment]
    truth: dict[str, set[str]] = before["truth"]  # type: ignore[assignment]
    table = Table(title=f"Community of each resident's profile: {result['residents']} residents, "
                        f"{result['records']} records, {result['standard_rows']} standard-address rows, seed {args.seed}"
                        " (before door checks; the last two columns after one round)")
    for column in ("community", "residents", "right", "wrong", "none", "grid right", "grid wrong", "grid none",
                   "worker sees", "of them truly here", "missed", "right after", "wrong after"):
        table.add_column(column, justify="left" if column == "community" else "right")
    for community in sorted(rows):
        row, later = rows[community], rows_after[community]
        seen = sees.get(community, set())
        n = row["residents"]
        table.add_row(community, str(n), f"{row['right'] / n:.1%}", f"{row['wrong'] / n:.1%}", f"{row['none'] / n:.1%}",
                      f"{row['grid_right'] / n:.1%}", f"{row['grid_wrong'] / n:.1%}", f"{row['grid_none'] / n:.1%}",
                      str(len(seen)), str(len(seen & truth[community])), str(len(truth[community] - seen)),
                      _share(later["right"], later["residents"], 1), _share(later["wrong"], later["residents"], 1))
    total, shown, here, missed = _totals(before)
    total_after, shown_after, here_after, missed_after = _totals(after)
    n = total["residents"]
    table.add_row("[b]all[/]", str(n), f"{total['right'] / n:.2%}", f"{total['wrong'] / n:.2%}",
                  f"{total['none'] / n:.2%}", f"{total['grid_right'] / n:.2%}", f"{total['grid_wrong'] / n:.2%}",
                  f"{total['grid_none'] / n:.2%}", str(shown), str(here), str(missed),
                  _share(total_after["right"], total_after["residents"]),
                  _share(total_after["wrong"], total_after["residents"]))
    console.print(table)

    door: dict[str, int] = result["door"]  # type: ignore[assignment]
    console.print(f"door checks (入户核实), one round: {door['flagged_profiles']} profiles flagged 住址有冲突; "
                  f"{door['visited']} residents visited (each flagged profile's resident), "
                  f"{door['nobody_there']} of them no longer there (left or died), {door['answered']} answered "
                  f"(the rest not at home); {door['reached']} answers linked to the flagged profile")
    summary = Table(title="Before and after one round of door checks")
    for column in ("measure", "before", "after", "target"):
        summary.add_column(column, justify="left" if column == "measure" else "right")
    ns = (n, total_after["residents"])
    cov = (total["covered"], total_after["covered"])
    for label, key, whole, target in (
            ("right community (residents the gazetteer covers)", "covered_right", cov, "≥ 99.5 %"),
            ("wrong community (residents the gazetteer covers)", "covered_wrong", cov, "≤ 0.1 %"),
            ("no community (residents the gazetteer covers)", "covered_none", cov, ""),
            ("right community (all residents)", "right", ns, ""),
            ("wrong community (all residents)", "wrong", ns, ""),
            ("right grid", "grid_right", ns, ""), ("wrong grid", "grid_wrong", ns, ""),
            ("no grid", "grid_none", ns, "")):
        summary.add_row(label, f"{_share(total[key], whole[0])} ({total[key]})",
                        f"{_share(total_after[key], whole[1])} ({total_after[key]})", target)
    summary.add_row("flagged 住址有冲突 (residents)", str(total["contested_right"] + total["contested_wrong"]
                                                        + total["contested_none"]),
                    str(total_after["contested_right"] + total_after["contested_wrong"] + total_after["contested_none"]),
                    "")
    summary.add_row("wrong and flagged / wrong and not flagged",
                    f"{total['contested_wrong']} / {total['wrong'] - total['contested_wrong']}",
                    f"{total_after['contested_wrong']} / {total_after['wrong'] - total_after['contested_wrong']}", "")
    summary.add_row("workers' scopes: truly there / shown (missing)", f"{here} / {shown} ({missed})",
                    f"{here_after} / {shown_after} ({missed_after})", "")
    console.print(summary)
    console.print(f"residents with a record whose dwelling the gazetteer covers (or that names its community): "
                  f"{total['covered']} of {n} before, {total_after['covered']} of {total_after['residents']} after")
    console.print(f"resolution + projection {result['elapsed']:.0f} s; load average before "
                  f"{load_before[0]:.2f}, after {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
