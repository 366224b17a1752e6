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

Then ``--rounds`` rounds of door checks (入户核实, default 2): for every resident whose profile the
hub flags 住址有冲突, the simulated community worker knocks and writes what she finds
(``simulators.district.door_checks``: nobody at home as often as a visit round misses a household,
drawn afresh for each visit, a visit's usual noise), a community visit with 核实方式 入户核实 that goes
through the same standardise → resolve → projection path as every record. Each later round starts
when the one before ends; the worker returns to the flagged residents she has not yet spoken to:
those not at home (or gone) last time and those flagged since. What the hub sees of a round is
only the answers; whom she visits follows from the hub's flags and her own list of who answered.
The figures are printed before and after each round, with how many residents were flagged,
visited and answered, and whether each answer reached the flagged profile.

``--explain`` prints, for each resident still in a wrong community and not flagged after the last
round, the profile's place candidates (kind, departments, dates, what each names and what the
gazetteer gives for each key) and why no flag fires. Profile ids and source names only: no ID
number, name or phone.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, select

from connectors.spec import ConnectorSpec
from core.matching import Matcher, estimate_parameters
from core.places import Assignment, PlaceCandidate, derive_place
from core.resolution.memory import ResolverMemory
from core.standardise import FieldMapping
from core.standardise.stage import standardise_envelope
from onceonly.settings import PROJECT_ROOT
from schemas.record_events import RecordStandardised
from schemas.source_record import SourceRecord
from simulators.district import RenderedRecord, door_check_round, generate_district, render_district
from simulators.district.config import EvolutionConfig, NoiseConfig
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


def run(n: int, seed: int, store_url: str, n_rounds: int = 2) -> dict[str, object]:
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

    # Door-check rounds on the flagged residents, through the same path as every record. The
    # worker's list for a round: the residents the hub flags now whom she has not spoken to yet.
    present = {r.resident_id for r in residents if r.present}
    step = EvolutionConfig().step_days
    first_day = NoiseConfig().observed_on + timedelta(days=1)
    score, spoken_to, visited_ever = before, set[str](), set[str]()
    rounds: list[dict[str, object]] = []
    for number in range(1, n_rounds + 1):
        flagged: set[str] = score["flagged"]  # type: ignore[assignment]
        visit = flagged - spoken_to
        profile_then: dict[str, str] = score["profile_of"]  # type: ignore[assignment]
        answers = _standardised(door_check_round(residents, visit, seed, round_number=number,
                                                 starts_on=first_day + timedelta(days=(number - 1) * step), days=step),
                                field_mappings, owner)
        offset = _resolve(answers, resolver, matcher, projection, offset)
        after = _score(engine, owner, truth_place)
        linked_after: dict[str, str] = after["linked"]  # type: ignore[assignment]
        reached = sum(1 for a in answers if linked_after.get(a.key) == profile_then[owner[a.key]])
        answered = {owner[a.key] for a in answers}
        rounds.append({"round": number, "flagged_profiles": score["flagged_profiles"], "visited": len(visit),
                       "again": len(visit & visited_ever), "nobody_there": len(visit - present),
                       "answered": len(answers), "reached": reached,
                       "answered_still_flagged": len((spoken_to | answered) & after["flagged"]),  # type: ignore[operator]
                       "after": after})
        spoken_to |= answered
        visited_ever |= visit
        score = after
    return {"before": before, "rounds": rounds, "elapsed": elapsed, "records": len(items),
            "standard_rows": len(standard), "residents": len(residents), "explain": _explain(engine, score, owner, truth_place)}


def _explain(engine: Engine, score: dict[str, object], owner: dict[str, str],
             truth_place: dict[str, tuple[str, str]]) -> list[str]:
    """For each resident whose profile is in a wrong community and not flagged: the profile's place
    candidates, what the gazetteer gives for their keys, and why no flag fires. Profile ids and
    source names only."""
    profile_of: dict[str, str] = score["profile_of"]  # type: ignore[assignment]
    linked: dict[str, str] = score["linked"]  # type: ignore[assignment]
    with engine.connect() as conn:
        placed = {r.profile_id: r for r in conn.execute(
            select(profiles.c.profile_id, profiles.c.community, profiles.c.grid, profiles.c.place_basis,
                   profiles.c.place_contested).where(profiles.c.status == "active"))}
        gazetteer = {r.place_key: Assignment(r.community, r.grid, r.origin, r.disagreement)
                     for r in conn.execute(select(places))}
        cands = {r.profile_id: r.candidates for r in conn.execute(select(profile_places))}
    sources_of: dict[str, Counter[str]] = defaultdict(Counter)
    profiles_of: dict[str, set[str]] = defaultdict(set)
    for key, pid in linked.items():
        sources_of[pid][key.partition(":")[0]] += 1
        profiles_of[owner[key]].add(pid)
    lines: list[str] = []
    for resident, pid in sorted(profile_of.items(), key=lambda item: item[1]):
        row = placed[pid]
        true_community = truth_place[resident][0]
        if row.community is None or row.community == true_community or row.place_contested:
            continue
        found = [PlaceCandidate.from_json(c) for c in json.loads(cands.get(pid, "[]"))]
        others = {p: dict(sorted(sources_of[p].items())) for p in sorted(profiles_of[resident] - {pid})}
        lines.append(f"profile {pid}: placed in {row.community} ({row.grid or 'no grid'}, basis {row.place_basis}), "
                     f"truly in {true_community}; records {dict(sorted(sources_of[pid].items()))}"
                     + (f"; the resident's other profiles {others}" if others else ""))
        for c in found:
            alone = derive_place([c], gazetteer.get)
            dates = ", ".join(f"{k} {v}" for k, v in (("changed", c.changed_on), ("seen", c.seen_on),
                                                       ("checked", c.verified_on)) if v)
            verdict = "right" if alone.community == true_community else "WRONG" if alone.community else "unplaced"
            lines.append(f"  {c.kind:<11} {'+'.join(c.sources)} ×{c.votes}{f' ({dates})' if dates else ''}: "
                         f"names {c.community or '-'}{'/' + c.grid if c.grid else ''} → {alone.community or '-'} "
                         f"[{verdict}]")
            for key in c.keys:
                a = gazetteer.get(key)
                lines.append(f"      {key}: " + (f"{a.community}/{a.grid or '-'} by {a.origin}"
                                                  + (" (disagreement)" if a.disagreement else "") if a else "unknown"))
        lines.append("  why no flag: " + _why(found, gazetteer.get, true_community))
    return lines


def _why(found: list[PlaceCandidate], lookup: Callable[[str], Assignment | None], true_community: str) -> str:
    """Why the candidates raise no 住址有冲突: which of them place the profile where."""
    living = [c for c in found if c.kind == "residential"] or [c for c in found if c.kind == "property"]
    where = {c: derive_place([c], lookup).community for c in living}
    communities = {w for w in where.values() if w is not None}
    if not living:
        return "no residential or property address: placed by the registered address alone, which is never contested"
    if any(w == true_community for w in where.values()):
        return ("a dwelling in the true community is left out of the vote (older news, or settled at the door "
                "elsewhere): " + ", ".join(f"{'+'.join(c.sources)}" for c, w in where.items() if w == true_community))
    if len(communities) <= 1:
        named = [c for c in living if c.community is not None]
        return (f"every dwelling the profile holds places it in {', '.join(communities) or 'nothing'} "
                f"({len(named)} of {len(living)} name their community themselves, the rest through the gazetteer): "
                "nothing disagrees")
    return f"the dwellings name {sorted(communities)}, yet no flag: see derive_place"


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
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds of door checks (default 2: the worker returns once to those she did not find "
                             "and to those flagged since)")
    parser.add_argument("--explain", action="store_true",
                        help="after the last round, print why each resident still in a wrong community is not flagged")
    parser.add_argument("--store", help="SQLAlchemy URL of an empty store (default: a temporary SQLite file)")
    args = parser.parse_args(argv)
    if args.rounds < 0:
        parser.error("--rounds must be 0 or more")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="onceonly-coverage-") as tmp:
        result = run(args.residents, args.seed, args.store or f"sqlite:///{Path(tmp) / 'store.db'}", args.rounds)
    before: dict[str, object] = result["before"]  # type: ignore[assignment]
    rounds: list[dict[str, object]] = result["rounds"]  # type: ignore[assignment]
    last: dict[str, object] = rounds[-1]["after"] if rounds else before  # type: ignore[assignment]
    rows: dict[str, Counter[str]] = before["rows"]  # type: ignore[assignment]
    rows_after: dict[str, Counter[str]] = last["rows"]  # type: ignore[assignment]
    sees: dict[str, set[str]] = before["worker_sees"]  # type: ignore[assignment]
    truth: dict[str, set[str]] = before["truth"]  # type: ignore[assignment]
    table = Table(title=f"Community of each resident's profile: {result['residents']} residents, "
                        f"{result['records']} records, {result['standard_rows']} standard-address rows, seed {args.seed}"
                        f" (before door checks; the last two columns after {len(rounds)} round(s))")
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
    total_after = _totals(last)[0]
    n = total["residents"]
    table.add_row("[b]all[/]", str(n), f"{total['right'] / n:.2%}", f"{total['wrong'] / n:.2%}",
                  f"{total['none'] / n:.2%}", f"{total['grid_right'] / n:.2%}", f"{total['grid_wrong'] / n:.2%}",
                  f"{total['grid_none'] / n:.2%}", str(shown), str(here), str(missed),
                  _share(total_after["right"], total_after["residents"]),
                  _share(total_after["wrong"], total_after["residents"]))
    console.print(table)

    per_round = Table(title="Door checks (入户核实), round by round: whom the worker visits, and where the profiles "
                            "stand after the round (residents the gazetteer covers)")
    for column in ("round", "flagged profiles", "visited (again)", "no longer there", "answered",
                   "answers reaching the flagged profile", "answered, still flagged", "right", "wrong",
                   "flagged residents", "wrong: flagged / not"):
        per_round.add_column(column, justify="left" if column == "round" else "right")

    def standing(score: dict[str, object]) -> list[str]:
        t = _totals(score)[0]
        flagged = t["contested_right"] + t["contested_wrong"] + t["contested_none"]
        return [f"{_share(t['covered_right'], t['covered'])} ({t['covered_right']})",
                f"{_share(t['covered_wrong'], t['covered'])} ({t['covered_wrong']})", str(flagged),
                f"{t['contested_wrong']} / {t['wrong'] - t['contested_wrong']}"]

    per_round.add_row("before", "", "", "", "", "", "", *standing(before))
    for r in rounds:
        per_round.add_row(str(r["round"]), str(r["flagged_profiles"]), f"{r['visited']} ({r['again']})",
                          str(r["nobody_there"]), str(r["answered"]), str(r["reached"]), str(r["answered_still_flagged"]),
                          *standing(r["after"]))  # type: ignore[arg-type]
    console.print(per_round)
    console.print("visited: the flagged residents the worker has not yet spoken to (again: visited in an earlier "
                  "round, not at home or gone then); no longer there: left the district or died (no answer); the rest "
                  "not answered were not at home, drawn afresh for each visit")

    summary = Table(title=f"Before and after {len(rounds)} round(s) of door checks")
    summary.add_column("measure", justify="left")
    for column in ("before", *(f"after round {r['round']}" for r in rounds), "target"):
        summary.add_column(column, justify="right")
    totals = [total, *(_totals(r["after"])[0] for r in rounds)]  # type: ignore[arg-type]
    for label, key, target in (
            ("right community (residents the gazetteer covers)", "covered_right", "≥ 99.5 %"),
            ("wrong community (residents the gazetteer covers)", "covered_wrong", "≤ 0.1 %"),
            ("no community (residents the gazetteer covers)", "covered_none", ""),
            ("right community (all residents)", "right", ""),
            ("wrong community (all residents)", "wrong", ""),
            ("right grid", "grid_right", ""), ("wrong grid", "grid_wrong", ""), ("no grid", "grid_none", "")):
        whole = "covered" if key.startswith("covered_") else "residents"
        summary.add_row(label, *(f"{_share(t[key], t[whole])} ({t[key]})" for t in totals), target)
    summary.add_row("flagged 住址有冲突 (residents)",
                    *(str(t["contested_right"] + t["contested_wrong"] + t["contested_none"]) for t in totals), "")
    summary.add_row("wrong and flagged / wrong and not flagged",
                    *(f"{t['contested_wrong']} / {t['wrong'] - t['contested_wrong']}" for t in totals), "")
    scopes = [(here, shown, missed), *((t[2], t[1], t[3]) for t in (_totals(r["after"]) for r in rounds))]  # type: ignore[arg-type]
    summary.add_row("workers' scopes: truly there / shown (missing)", *(f"{h} / {s} ({m})" for h, s, m in scopes), "")
    console.print(summary)
    console.print(f"residents with a record whose dwelling the gazetteer covers (or that names its community): "
                  f"{total['covered']} of {n} before, {total_after['covered']} of {total_after['residents']} after")
    console.print(f"resolution + projection {result['elapsed']:.0f} s; load average before "
                  f"{load_before[0]:.2f}, after {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    if args.explain:
        explained: list[str] = result["explain"]  # type: ignore[assignment]
        console.print(f"\nwrong community and not flagged after {len(rounds)} round(s): "
                      f"{sum(1 for line in explained if line.startswith('profile '))} residents", markup=False)
        for line in explained:
            console.print(line, markup=False, highlight=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
