"""A simulated district as department files, ingested through each department's own mapping file.

Used by the pipeline tests and the benchmarks to run the whole hub on data with a known truth.
"""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from connectors.kafka_sink import KafkaSink
from connectors.pull import RunCounts
from connectors.spec import ConnectorSpec
from onceonly import bootstrap
from onceonly.settings import PROJECT_ROOT, Settings
from simulators.district import generate_district, render_district
from simulators.district.gazetteer import standard_address_rows, write_standard_addresses

DEPARTMENTS = ("grid_centre", "public_security", "social_security", "civil_affairs", "housing", "community")


def write_department_files(folder: Path, n_residents: int, seed: int) -> dict[str, str]:
    """Render a district into one UTF-8 (BOM) CSV per department, plus the grid centre's
    standard-address file; return the truth {source:record_id: resident} of the resident records."""
    folder.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[dict[str, str | None]]] = defaultdict(list)
    truth: dict[str, str] = {}
    residents = list(generate_district(n_residents, seed=seed))
    write_standard_addresses(folder / "grid_centre.csv", standard_address_rows(residents, seed))
    for rendered in render_district(residents, seed=seed):
        rows[rendered.source].append(rendered.row)
        truth[f"{rendered.source}:{rendered.record_id}"] = rendered.resident_id
    for source, department_rows in rows.items():
        columns = list(dict.fromkeys(k for row in department_rows for k in row))
        # UTF-8 with a BOM: the connector reads a BOM as UTF-8 whatever the mapping declares
        with (folder / f"{source}.csv").open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in department_rows)
    return truth


def ingest_department_files(settings: Settings, folder: Path,
                            on_source: Callable[[str, RunCounts, float], None] | None = None) -> int:
    """Each department file through that department's own mapping file, as ``onceonly ingest`` does;
    return how many resident-record events were sent (standard addresses are not linked to profiles).
    ``on_source`` is told each department's counts and wall seconds (the benchmarks print them)."""
    events = 0
    db = bootstrap.engine(settings)  # one engine for every department: each new one migrates first
    try:
        with KafkaSink(settings.kafka_bootstrap or "") as sink:
            for source in DEPARTMENTS:
                path = folder / f"{source}.csv"
                if not path.exists():
                    continue
                spec = ConnectorSpec.load(PROJECT_ROOT / "mappings" / f"{source}.yaml")
                started = time.perf_counter()
                counts = bootstrap.connector(settings, spec, sink, only_file=path, db=db).run()
                if on_source is not None:
                    on_source(source, counts, time.perf_counter() - started)
                if not counts.balanced:
                    raise RuntimeError(f"{source}: counts do not add up: {counts}")
                if spec.holds == "residents":
                    events += counts.events
    finally:
        db.dispose()
    return events
