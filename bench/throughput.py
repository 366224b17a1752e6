"""Throughput and latency of the whole hub on the real broker and workers.

1. End to end: a district's department files through their connectors into Kafka, then the
   workers (standardise → resolve → project) until every record is readable in the profile store.
   Prints records/s for the connector stage and end to end.
2. Latency: a department publishes source records at a steady rate (default 500/s) while the
   workers run; for each record, the time from publish to its link being readable in the store.
   Prints p50/p99.

    .venv/bin/python -m bench.throughput --residents 35000 --workers 2 --rate 500 --latency-seconds 30
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from bench.accuracy import _env, standardised
from connectors.kafka_sink import KafkaSink
from core.matching import estimate_parameters
from localinfra.kafka_broker import KafkaBroker
from localinfra.processes import spawn, stop
from onceonly import bootstrap
from onceonly.settings import Settings
from schemas.source_record import SourceRecord
from simulators.district import generate_district, render_district
from simulators.district_files import ingest_department_files, write_department_files
from store.matcher_parameters import MatcherParameterStore
from store.profile_tables import record_links

console = Console(width=130)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=35000, help="~2.9 records per resident")
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--split", nargs="?", const="resolve", default="",
                        help="worker 0 runs only these agents (default: the resolver, `onceonly worker --agents "
                             "resolve`), the others the rest")
    parser.add_argument("--rate", type=float, default=500.0, help="records/s published in the latency run")
    parser.add_argument("--latency-seconds", type=float, default=30.0)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite",
                        help="SQLite (the embedded default) or PostgreSQL (the production store: a local server "
                             "from Debian's binaries, fsync off as the tests run it; its CPU is counted)")
    args = parser.parse_args(argv)
    import sys

    with tempfile.TemporaryDirectory(prefix="onceonly-throughput-") as tmp, contextlib.ExitStack() as stack:
        work = Path(tmp)
        truth = write_department_files(work / "departments", args.residents, args.seed)
        database_url: str | None = None
        database_pid: int | None = None
        if args.store == "postgres":
            from localinfra.postgres_server import PostgresServer

            server = stack.enter_context(PostgresServer.started(work / "postgres"))
            database_url = server.fresh_database("onceonly_throughput")
            database_pid = server.process.pid if server.process is not None else None
        with KafkaBroker.started(work / "kafka") as broker:
            settings = Settings(data_dir=work / "var", kafka_bootstrap=broker.bootstrap, app_id="throughput",
                                database_url=database_url)
            sample = list(standardised(min(args.residents, 5000), args.seed).values())
            MatcherParameterStore(bootstrap.engine(settings)).save(
                estimate_parameters(sample, version=f"throughput-{args.seed}", seed=args.seed))
            bootstrap.prepare_topics(settings)
            workers = [spawn([sys.executable, "-m", "onceonly.cli", "worker", *_agents(args.split, i)],
                             work / f"worker-{i}.log", env=_env(settings)) for i in range(args.workers)]
            try:
                load_before = os.getloadavg()[0]
                pids = {**{f"worker {i}": proc.pid for i, proc in enumerate(workers)}, "broker": broker.pid,
                        **({"PostgreSQL": database_pid} if database_pid is not None else {})}
                cpu_before = {**{name: _cpu_s(pid) for name, pid in pids.items()}, "this process": time.process_time()}
                started = time.monotonic()
                sent = ingest_department_files(settings, work / "departments")
                connectors_s = time.monotonic() - started
                while _linked(settings) < sent:
                    time.sleep(1.0)
                end_to_end_s = time.monotonic() - started
                cpu_used = {name: (time.process_time() if name == "this process" else _cpu_s(pids[name])) - before
                            for name, before in cpu_before.items()}
                load_after = os.getloadavg()[0]
                latencies, readable = (_latency_run(settings, args.rate, args.latency_seconds, args.seed)
                                       if args.latency_seconds else ([], {}))
                hops = _hops(settings, readable)
            finally:
                for proc in workers:
                    stop(proc)

    layout = f", worker 0 running {args.split} alone" if args.split else ""
    table = Table(title=f"Throughput on this machine ({args.workers} workers{layout}, {len(truth)} records, "
                        f"store: {'PostgreSQL' if args.store == 'postgres' else 'SQLite'})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("connector stage (files → Kafka), records/s", f"{sent / connectors_s:,.0f}")
    table.add_row("end to end (connector → projected profile), records/s", f"{sent / end_to_end_s:,.0f}")
    table.add_row("end to end wall time, s", f"{end_to_end_s:,.1f}")
    for name, used in cpu_used.items():
        table.add_row(f"CPU of {name}, µs per record" + (" (connectors, polls)" if name == "this process" else ""),
                      f"{used / sent * 1e6:,.0f} ({used / end_to_end_s:.0%} of a core)")
    table.add_row("machine load before → after the end-to-end run", f"{load_before:.1f} → {load_after:.1f}")
    if latencies:
        q = statistics.quantiles(latencies, n=100)
        table.add_row(f"latency publish → readable at {args.rate:.0f}/s, p50 ms", f"{q[49] * 1000:,.0f}")
        table.add_row(f"latency publish → readable at {args.rate:.0f}/s, p99 ms", f"{q[98] * 1000:,.0f}")
        table.add_row("latency samples", str(len(latencies)))
        for hop, values in hops.items():
            if len(values) >= 2:
                h = statistics.quantiles(values, n=100)
                table.add_row(f"  hop {hop}, p50 / p99 ms", f"{h[49] * 1000:,.0f} / {h[98] * 1000:,.0f}")
    console.print(table)
    return 0


def _agents(split: str, worker: int) -> list[str]:
    """A worker's ``--agents``: with ``split`` the first runs those agents, the others the rest."""
    if not split:
        return []
    from streams.app import AGENTS

    first = split.split(",")
    return ["--agents", split if worker == 0 else ",".join(a for a in AGENTS if a not in first)]


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _linked(settings: Settings) -> int:
    """Records readable in the store (counted in SQL: the poll must cost the workers little)."""
    from sqlalchemy import func

    with bootstrap.engine(settings).connect() as conn:
        pairs = select(record_links.c.source, record_links.c.record_id).distinct().subquery()
        return int(conn.execute(select(func.count()).select_from(pairs)).scalar_one())


def _latency_run(settings: Settings, rate: float, seconds: float, seed: int) -> tuple[list[float], dict[str, float]]:
    """Publish fresh community records at ``rate``/s; time each until its link is readable. Also
    returns when each became readable (wall clock), for the per-hop breakdown."""
    rows = [r.row for r in render_district(generate_district(int(rate * seconds / 2) + 50, seed=seed + 1),
                                           seed=seed + 1, departments=("community",))]
    published: dict[str, float] = {}
    seen: dict[str, float] = {}
    done = threading.Event()

    def watch() -> None:
        # Ask only for the records still waiting (the oldest first, a bounded IN list), so a poll costs
        # what is in flight, not what was seen: the watcher must not slow the workers it measures.
        engine = bootstrap.engine(settings)
        while not done.is_set() or len(seen) < len(published):
            waiting = [k for k in list(published) if k not in seen][:500]
            if waiting:
                with engine.connect() as conn:
                    now = time.monotonic()
                    for record_id, in conn.execute(select(record_links.c.record_id).where(
                            record_links.c.source == "community", record_links.c.record_id.in_(waiting))):
                        seen.setdefault(record_id, now)
            if done.is_set() and time.monotonic() - stop_at > 30:
                return
            time.sleep(0.01)

    stop_at = float("inf")
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    interval = 1.0 / rate
    with KafkaSink(settings.kafka_bootstrap or "", client_id="latency") as sink:
        next_at = flushed = time.monotonic()
        for i, row in enumerate(rows[: int(rate * seconds)]):
            record_id = f"LAT-{i:07d}"
            record = SourceRecord.of(source="community", record_id=record_id, payload=row, mapping_version="bench")
            published[record_id] = time.monotonic()
            sink.send(settings.raw_topic("community"), record.identity, record)
            if time.monotonic() - flushed >= 0.01:  # on the broker within ~10 ms, as a department's system would send
                sink.flush()
                flushed = time.monotonic()
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))
        sink.flush()
    stop_at = time.monotonic()
    done.set()
    watcher.join(timeout=60)
    to_wall = time.time() - time.monotonic()
    return [seen[k] - published[k] for k in published if k in seen], {k: at + to_wall for k, at in seen.items()}


def _hops(settings: Settings, readable: dict[str, float]) -> dict[str, list[float]]:
    """Each latency record's time per hop, from the Kafka timestamps of its messages (the time each
    producer sent it): raw → records (standardise), records → profile-events (resolve and the
    outbox), profile-events → readable in the store (project; the watcher's poll adds ≤ 10 ms)."""
    from kafka import KafkaConsumer, TopicPartition

    from schemas.codec import decode
    from schemas.profile_events import RecordLinked
    from schemas.record_events import RecordStandardised

    def sent_at(topic: str, record_id_of: Callable[[object], str | None]) -> dict[str, float]:
        consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False,
                                 client_id="bench-hops", max_poll_records=5000)
        found: dict[str, float] = {}
        try:
            tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            ends = consumer.end_offsets(tps)
            while any(consumer.position(tp) < ends[tp] for tp in tps):
                for messages in consumer.poll(timeout_ms=1000).values():
                    for m in messages:
                        if b"LAT-" in m.value and (record_id := record_id_of(decode(m.value))) is not None:
                            found.setdefault(record_id, m.timestamp / 1000)
        finally:
            consumer.close()
        return found

    raw = sent_at(settings.raw_topic("community"), lambda e: getattr(e, "record_id", None))
    records = sent_at(settings.records_topic,
                      lambda e: e.record_id if isinstance(e, RecordStandardised) else None)
    linked = sent_at(settings.profile_events_topic,
                     lambda e: e.record.record_id if isinstance(e, RecordLinked) else None)
    hops: dict[str, list[float]] = {"raw → records": [], "records → profile-events": [],
                                    "profile-events → readable": []}
    for record_id, at in readable.items():
        if record_id in raw and record_id in records and record_id in linked:
            hops["raw → records"].append(records[record_id] - raw[record_id])
            hops["records → profile-events"].append(linked[record_id] - records[record_id])
            hops["profile-events → readable"].append(at - linked[record_id])
    return hops


if __name__ == "__main__":
    raise SystemExit(main())
