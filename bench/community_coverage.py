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
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from connectors.spec import ConnectorSpec
from core.matching import Matcher, estimate_parameters
from core.resolution.memory import ResolverMemory
from core.standardise.stage import standardise_envelope
from onceonly.settings import PROJECT_ROOT
from schemas.record_events import RecordStandardised
from schemas.source_record import SourceRecord
from simulators.district import generate_district, render_district
from simulators.district.gazetteer import standard_address_rows
from store.engine import make_engine
from store.place_projection import DeliveredPlaceEvent, PlaceProjection
from store.place_tables import places, profile_places
from store.profile_projection import DeliveredEvent, ProfileProjection
from store.profile_tables import profiles, record_links

console = Console(width=140)
KEY = "bench-key"


def _mappings() -> dict[str, ConnectorSpec]:
    return {p.stem: ConnectorSpec.load(p) for p in sorted((PROJECT_ROOT / "mappings").glob("*.yaml"))}


def run(n: int, seed: int, store_url: str) -> dict[str, object]:
    specs = _mappings()
    field_mappings = {s: spec.field_mapping() for s, spec in specs.items() if spec.field_mapping() is not None}
    residents = list(generate_district(n, seed=seed))
    truth_place = {r.resident_id: (r.address.community, f"{r.address.community}/{r.address.grid}") for r in residents}
    items: list[RecordStandardised] = []
    owner: dict[str, str] = {}
    for rendered in render_district(residents, seed=seed):
        payload = {k: ("" if v is None else str(v)) for k, v in rendered.row.items()}
        envelope = SourceRecord.of(source=rendered.source, record_id=rendered.record_id, payload=payload,
                                   mapping_version="bench")
        result = standardise_envelope(envelope, field_mappings)  # type: ignore[arg-type]
        if isinstance(result, RecordStandardised) and result.record is not None:
            items.append(result)
            owner[result.key] = rendered.resident_id
    standard = []
    for row in standard_address_rows(residents, seed):
        envelope = SourceRecord.of(source="grid_centre", record_id=row["地址编码"], payload=row, mapping_version="bench")
        result = standardise_envelope(envelope, field_mappings)  # type: ignore[arg-type]
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
    offset = 0
    batch: list[DeliveredEvent] = []
    for item in items:
        for event in resolver.resolve(item, matcher):
            batch.append(DeliveredEvent("profile-events", 0, offset, event))
            offset += 1
        if len(batch) >= 500:
            projection.apply(batch)
            batch = []
    projection.apply(batch)
    elapsed = time.monotonic() - started

    with engine.connect() as conn:
        placed = {r.profile_id: (r.community, r.grid) for r in conn.execute(
            select(profiles.c.profile_id, profiles.c.community, profiles.c.grid, profiles.c.place_contested)
            .where(profiles.c.status == "active"))}
        contested = {r.profile_id for r in conn.execute(
            select(profiles.c.profile_id).where(profiles.c.place_contested.is_(True)))}
        linked = {f"{r.source}:{r.record_id}": r.profile_id for r in conn.execute(
            select(record_links.c.source, record_links.c.record_id, record_links.c.profile_id)) if r.profile_id in placed}
        known_keys = set(conn.execute(select(places.c.place_key)).scalars())
        cands = {r.profile_id: r.candidates for r in conn.execute(select(profile_places))}
    # Each resident's profile: the one holding most of their records.
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for key, resident in owner.items():
        if key in linked:
            votes[resident][linked[key]] += 1
    covered: dict[str, bool] = {}
    for resident, counter in votes.items():
        pid = counter.most_common(1)[0][0]
        covered[resident] = any(
            (c.get("community") is not None) or any(k in known_keys for k in c.get("keys", []))
            for c in json.loads(cands.get(pid, "[]")))
    rows: dict[str, Counter[str]] = defaultdict(Counter)
    worker_sees: dict[str, set[str]] = defaultdict(set)
    for resident, counter in votes.items():
        pid = counter.most_common(1)[0][0]
        community, grid = placed[pid]
        true_community, true_grid = truth_place[resident]
        row = rows[true_community]
        row["residents"] += 1
        row["covered"] += covered[resident]
        verdict = "none" if community is None else ("right" if community == true_community else "wrong")
        row[verdict] += 1
        if covered[resident]:
            row[f"covered_{verdict}"] += 1
        if pid in contested:
            row[f"contested_{verdict}"] += 1
        grid_verdict = "grid_none" if grid is None else ("grid_right" if grid == true_grid else "grid_wrong")
        row[grid_verdict] += 1
    for pid, (community, _) in placed.items():
        if community is not None:
            residents_here = {owner[k] for k, p in linked.items() if p == pid}
            worker_sees[community] |= residents_here
    truth_by_community: dict[str, set[str]] = defaultdict(set)
    for resident in votes:
        truth_by_community[truth_place[resident][0]].add(resident)
    return {"rows": rows, "worker_sees": worker_sees, "truth": truth_by_community, "elapsed": elapsed,
            "records": len(items), "standard_rows": len(standard), "residents": len(residents)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--store", help="SQLAlchemy URL of an empty store (default: a temporary SQLite file)")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="onceonly-coverage-") as tmp:
        result = run(args.residents, args.seed, args.store or f"sqlite:///{Path(tmp) / 'store.db'}")
    rows: dict[str, Counter[str]] = result["rows"]  # type: ignore[assignment]
    sees: dict[str, set[str]] = result["worker_sees"]  # type: ignore[assignment]
    truth: dict[str, set[str]] = result["truth"]  # type: ignore[assignment]
    table = Table(title=f"Community of each resident's profile: {result['residents']} residents, "
                        f"{result['records']} records, {result['standard_rows']} standard-address rows, seed {args.seed}")
    for column in ("community", "residents", "right", "wrong", "none", "grid right", "grid wrong", "grid none",
                   "worker sees", "of them truly here", "missed"):
        table.add_column(column, justify="left" if column == "community" else "right")
    total: Counter[str] = Counter()
    seen_total = here_total = missed_total = 0
    for community in sorted(rows):
        row = rows[community]
        total.update(row)
        seen = sees.get(community, set())
        here = seen & truth[community]
        missed = len(truth[community] - seen)
        seen_total += len(seen)
        here_total += len(here)
        missed_total += missed
        n = row["residents"]
        table.add_row(community, str(n), f"{row['right'] / n:.1%}", f"{row['wrong'] / n:.1%}", f"{row['none'] / n:.1%}",
                      f"{row['grid_right'] / n:.1%}", f"{row['grid_wrong'] / n:.1%}", f"{row['grid_none'] / n:.1%}",
                      str(len(seen)), str(len(here)),
                      str(missed))
    n = total["residents"]
    table.add_row("[b]all[/]", str(n), f"{total['right'] / n:.2%}", f"{total['wrong'] / n:.2%}",
                  f"{total['none'] / n:.2%}", f"{total['grid_right'] / n:.2%}", f"{total['grid_wrong'] / n:.2%}",
                  f"{total['grid_none'] / n:.2%}",
                  str(seen_total), str(here_total), str(missed_total))
    console.print(table)
    c = total["covered"]
    console.print(f"residents with a record whose dwelling the gazetteer covers (or that names its community): {c} "
                  f"of {n}; of them right {total['covered_right'] / c:.2%} (target ≥ 99.5 %), "
                  f"wrong {total['covered_wrong'] / c:.2%} (target ≤ 0.1 %), none {total['covered_none'] / c:.2%}")
    console.print(f"flagged 住址有冲突 (the records disagree on the community; a check at the door): "
                  f"{total['contested_right'] + total['contested_wrong']}, of them wrong {total['contested_wrong']}; "
                  f"wrong and not flagged: {total['wrong'] - total['contested_wrong']}")
    console.print(f"workers' scopes: {here_total} of {seen_total} residents shown are truly there "
                  f"({here_total / max(seen_total, 1):.2%}); {missed_total} residents missing from their worker's list")
    console.print(f"resolution + projection {result['elapsed']:.0f} s; load average before "
                  f"{load_before[0]:.2f}, after {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
