"""Accuracy, side by side: the hub's resolver vs Splink vs plain ID-number grouping.

Generates a fresh district (a seed not used while developing), runs it through the real broker
and stream workers, exports the links, and scores all three on the same standardised records.

    .venv/bin/python -m bench.accuracy --residents 5000 --seed 20261121
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.scoring import score
from bench.splink_baseline import id_number_groups, splink_clusters
from connectors.spec import ConnectorSpec
from core.matching import estimate_parameters
from core.standardise.stage import standardise_envelope
from localinfra.kafka_broker import KafkaBroker
from localinfra.processes import spawn, stop
from onceonly import bootstrap
from onceonly.settings import PROJECT_ROOT, Settings
from schemas.record_events import RecordStandardised
from schemas.resident import ResidentRecord
from schemas.source_record import SourceRecord
from simulators.district import generate_district, render_district
from simulators.district_files import ingest_department_files, write_department_files
from store.matcher_parameters import MatcherParameterStore

console = Console(width=130)


def standardised(n: int, seed: int) -> dict[str, ResidentRecord]:
    """The district's records standardised in-process, exactly as the standardise agent does it."""
    mappings = {p.stem: ConnectorSpec.load(p).field_mapping() for p in (PROJECT_ROOT / "mappings").glob("*.yaml")}
    out: dict[str, ResidentRecord] = {}
    for rendered in render_district(generate_district(n, seed=seed), seed=seed):
        payload = {k: ("" if v is None else str(v)) for k, v in rendered.row.items()}
        envelope = SourceRecord.of(source=rendered.source, record_id=rendered.record_id, payload=payload,
                                   mapping_version="bench")
        result = standardise_envelope(envelope, {k: v for k, v in mappings.items() if v is not None})
        if isinstance(result, RecordStandardised) and result.record is not None:
            out[result.key] = result.record
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--bootstrap", help="an existing Kafka cluster (default: start the local broker)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="onceonly-accuracy-") as tmp:
        work = Path(tmp)
        console.print(f"district: {args.residents} residents, seed {args.seed}")
        truth = write_department_files(work / "departments", args.residents, args.seed)
        records = standardised(args.residents, args.seed)
        console.print(f"{len(truth)} department records, {len(records)} standardised")

        started = time.monotonic()
        broker = None
        if args.bootstrap is None:
            broker = KafkaBroker(data_dir=work / "kafka")
            broker.start()
        address = args.bootstrap or broker.bootstrap  # type: ignore[union-attr]
        settings = Settings(data_dir=work / "var", kafka_bootstrap=address, topic_prefix=f"acc{args.seed}.",
                            app_id=f"accuracy-{args.seed}")
        try:
            # EM on the district's own standardised records (no labels), then the real pipeline.
            now = datetime.now(UTC)
            parameters = estimate_parameters(list(records.values()), version=f"bench-{args.seed}", trained_at=now,
                                             seed=args.seed)
            MatcherParameterStore(bootstrap.engine(settings)).save(parameters)
            bootstrap.prepare_topics(settings)
            env = _env(settings)
            workers = [spawn([sys.executable, "-m", "onceonly.cli", "worker"], work / f"worker-{i}.log", env=env)
                       for i in range(args.workers)]
            try:
                sent = ingest_department_files(settings, work / "departments")
                links = _wait_for_links(settings, sent)
            finally:
                for proc in workers:
                    stop(proc)
        finally:
            if broker is not None:
                broker.stop()
        elapsed = time.monotonic() - started

    hub = score(truth, links)
    naive = score(truth, id_number_groups(list(records.values())))
    console.print(f"OnceOnly: precision {hub.precision:.4f} recall {hub.recall:.4f} F1 {hub.f1:.4f}")
    t0 = time.monotonic()
    splink = score(truth, splink_clusters(list(records.values()), seed=args.seed))
    splink_s = time.monotonic() - t0
    table = Table(title=f"Pairwise accuracy, {len(truth)} records of {args.residents} residents (seed {args.seed})")
    for column in ("method", "precision", "recall", "F1", "mixed profiles", "profiles", "records"):
        table.add_column(column, justify="right" if column != "method" else "left")
    for name, s in (("OnceOnly (Kafka + workers)", hub), ("Splink 5 (DuckDB, EM)", splink), ("ID-number grouping", naive)):
        table.add_row(name, f"{s.precision:.4f}", f"{s.recall:.4f}", f"{s.f1:.4f}", str(s.mixed_clusters),
                      str(s.clusters), str(s.records))
    console.print(table)
    console.print(f"hub pipeline {elapsed:.0f} s (broker start, {args.workers} workers), Splink {splink_s:.0f} s")
    return 0


def _env(settings: Settings) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("ONCEONLY_")}
    env.update({"ONCEONLY_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "", "ONCEONLY_DATA_DIR": str(settings.data_dir),
                "ONCEONLY_TOPIC_PREFIX": settings.topic_prefix, "ONCEONLY_APP_ID": settings.app_id})
    if settings.database_url:
        env["ONCEONLY_DATABASE_URL"] = settings.database_url
    return env


def _wait_for_links(settings: Settings, expected: int, timeout: float = 3600) -> dict[str, str]:
    projection = bootstrap.profile_projection(settings)
    deadline = time.monotonic() + timeout
    last: dict[str, str] = {}
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        links = {f"{s}:{r}": p for s, r, p in projection.links()}
        if links != last:
            last, stable_since = links, time.monotonic()
        elif len(links) >= expected and time.monotonic() - stable_since > 5:
            return links
        time.sleep(1.0)
    raise TimeoutError(f"only {len(last)} of {expected} records were linked in time")


if __name__ == "__main__":
    raise SystemExit(main())
