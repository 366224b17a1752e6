"""CPU cost of each write-path stage, in-process, without Kafka: where a record's time goes.

A district's department rows become source records (as the connectors make them), then each
stage runs over them in batches exactly as its agent does: decode, standardise, the ledger, the
resolver (state and outbox) and the projection, each on its own SQLite file in a temporary
folder. Prints µs per record and records/s per stage; ``--profile STAGE`` prints that stage's
cProfile top functions.

    .venv/bin/python -m bench.stages --residents 2000
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.accuracy import standardised
from connectors.spec import ConnectorSpec
from core.matching import Matcher, estimate_parameters
from core.standardise.stage import standardise_envelope
from onceonly.settings import PROJECT_ROOT
from schemas.codec import decode, encode
from schemas.profile_events import ProfileEvent
from schemas.record_events import RecordStandardised
from schemas.source_record import SourceRecord
from simulators.district import generate_district, render_district
from store.engine import make_engine
from store.ledger import Delivered, SourceRecordLedger
from store.profile_projection import DeliveredEvent, ProfileProjection
from store.resolver_state import ResolverState

console = Console(width=130)
BATCH = 500


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--batch", type=int, default=BATCH,
                        help="records per batch (the agents' batches hold what arrived within 20 ms: "
                             "a few dozen at the end-to-end rates measured, up to 500 under a backlog)")
    parser.add_argument("--sort", default="cumulative", choices=("cumulative", "tottime"),
                        help="the order of --profile's functions: time within them and their callees, or their own")
    parser.add_argument("--profile", choices=["decode", "standardise", "ledger", "resolve", "project"])
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]

    mappings = {p.stem: m for p in (PROJECT_ROOT / "mappings").glob("*.yaml")
                if (m := ConnectorSpec.load(p).field_mapping()) is not None}
    sources = [SourceRecord.of(source=r.source, record_id=r.record_id,
                               payload={k: ("" if v is None else str(v)) for k, v in r.row.items()},
                               mapping_version="bench")
               for r in render_district(generate_district(args.residents, seed=args.seed), seed=args.seed)]
    raw = [encode(s) for s in sources]
    n = len(raw)
    matcher = Matcher(estimate_parameters(list(standardised(min(args.residents, 5000), args.seed).values()),
                                          version="stages", seed=args.seed))
    rows: list[tuple[str, int, float]] = []

    def timed(name: str, run: Callable[[], Any], count: int) -> Any:
        profiler = cProfile.Profile() if args.profile == name else None
        started = time.process_time()
        wall = time.perf_counter()
        if profiler:
            profiler.enable()
        out = run()
        if profiler:
            profiler.disable()
        cpu = time.process_time() - started
        rows.append((name, count, cpu))
        console.print(f"{name}: {count} in {time.perf_counter() - wall:.2f} s wall, {cpu:.2f} s CPU")
        if profiler:
            pstats.Stats(profiler).sort_stats(args.sort).print_stats(45)
        return out

    decoded: list[SourceRecord] = timed("decode", lambda: [_source(decode(b)) for b in raw], n)
    made: list[RecordStandardised] = timed(
        "standardise", lambda: [r for s in decoded if isinstance(r := standardise_envelope(s, mappings), RecordStandardised)], n)
    with tempfile.TemporaryDirectory(prefix="onceonly-stages-") as tmp:
        folder = Path(tmp)
        ledger = SourceRecordLedger(make_engine(f"sqlite:///{folder / 'ledger.db'}"))
        timed("ledger", lambda: [ledger.apply([Delivered("raw", 0, i + j, s) for j, s in enumerate(chunk)])
                                 for i, chunk in _chunks(decoded, args.batch)], n)
        state = ResolverState(make_engine(f"sqlite:///{folder / 'resolver.db'}"))
        timed("resolve", lambda: [state.resolve_batch(chunk, matcher) for _, chunk in _chunks(made, args.batch)], len(made))
        events = [row.event() for row in state.outbox()]
        projection = ProfileProjection(make_engine(f"sqlite:///{folder / 'store.db'}"), id_hash_key="bench")
        timed("project", lambda: [projection.apply([DeliveredEvent("profile-events", 0, i + j, e)
                                                    for j, e in enumerate(chunk)])
                                  for i, chunk in _chunks(events, args.batch)], len(events))
        placed = projection.places
        console.print(f"places: {placed.rederived:,} profiles re-derived through a moved key "
                      f"({placed.rederived_changed:,} changed) for {len(events):,} profile events")

    table = Table(title=f"Write-path stages in-process ({n} source records, {len(made)} standardised, "
                        f"batches of {args.batch}; "
                        f"load {load_before:.1f} → {os.getloadavg()[0]:.1f})")
    for column in ("stage", "items", "CPU s", "µs per item", "items/s (one core)"):
        table.add_column(column, justify="right")
    for name, count, cpu in rows:
        table.add_row(name, f"{count:,}", f"{cpu:.2f}", f"{cpu / count * 1e6:,.0f}", f"{count / cpu:,.0f}")
    console.print(table)
    return 0


def _source(model: Any) -> SourceRecord:
    assert isinstance(model, SourceRecord)
    return model


def _chunks(items: Sequence[Any], size: int) -> list[tuple[int, Sequence[Any]]]:
    return [(i, items[i:i + size]) for i in range(0, len(items), size)]


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["main", "ProfileEvent"]
