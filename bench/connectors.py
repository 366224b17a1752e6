"""Connector throughput: every connector kind against its real department system and a real broker.

For each kind the department system is stood up with ``--rows`` rows, a first pull takes them
into Kafka (timed), then a second pull with nothing changed (timed: it must send nothing):

- ``sql``     public security's household register (SQLite file, ``户籍人口``), read by watermark
- ``http``    social security's API server (uvicorn, no fault injection), paged by cursor
- ``csv``     civil affairs' drop folder, GB18030 CSV, one file per street
- ``xlsx``    civil affairs' drop folder, XLSX, one workbook per street
- ``kafka``   housing's own change topic, validated against its published schema
- ``ingest``  community visits POSTed in batches to the hub's ingest API (a real uvicorn server)

Departments hold a row for only part of a district (civil affairs about 1 resident in 20), so
each department's rows are rendered from one base district (``--residents``, default
min(rows, 50,000)) and repeated with fresh record ids until there are ``--rows`` of them. Memory
is bounded by the base district, not by ``--rows``: rows are streamed into each system.

    .venv/bin/python -m bench.connectors --rows 100000
    .venv/bin/python -m bench.connectors --rows 20000 --kinds sql,csv --profile var/profiles

``--district N`` instead measures the connector stage of ``bench/throughput.py`` on its own: a
district of N residents written as one CSV per department (``write_department_files``), each
through its mapping into the local broker (``ingest_department_files``), records/s per department
and overall, with this process's CPU seconds and the machine's load before and after:

    .venv/bin/python -m bench.connectors --district 3000 [--profile var/profiles]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import resource
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from connectors.kafka_sink import KafkaSink
from connectors.pull import RunCounts
from connectors.spec import ConnectorSpec
from localinfra.kafka_broker import KafkaBroker
from onceonly import bootstrap
from onceonly.settings import PROJECT_ROOT, Settings
from simulators.district import RECORD_ID_COLUMNS, Department, department_rows, generate_district
from simulators.district.model import Resident

console = Console(width=130)

KINDS: dict[str, tuple[Department, str]] = {
    "sql": ("public_security", "SQL (public security, SQLite)"),
    "http": ("social_security", "HTTP (social security API)"),
    "csv": ("civil_affairs", "files (civil affairs, GB18030 CSV)"),
    "xlsx": ("civil_affairs", "files (civil affairs, XLSX)"),
    "kafka": ("housing", "Kafka push (housing topic)"),
    "ingest": ("community", "HTTP ingest (community, POST)"),
}
_KEEP_ROWS = 20_000
SS_CLIENT = ("onceonly-bench", "bench-secret")
INGEST_TOKEN = "bench-community-token"


@dataclass
class Result:
    kind: str
    rows: int
    setup_s: float
    first_s: float
    first_cpu_s: float
    first: RunCounts
    again_s: float
    again: RunCounts


# -- rows ----------------------------------------------------------------------------------------
def department_stream(residents: list[Resident], seed: int, department: Department, n: int,
                      *, text: bool = False) -> Iterator[dict[str, Any]]:
    """``n`` native rows of ``department``: the district's rows, then again with fresh record ids
    (``<id>-r2``, ``<id>-r3``…) until there are enough. Same arguments, same rows."""
    key = RECORD_ID_COLUMNS[department]
    produced, round_ = 0, 1
    kept: list[dict[str, Any]] | None = []  # one round, when small, is re-used instead of re-rendered
    while produced < n:
        before = produced
        for row in (kept if round_ > 1 and kept is not None else department_rows(residents, seed, department)):
            if round_ == 1 and kept is not None:
                if len(kept) < _KEEP_ROWS:
                    kept.append(row)
                else:
                    kept = None
            if round_ > 1:
                row = {**row, key: f"{row[key]}-r{round_}"}
            if text:  # as files and forms carry them: every cell text, blanks empty
                row = {k: "" if v is None else str(v) for k, v in row.items()}
            yield row
            produced += 1
            if produced >= n:
                return
        if produced == before:
            raise RuntimeError(f"the base district holds no {department} row: raise --residents")
        round_ += 1


# -- the department systems ------------------------------------------------------------------------
def mapping(source: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "mappings" / f"{source}.yaml").read_text(encoding="utf-8"))
    return loaded


def sql_system(work: Path, rows: Iterator[dict[str, Any]], stack: ExitStack) -> dict[str, Any]:
    from simulators import public_security as ps

    url = f"sqlite:///{work / 'police' / 'public_security.db'}"
    engine = ps.engine_for(url)
    stack.callback(engine.dispose)
    ps.metadata.drop_all(engine)
    ps.metadata.create_all(engine)
    ps.insert_rows(engine, rows)
    spec = mapping("public_security")
    transport = {k: v for k, v in spec["transport"].items() if k != "url_env"}
    return {**spec, "transport": {**transport, "url": url}}


def http_system(work: Path, rows: Iterator[dict[str, Any]], stack: ExitStack) -> dict[str, Any]:
    from simulators.social_security import SocialSecurityApi

    api = SocialSecurityApi(work / "social_security.db", clients={SS_CLIENT[0]: SS_CLIENT[1]})
    stack.callback(api.close)
    api.load(rows)
    api.start()
    spec = mapping("social_security")
    transport = {k: v for k, v in spec["transport"].items() if k != "base_url_env"}
    os.environ[transport["client_id_env"]] = SS_CLIENT[0]
    os.environ[transport["client_secret_env"]] = SS_CLIENT[1]
    return {**spec, "transport": {**transport, "base_url": api.base_url}}


def files_system(work: Path, rows: Iterator[dict[str, Any]], fmt: str) -> dict[str, Any]:
    """The ledger as clerks export it, one file per street, written as it streams (GB18030 CSV, or
    XLSX in openpyxl's write-only mode: the amount a number, everything else text)."""
    import csv

    from simulators.civil_affairs import HEADER

    folder = work / "inbox"
    folder.mkdir(parents=True)
    writers: dict[str, Any] = {}
    closers: list[Callable[[], None]] = []
    positions: dict[str, int] = {}
    for row in rows:
        street = row["所属街道"] or "未分类"
        positions[street] = positions.get(street, 0) + 1
        row["序号"] = str(positions[street])
        if street not in writers:
            path = folder / f"救助台账_{street}.{fmt}"
            if fmt == "csv":
                handle = path.open("w", encoding="gb18030", newline="")
                writer = csv.writer(handle, lineterminator="\r\n")
                writer.writerow(HEADER)
                writers[street] = writer.writerow
                closers.append(handle.close)
            else:
                from openpyxl import Workbook

                book = Workbook(write_only=True)
                sheet = book.create_sheet("台账")
                sheet.append(list(HEADER))
                writers[street] = sheet.append
                closers.append(_saver(book, path))
        cells: list[Any] = [row.get(c, "") for c in HEADER]
        if fmt == "xlsx":
            cells = [_number(v) if c == "发放金额" else v for c, v in zip(HEADER, cells, strict=True)]
        writers[street](cells)
    for close in closers:
        close()
    spec = mapping("civil_affairs")
    return {**spec, "transport": {**spec["transport"], "path": str(folder)}}


def _saver(book: Any, path: Path) -> Callable[[], None]:
    return lambda: book.save(path)


def _number(text: str) -> object:
    try:
        return float(text)
    except ValueError:
        return text


def kafka_system(broker: KafkaBroker, rows: Iterator[dict[str, Any]], stack: ExitStack) -> dict[str, Any]:
    from simulators.housing import HousingRegistry, change_event

    registry = HousingRegistry(broker.bootstrap, "bench.housing.changes")
    stack.callback(registry.close)
    registry.create_topic()
    for row in rows:  # published one by one, not kept: the registry's own memory stays empty
        registry.publish(change_event("upsert", row))
    registry.flush()
    spec = mapping("housing")
    transport = {k: v for k, v in spec["transport"].items() if k != "bootstrap_env"}
    return {**spec, "transport": {**transport, "topic": registry.topic, "bootstrap": broker.bootstrap}}


def ingest_server(settings: Settings, stack: ExitStack) -> str:
    """The hub's query service with the ingest endpoint, on a free port in this process."""
    import uvicorn

    from api.app import create_app
    from localinfra.processes import free_port

    engine = bootstrap.engine(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(engine, bootstrap.sources(settings), settings),
                                           host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True, name="bench-ingest-api")
    thread.start()

    def shut() -> None:
        server.should_exit = True
        thread.join(timeout=30)
        engine.dispose()

    stack.callback(shut)
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the ingest API did not start")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}"


# -- pulls -----------------------------------------------------------------------------------------
def hub(work: Path, broker: KafkaBroker, kind: str) -> Settings:
    settings = Settings(data_dir=work / "hub", kafka_bootstrap=broker.bootstrap, database_url=None,
                        topic_prefix=f"bench-{kind}.", app_id=f"bench-{kind}",
                        ingest_tokens={"community": INGEST_TOKEN} if kind == "ingest" else {})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    bootstrap.prepare_topics(settings)
    return settings


def timed(action: Callable[[], RunCounts], profile: Path | None) -> tuple[float, float, RunCounts]:
    """Wall seconds, CPU seconds of this process (every thread: reader, loop, producer, and the
    in-process department servers), and the run's counts."""
    profiler = cProfile.Profile() if profile is not None else None
    cpu = time.process_time()
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    try:
        counts = action()
    finally:
        if profiler is not None:
            profiler.disable()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if profiler is not None and profile is not None:
        profile.parent.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(profile)
    return elapsed, cpu, counts


def pull(settings: Settings, spec: ConnectorSpec) -> RunCounts:
    with KafkaSink(settings.kafka_bootstrap or "") as sink:
        return bootstrap.connector(settings, spec, sink).run()


def post_all(url: str, rows: Iterator[dict[str, Any]], batch_rows: int) -> RunCounts:
    from simulators.community import CommunityWorker

    total = RunCounts()
    with CommunityWorker(url, INGEST_TOKEN, batch_rows=batch_rows) as worker:
        for answer in worker.post_all(rows):
            total.read += answer["read"]
            total.events += answer["events"]
            total.unchanged += answer["unchanged"]
            total.dead_letters += answer["dead_letters"]
    return total


def run_kind(kind: str, work: Path, broker: KafkaBroker, residents: list[Resident], args: argparse.Namespace) -> Result:
    department, _ = KINDS[kind]

    def rows() -> Iterator[dict[str, Any]]:
        return department_stream(residents, args.seed, department, args.rows,
                                 text=kind in ("csv", "xlsx", "kafka", "ingest"))

    profile = args.profile / f"{kind}.pstats" if args.profile is not None else None
    with ExitStack() as stack:
        started = time.perf_counter()
        settings = hub(work, broker, kind)
        if kind == "ingest":
            url = ingest_server(settings, stack)
            setup_s = time.perf_counter() - started
            if profile is not None:
                console.print("  (ingest runs in the server's threads: not profiled)")
            first_s, first_cpu, first = timed(lambda: post_all(url, rows(), args.ingest_batch), None)
            again_s, _, again = timed(lambda: post_all(url, rows(), args.ingest_batch), None)
        else:
            if kind == "sql":
                raw = sql_system(work, rows(), stack)
            elif kind == "http":
                raw = http_system(work, rows(), stack)
            elif kind in ("csv", "xlsx"):
                raw = files_system(work, rows(), kind)
            else:
                raw = kafka_system(broker, rows(), stack)
            spec = ConnectorSpec.model_validate(raw)
            setup_s = time.perf_counter() - started
            first_s, first_cpu, first = timed(lambda: pull(settings, spec), profile)
            again_s, _, again = timed(lambda: pull(settings, spec), None)
    return Result(kind, args.rows, setup_s, first_s, first_cpu, first, again_s, again)


def district(args: argparse.Namespace) -> int:
    """The files → Kafka stage of ``bench.throughput``: per department and overall."""
    from simulators.district_files import ingest_department_files, write_department_files

    rows: list[tuple[str, RunCounts, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="onceonly-connectors-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        truth = write_department_files(work / "departments", args.district, args.seed)
        console.print(f"district: {args.district:,} residents, {len(truth):,} resident records, seed {args.seed} "
                      f"({time.perf_counter() - t0:.1f} s to write)")
        with KafkaBroker.started(work / "kafka") as broker:
            settings = Settings(data_dir=work / "var", kafka_bootstrap=broker.bootstrap, app_id="connectors")
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            bootstrap.prepare_topics(settings)
            bootstrap.engine(settings).dispose()  # the store exists before, as in bench.throughput
            cpu_at = [time.process_time()]

            def on_source(source: str, counts: RunCounts, seconds: float) -> None:
                cpu = time.process_time()
                rows.append((source, counts, seconds, cpu - cpu_at[0]))
                cpu_at[0] = cpu

            profile = args.profile / "district.pstats" if args.profile is not None else None
            load_before = os.getloadavg()
            elapsed, cpu, total = timed(lambda: _district_counts(ingest_department_files, settings, work, on_source),
                                        profile)
            load_after = os.getloadavg()

    table = Table(title=f"Department files → Kafka, {args.district:,} residents (local broker, SQLite state)")
    for column in ("department", "read", "events", "dead letters", "s", "records/s", "CPU s", "CPU µs/record"):
        table.add_column(column, justify="left" if column == "department" else "right")
    ok = True
    for source, counts, seconds, cpu_s in rows:
        ok = ok and counts.balanced and counts.read == counts.events + counts.dead_letters
        table.add_row(source, f"{counts.read:,}", f"{counts.events:,}", f"{counts.dead_letters:,}", f"{seconds:.2f}",
                      f"{counts.read / seconds:,.0f}", f"{cpu_s:.2f}", f"{cpu_s / max(counts.read, 1) * 1e6:,.0f}")
    read = sum(r[1].read for r in rows)
    table.add_row("all", f"{read:,}", f"{sum(r[1].events for r in rows):,}",
                  f"{sum(r[1].dead_letters for r in rows):,}", f"{elapsed:.2f}", f"{read / elapsed:,.0f}",
                  f"{cpu:.2f}", f"{cpu / max(read, 1) * 1e6:,.0f}")
    console.print(table)
    console.print(f"as bench.throughput counts the connector stage (resident-record events / the same wall time): "
                  f"{total.events:,} / {elapsed:.2f} s = {total.events / elapsed:,.0f} records/s")
    console.print(f"records/s = rows read / wall time of ingest_department_files (reader, checks, hashes, envelopes, "
                  f"broker acknowledgements, state commits; one connector open after another); CPU s = this "
                  f"process's CPU (all threads; the broker is another process); load average before "
                  f"{_load(load_before)}, after {_load(load_after)}; {os.cpu_count()} CPUs")
    if not ok:
        console.print("[red]a department's counts do not add up (read = events + dead letters on a first pull)[/]")
    return 0 if ok else 1


def _district_counts(ingest: Callable[..., int], settings: Settings, work: Path,
                     on_source: Callable[[str, RunCounts, float], None]) -> RunCounts:
    counts = RunCounts()
    counts.events = ingest(settings, work / "departments", on_source)
    return counts


def _load(load: tuple[float, float, float]) -> str:
    return " / ".join(f"{x:.2f}" for x in load)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="rows per department system")
    parser.add_argument("--residents", type=int, help="base district size (default: min(rows, 50000))")
    parser.add_argument("--seed", type=int, default=41)
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated subset of {','.join(KINDS)}")
    parser.add_argument("--ingest-batch", type=int, default=1000, help="rows per POST (the app's default)")
    parser.add_argument("--profile", type=Path, help="write a cProfile of each first pull to DIR/<kind>.pstats")
    parser.add_argument("--district", type=int, metavar="RESIDENTS",
                        help="measure the department files of a district of RESIDENTS residents instead")
    args = parser.parse_args(argv)
    if args.district is not None:
        return district(args)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        parser.error(f"unknown kind(s) {unknown}; choose from {list(KINDS)}")

    n_residents = args.residents or min(args.rows, 50_000)
    t0 = time.perf_counter()
    residents = list(generate_district(n_residents, seed=args.seed))
    console.print(f"base district: {n_residents:,} residents, seed {args.seed} ({time.perf_counter() - t0:.0f} s); "
                  f"{args.rows:,} rows per kind")
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="onceonly-connectors-") as tmp:
        work = Path(tmp)
        with KafkaBroker.started(work / "kafka") as broker:
            for kind in kinds:
                console.print(f"[bold]{kind}[/]: {KINDS[kind][1]} …")
                result = run_kind(kind, work / kind, broker, residents, args)
                results.append(result)
                console.print(f"  set-up {result.setup_s:.1f} s; first pull {result.first}; "
                              f"re-pull {result.again}; peak RSS {_peak_rss_mb():,.0f} MB")

    table = Table(title=f"Connector pulls into Kafka, {args.rows:,} rows per kind (local broker, SQLite store)")
    for column in ("kind", "rows", "first pull s", "records/s", "CPU s", "re-pull s", "events on re-pull",
                   "dead letters"):
        table.add_column(column, justify="left" if column == "kind" else "right")
    ok = True
    for r in results:
        sent_all = r.first.events + r.first.dead_letters == r.rows == r.first.read
        quiet = r.again.events == 0 and r.again.ended == 0
        ok = ok and sent_all and quiet and r.first.balanced and r.again.balanced
        table.add_row(KINDS[r.kind][1], f"{r.first.read:,}", f"{r.first_s:.1f}", f"{r.first.read / r.first_s:,.0f}",
                      f"{r.first_cpu_s:.1f}", f"{r.again_s:.1f}", f"{r.again.events + r.again.ended}",
                      f"{r.first.dead_letters + r.again.dead_letters}")
    console.print(table)
    console.print(f"peak RSS of this process {_peak_rss_mb():,.0f} MB; records/s = rows read by the first pull / its "
                  f"wall time (reader, checks, hashes, broker acknowledgements, state commits); CPU s = this "
                  f"process's CPU time in the first pull (all its threads; the broker is another process), "
                  f"steadier than wall time on a shared machine; load average {os.getloadavg()[0]:.1f}")
    if not ok:
        console.print("[red]a pull did not take every row exactly once, or a re-pull sent something[/]")
    return 0 if ok else 1


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    raise SystemExit(main())
