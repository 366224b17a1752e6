"""Reading validation's source batches two ways: each version standardised in-process, or the form
the resolver holds for the versions it has linked (``ResolverState.linked_forms``).

A district's department rows go into the ledger and, standardised as the stream does, through the
resolver (each on its own SQLite file, as the hub keeps them); then ``services.validation.read_batches``
reads every source's batch both ways, ``--repeat`` times each, and prints the best CPU time per
record of each (the batch rows are checked equal).

    .venv/bin/python -m bench.validation_read --residents 1000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from connectors.spec import ConnectorSpec
from core.matching import default_matcher
from core.standardise.stage import standardise_envelope
from onceonly.settings import PROJECT_ROOT
from schemas.record_events import RecordStandardised
from schemas.source_record import SourceRecord
from services.validation import Batch, read_batches
from simulators.district import generate_district, render_district
from store import flow_batches
from store.engine import make_engine
from store.ledger import Delivered, SourceRecordLedger
from store.resolver_state import ResolverState

console = Console(width=130)
BATCH = 500


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]

    specs = [ConnectorSpec.load(p) for p in sorted((PROJECT_ROOT / "mappings").glob("*.yaml"))]
    mappings = {s.source: m for s in specs if (m := s.field_mapping()) is not None and m.holds == "residents"}
    record_ids = {s.source: s.record_id for s in specs}
    envelopes = []
    for r in render_district(generate_district(args.residents, seed=args.seed), seed=args.seed):
        if r.source in mappings:
            values = {k: "" if v is None else str(v) for k, v in r.row.items()}
            envelopes.append(SourceRecord.of(source=r.source, payload=values, mapping_version="bench",
                                             record_id="|".join(values.get(c, "") for c in record_ids[r.source])))
    items = [item for e in envelopes if isinstance(item := standardise_envelope(e, mappings), RecordStandardised)]
    sources = sorted(mappings)
    with tempfile.TemporaryDirectory(prefix="onceonly-validation-read-") as tmp:
        store = make_engine(f"sqlite:///{Path(tmp) / 'store.db'}")
        flow_batches.create_tables(store)
        ledger = SourceRecordLedger(store)
        for start in range(0, len(envelopes), BATCH):
            ledger.apply([Delivered("raw", 0, start + n, e) for n, e in enumerate(envelopes[start:start + BATCH])])
        state = ResolverState(make_engine(f"sqlite:///{Path(tmp) / 'resolver.db'}"))
        matcher = default_matcher()
        for start in range(0, len(items), BATCH):
            state.resolve_batch(items[start:start + BATCH], matcher)

        def best(read: Callable[[], list[Batch]]) -> tuple[float, list[Batch]]:
            times, out = [], []
            for _ in range(args.repeat):
                started = time.process_time()
                out = read()
                times.append(time.process_time() - started)
            return min(times), out

        plain_cpu, plain = best(lambda: read_batches(store, mappings, sources))
        linked_cpu, linked = best(lambda: read_batches(store, mappings, sources, linked_forms=state.linked_forms))
    if [b.rows for b in plain] != [b.rows for b in linked]:
        console.print("[red]the two readings differ[/red]")
        return 1
    n = sum(len(b.rows) for b in plain)
    table = Table(title=f"read_batches over {n:,} ledger records ({len(items):,} resolved), best of {args.repeat}; "
                        f"load {load_before:.1f} → {os.getloadavg()[0]:.1f}")
    for column in ("reading", "CPU s", "µs per record"):
        table.add_column(column, justify="right")
    for name, cpu in (("standardised in-process", plain_cpu), ("resolver's linked forms", linked_cpu)):
        table.add_row(name, f"{cpu:.2f}", f"{cpu / n * 1e6:,.0f}")
    console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
