"""Fault-injection campaign: a district load survived with nothing lost, nothing doubled.

    .venv/bin/python -m bench.faults --residents 3000 --workers 2 --kills 10

Two loads of the same department files, each on a fresh broker and a fresh store:

1. **calm**: the files through their connectors into Kafka while the stream workers resolve them,
   nothing disturbed (SQLite by default; a reader reads profiles meanwhile, see below);
2. **faults**: the same, while a chaos thread SIGKILLs a random stream worker at random moments
   (``--kills`` times at least, each restarted at once, its whole process group killed), stops and
   restarts the broker once mid-ingest, and (``--store postgres``, the default) restarts PostgreSQL
   once mid-resolution. A connector pull that fails while the broker is away is run again, as the
   ingest flow's retries would: collected once, it sends only what did not reach the broker.

Then, for each load, once every record is readable and the workers are stopped: the store's
checksum (documents, places; what ``onceonly replay`` compares), whether a replay of the load's own
log rebuilds that checksum, the clustering (which records share a profile, ids left out), records
lost (a record version in ``raw.*`` with no link in the store), versions duplicated in ``raw.*``,
profile events applied twice or missing in the store (each profile's versions must be exactly
1..n), copies of one profile event in the topic (the outbox re-sends what a killed worker sent but
did not mark: harmless, consumers drop what they have, reported), consumer lag of the workers'
group, and dead letters. Targets: the faulted load's checksum equal to the calm load's, and 0 lost,
0 duplicated versions, 0 events applied twice or missing, 0 lag, no dead letters beyond the calm
load's deliberate bad rows.

Reads during resolution (SQLite, the calm load): a reader thread reads profile documents through
the query service's own store reader while the workers write, and the bench prints p50/p99/max: a
read must not wait on the writer (WAL: readers never take the write lock); the stated bound is a
p99 under 50 ms and no read over 1 s.

The machine's load average is printed before and after each load.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from bench.accuracy import _env as worker_env
from bench.accuracy import standardised
from core.matching import estimate_parameters
from localinfra.kafka_broker import KafkaBroker
from localinfra.postgres_server import PostgresServer
from localinfra.processes import spawn, stop
from onceonly import bootstrap
from onceonly.settings import PROJECT_ROOT, Settings
from schemas.source_record import SourceRecord
from simulators.district_files import DEPARTMENTS, write_department_files
from store.matcher_parameters import MatcherParameterStore
from store.profile_tables import profile_event_log, profiles, record_links

console = Console(width=140)

KEY = "faults-bench-key"


@dataclass
class Chaos:
    """What the chaos thread did, and when."""

    kills: list[tuple[float, int, int]] = field(default_factory=list)  # (seconds into the load, worker, linked then)
    broker_restarts: list[float] = field(default_factory=list)
    postgres_restarts: list[float] = field(default_factory=list)
    pull_retries: int = 0


@dataclass
class Outcome:
    label: str
    store: str
    records: int  # record versions the connectors sent to raw.* (resident sources)
    seconds: float
    checksum: str
    view: dict[tuple[str, ...], str]  # an active profile's records → what a reader sees of it (no ids)
    replay_identical: bool
    clusters: frozenset[frozenset[str]]
    lost: int
    duplicated_versions: int
    events_doubled_or_missing: int
    event_copies_in_topic: int
    lag: int
    dead_letters: int
    load_before: str
    load_after: str
    chaos: Chaos | None = None
    reads: list[float] = field(default_factory=list)
    worker_exits: int = 0

    @property
    def cluster_digest(self) -> str:
        canonical = sorted(sorted(c) for c in self.clusters)
        return hashlib.sha256(json.dumps(canonical).encode()).hexdigest()[:16]


def _loadavg() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} (5 min {five:.1f})"


def _env(settings: Settings) -> dict[str, str]:
    """The workers' environment: the benches' (broker, data folder, store, app id) with the campaign's key."""
    return {**worker_env(settings), "ONCEONLY_ID_HASH_KEY": KEY}


class Workers:
    """The stream workers of one load, under a supervisor thread that starts them and starts again
    any that exited (as compose's ``restart:`` would: a worker that meets no broker at start exits).
    Children die with the thread that spawned them, so the supervisor owns them all."""

    def __init__(self, settings: Settings, folder: Path, n: int) -> None:
        self.settings, self.folder = settings, folder
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * n
        self.starts = self.kills = 0
        self._lock = threading.Lock()
        self._stop, self._ready = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._supervise, name="workers", daemon=True)
        self._thread.start()
        self._ready.wait()

    @property
    def exits(self) -> int:
        """Workers that exited without being killed (and were started again)."""
        return self.starts - len(self.procs) - self.kills

    def _spawn(self, i: int) -> subprocess.Popen[bytes]:
        self.starts += 1
        return spawn([sys.executable, "-m", "onceonly.cli", "worker"], self.folder / f"worker-{i}-{self.starts}.log",
                     env=_env(self.settings))

    def _supervise(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                for i, proc in enumerate(self.procs):
                    if proc is None or proc.poll() is not None:
                        if proc is not None and proc.stdout is not None:
                            proc.stdout.close()
                        self.procs[i] = self._spawn(i)
            self._ready.set()
            self._stop.wait(0.5)
        with self._lock:
            for proc in self.procs:
                if proc is not None:
                    stop(proc)

    def kill(self, i: int) -> None:
        """SIGKILL worker ``i``'s whole process group; the supervisor starts it again."""
        with self._lock:
            proc = self.procs[i]
            assert proc is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            self.kills += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=120)


def ingest(settings: Settings, folder: Path, chaos: Chaos | None,
           between: Callable[[str], None] | None = None) -> int:
    """Every department file through its mapping file (as ``onceonly ingest``); a pull that fails
    (the broker away) runs again; ``between`` is called after each department's pull. Returns the
    resident-record events sent."""
    from connectors.kafka_sink import KafkaSink
    from connectors.spec import ConnectorSpec

    events = 0
    for source in DEPARTMENTS:
        path = folder / f"{source}.csv"
        if not path.exists():
            continue
        spec = ConnectorSpec.load(PROJECT_ROOT / "mappings" / f"{source}.yaml")
        for attempt in range(30):
            try:
                with KafkaSink(settings.kafka_bootstrap or "", client_id=f"faults-{source}") as sink:
                    counts = bootstrap.connector(settings, spec, sink, only_file=path).run()
                break
            except Exception as exc:  # the broker restarting: the flow's retry, after a pause
                if chaos is None or attempt == 29:
                    raise
                chaos.pull_retries += 1
                console.print(f"  [yellow]{source}: pull failed ({type(exc).__name__}), running it again[/]")
                time.sleep(3.0)
        if not counts.balanced:
            raise RuntimeError(f"{source}: counts do not add up: {counts}")
        if spec.holds == "residents":
            events += counts.events
        if between is not None:
            between(source)
    return events


def linked(settings: Settings) -> int:
    with bootstrap.engine(settings).connect() as conn:
        pairs = select(record_links.c.source, record_links.c.record_id).distinct().subquery()
        return int(conn.execute(select(func.count()).select_from(pairs)).scalar_one())


def _linked_or_none(settings: Settings) -> int | None:
    try:
        return linked(settings)
    except Exception:  # PostgreSQL restarting
        return None


def wait_linked(settings: Settings, expected: Callable[[], int | None], *, timeout: float = 1800) -> None:
    """Until every record sent is readable and the count stayed still for 5 s."""
    deadline = time.monotonic() + timeout
    last, since, shown = -1, time.monotonic(), 0.0
    while time.monotonic() < deadline:
        target = expected()
        now = _linked_or_none(settings)
        if time.monotonic() - shown > 15:
            console.print(f"  {now} of {target} records linked")
            shown = time.monotonic()
        if now is not None and now != last:
            last, since = now, time.monotonic()
        elif target is not None and now is not None and now >= target and time.monotonic() - since > 5:
            return
        time.sleep(1.0)
    raise TimeoutError(f"only {last} records linked in {timeout:.0f} s")


def chaos_thread(workers: Workers, broker: KafkaBroker, postgres: PostgresServer | None, settings: Settings,
                 chaos: Chaos, started: float, *, kills: int, rng: random.Random, stop_when: threading.Event,
                 ingest_done: threading.Event, finished: threading.Event,
                 restart_broker_after: str | None = None) -> threading.Thread:
    """Restart the broker once 1–3 s into the ingest (unless ``restart_broker_after`` asks for it
    between two pulls); once records are being linked, kill a random worker every 2–6 s, and restart
    PostgreSQL once after ingest, at the fourth kill (during resolution); go on until ``kills`` were made and
    ``stop_when`` is set. The thread then lives until ``finished``: the workers it restarted die
    with it (``spawn`` ties a child to the life of the thread that started it)."""

    def restart_broker(when: str) -> None:
        chaos.broker_restarts.append(time.monotonic() - started)
        console.print(f"  {chaos.broker_restarts[-1]:.0f} s: broker stopped ({when})")
        broker.stop()
        broker.start(timeout=120)
        console.print(f"  {time.monotonic() - started:.0f} s: broker up again")

    def run() -> None:
        # The broker first, 1-3 s into the ingest (the connectors are sending), then the workers.
        time.sleep(rng.uniform(1.0, 3.0))
        if restart_broker_after is None and not ingest_done.is_set():
            restart_broker("mid-ingest")
        # the first kill waits for resolution to be under way (a worker takes ~10 s to join)
        deadline = time.monotonic() + 60
        while not (_linked_or_none(settings) or 0) and time.monotonic() < deadline:
            time.sleep(0.5)
        while not (stop_when.is_set() and len(chaos.kills) >= kills):
            time.sleep(rng.uniform(2.0, 6.0))
            i = rng.randrange(len(workers.procs))
            workers.kill(i)
            chaos.kills.append((time.monotonic() - started, i, _linked_or_none(settings) or -1))
            console.print(f"  {chaos.kills[-1][0]:.0f} s: worker {i} SIGKILLed and restarted "
                          f"({chaos.kills[-1][2]} records linked)")
            if (postgres is not None and ingest_done.is_set() and not chaos.postgres_restarts
                    and len(chaos.kills) >= 4):
                chaos.postgres_restarts.append(time.monotonic() - started)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(postgres._proc.pid, signal.SIGINT)  # type: ignore[union-attr]  # fast shutdown
                postgres._proc.wait(timeout=60)  # type: ignore[union-attr]
                postgres._proc = None
                postgres.start()
                console.print(f"  {chaos.postgres_restarts[-1]:.0f} s: PostgreSQL restarted")
        finished.wait()

    thread = threading.Thread(target=run, name="chaos", daemon=True)
    thread.start()
    return thread


def reader_thread(settings: Settings, stop_when: threading.Event, timings: list[float]) -> threading.Thread:
    """Read profile documents the way the query service does, while the workers write."""
    from store.profile_lookup import active_profiles

    def run() -> None:
        engine = bootstrap.engine(settings)
        ids: list[str] = []
        while not stop_when.is_set():
            if len(ids) < 50 or random.random() < 0.01:
                with engine.connect() as conn:
                    ids = [r[0] for r in conn.execute(select(profiles.c.profile_id).limit(2000))]
                if not ids:
                    time.sleep(0.2)
                    continue
            began = time.perf_counter()
            active_profiles(engine, [random.choice(ids)])
            timings.append(time.perf_counter() - began)
            time.sleep(0.01)

    thread = threading.Thread(target=run, name="reader", daemon=True)
    thread.start()
    return thread


def load(label: str, work: Path, files: Path, *, residents: int, store: str, postgres: PostgresServer | None,
         n_workers: int, kills: int, seed: int, read: bool, restart_broker_after: str | None = None) -> Outcome:
    """One load on a fresh broker and store. With ``kills``, the chaos thread kills workers and
    restarts the broker at its second kill if ingest is still going; ``restart_broker_after`` (a
    department) restarts it instead right after that department's pull, for a run whose ingest is
    too short for the chaos thread to meet it."""
    console.print(f"[bold]{label}[/]: fresh broker, fresh {store} store, {n_workers} workers"
                  + (f", ≥ {kills} kills, a broker restart" + (", a PostgreSQL restart" if postgres else "")
                     if kills else ""))
    load_before = _loadavg()
    # The chaos thread restarts workers, the broker and PostgreSQL, so it lives until the load is
    # measured: a child dies with the thread that spawned it (``spawn`` asks for that).
    finished = threading.Event()
    try:
        with KafkaBroker.started(work / "kafka") as broker:
            return _load(label, work, files, broker, finished, residents=residents, store=store, postgres=postgres,
                         n_workers=n_workers, kills=kills, seed=seed, read=read, load_before=load_before,
                         restart_broker_after=restart_broker_after)
    finally:
        finished.set()


def _load(label: str, work: Path, files: Path, broker: KafkaBroker, finished: threading.Event, *, residents: int,
          store: str, postgres: PostgresServer | None, n_workers: int, kills: int, seed: int, read: bool,
          load_before: str, restart_broker_after: str | None) -> Outcome:
    url = postgres.fresh_database(f"faults_{label}") if postgres else None
    settings = Settings(data_dir=work / "var", kafka_bootstrap=broker.bootstrap, app_id=f"faults-{label}",
                        database_url=url, id_hash_key=KEY, _env_file=None)
    sample = list(standardised(min(residents, 5000), seed).values())  # the same district's records
    MatcherParameterStore(bootstrap.engine(settings)).save(
        estimate_parameters(sample, version=f"faults-{seed}", seed=seed))
    bootstrap.prepare_topics(settings)
    workers = Workers(settings, work / "logs", n_workers)
    chaos = Chaos() if kills else None
    stop_chaos, ingest_done, stop_reads = threading.Event(), threading.Event(), threading.Event()
    reads: list[float] = []
    started = time.monotonic()
    try:
        if chaos is not None:
            chaos_thread(workers, broker, postgres, settings, chaos, started, kills=kills, rng=random.Random(seed),
                         stop_when=stop_chaos, ingest_done=ingest_done, finished=finished,
                         restart_broker_after=restart_broker_after)
        if read:
            reader_thread(settings, stop_reads, reads)
        def between(source: str) -> None:
            if chaos is not None and source == restart_broker_after and not chaos.broker_restarts:
                chaos.broker_restarts.append(time.monotonic() - started)
                console.print(f"  {chaos.broker_restarts[-1]:.0f} s: broker stopped after the {source} pull")
                broker.stop()
                broker.start(timeout=120)

        sent = ingest(settings, files, chaos, between)
        console.print(f"  {time.monotonic() - started:.0f} s: ingest done, {sent} record versions sent")
        ingest_done.set()
        stop_chaos.set()  # the chaos goes on until it made its kills, while the workers resolve
        while chaos is not None and len(chaos.kills) < kills:
            time.sleep(0.5)
        wait_linked(settings, lambda: sent)
        seconds = time.monotonic() - started
        stop_reads.set()
        lag = _settle_lag(settings)
    finally:
        stop_chaos.set()
        stop_reads.set()
        workers.stop()
    outcome = measure(label, store, settings, sent, seconds, lag)
    outcome.load_before, outcome.load_after = load_before, _loadavg()
    outcome.chaos, outcome.reads, outcome.worker_exits = chaos, reads, workers.exits
    return outcome


def _settle_lag(settings: Settings, *, timeout: float = 90.0) -> int:
    """The workers' group lag once it stops falling (faust commits on an interval)."""
    deadline = time.monotonic() + timeout
    lag = group_lag(settings)
    while lag and time.monotonic() < deadline:
        time.sleep(2.0)
        lag = group_lag(settings)
    return lag


def group_lag(settings: Settings) -> int:
    """Messages in the hub's topics the workers' consumer group has not committed."""
    from kafka import KafkaAdminClient, KafkaConsumer

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="faults-lag")
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, client_id="faults-lag")
    try:
        committed = admin.list_group_offsets({settings.app_id: None}).get(settings.app_id, {})
        ends = consumer.end_offsets(list(committed))
        return sum(max(0, ends[tp] - meta.offset) for tp, meta in committed.items())
    finally:
        consumer.close()
        admin.close()


def measure(label: str, store: str, settings: Settings, sent: int, seconds: float, lag: int) -> Outcome:
    from kafka_adapter.reader import read_log
    from services.verification import remove_sqlite, replay_and_compare

    projection = bootstrap.profile_projection(settings)
    bootstrap_servers = settings.kafka_bootstrap or ""
    scratch = settings.data_dir / f"replay-{label}.db"
    comparison = replay_and_compare(projection, target_url=f"sqlite:///{scratch}", bootstrap=bootstrap_servers,
                                    profile_events_topic=settings.profile_events_topic,
                                    places_topic=settings.places_topic)
    remove_sqlite(scratch)

    members: dict[str, set[str]] = defaultdict(set)
    for source, record_id, profile_id in projection.links():
        members[profile_id].add(f"{source}:{record_id}")
    clusters = frozenset(frozenset(m) for m in members.values())
    linked_keys = {k for m in members.values() for k in m}

    versions: Counter[tuple[str, str, str, str]] = Counter()
    for source in bootstrap.sources(settings):
        for batch in read_log(bootstrap_servers, settings.raw_topic(source), client_id="faults-raw"):
            for logged in batch:
                record = logged.event
                if isinstance(record, SourceRecord):
                    versions[(record.source, record.record_id, record.content_hash, record.change)] += 1
    grid_sources = {s for s in bootstrap.sources(settings) if s == "grid_centre"}
    upserted = {f"{s}:{r}" for (s, r, _, change) in versions if change == "upsert" and s not in grid_sources}
    lost = len(upserted - linked_keys)
    duplicated = sum(n - 1 for n in versions.values() if n > 1)

    copies: Counter[str] = Counter()
    for batch in read_log(bootstrap_servers, settings.profile_events_topic, client_id="faults-events"):
        for logged in batch:
            copies[str(getattr(logged.event, "event_id", ""))] += 1
    event_copies = sum(n - 1 for n in copies.values() if n > 1)
    with projection.engine.connect() as conn:
        per_profile: dict[str, list[int]] = defaultdict(list)
        for profile_id, version in conn.execute(select(profile_event_log.c.profile_id, profile_event_log.c.version)):
            per_profile[profile_id].append(version)
    bad = sum(1 for vs in per_profile.values() if sorted(vs) != list(range(1, len(vs) + 1)))
    bad += len(set(copies) - {""}) - sum(len(vs) for vs in per_profile.values())  # in the topic, not in the store

    dead = sum(len(batch) for batch in read_log(bootstrap_servers, settings.deadletter_topic, client_id="faults-dl"))
    return Outcome(label=label, store=store, records=sent, seconds=seconds, checksum=projection.store_checksum(),
                   view=reader_view(projection.engine),
                   replay_identical=comparison.identical, clusters=clusters, lost=lost, duplicated_versions=duplicated,
                   events_doubled_or_missing=abs(bad), event_copies_in_topic=event_copies, lag=lag, dead_letters=dead,
                   load_before="", load_after="")


def reader_view(engine: Any) -> dict[tuple[str, ...], str]:
    """What a reader sees of each active profile, without what depends on arrival order or on the
    moment a connector read a row: its live records, each surviving value with the record it came
    from and the values in conflict, its community, grid and flags. Profile ids, versions and history
    are left out (a profile is named by its records)."""
    from core.profile import Profile

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "observed_at"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    view: dict[tuple[str, ...], str] = {}
    cols = (profiles.c.doc, profiles.c.community, profiles.c.grid, profiles.c.place_basis,
            profiles.c.registered_community, profiles.c.lives_apart, profiles.c.place_contested)
    with engine.connect() as conn:
        for row in conn.execute(select(*cols).where(profiles.c.merged_into.is_(None))):
            profile = Profile.model_validate(row.doc)
            records = tuple(sorted(profile.live_records))
            seen = [strip(profile.golden.model_dump(mode="json")), row.community, row.grid, row.place_basis,
                    row.registered_community, bool(row.lives_apart), bool(row.place_contested)]
            view[records] = json.dumps(seen, ensure_ascii=False, sort_keys=True)
    return view


def _view_differences(a: Outcome, b: Outcome) -> int:
    return sum(1 for k in a.view.keys() | b.view.keys() if a.view.get(k) != b.view.get(k))


def report(calm: Outcome, faulted: Outcome, kills: int, again: Outcome | None = None) -> bool:
    chaos = faulted.chaos or Chaos()
    differing = calm.clusters ^ faulted.clusters
    table = Table(title=f"Fault campaign: {faulted.records:,} record versions, calm load on {calm.store}, "
                        f"faulted load on {faulted.store}")
    table.add_column("measure")
    table.add_column("calm", justify="right")
    table.add_column("faults", justify="right")
    table.add_column("target")
    yes = {True: "yes", False: "NO"}
    table.add_row("load wall time, s", f"{calm.seconds:.1f}", f"{faulted.seconds:.1f}", "")
    table.add_row("workers SIGKILLed and restarted (records linked at each kill)", "0",
                  f"{len(chaos.kills)} ({', '.join(str(k[2]) for k in chaos.kills)})", f"≥ {kills}")
    table.add_row("broker restarts (s into the load)", "0",
                  f"{len(chaos.broker_restarts)} ({', '.join(f'{t:.0f}' for t in chaos.broker_restarts)})", "1, mid-ingest")
    table.add_row("PostgreSQL restarts (s into the load)", "0",
                  f"{len(chaos.postgres_restarts)} ({', '.join(f'{t:.0f}' for t in chaos.postgres_restarts)})",
                  "1" if faulted.store == "postgres" else "—")
    table.add_row("connector pulls run again after a failure", "0", str(chaos.pull_retries), "")
    table.add_row("workers that exited on their own and were started again (no broker at start)",
                  str(calm.worker_exits), str(faulted.worker_exits), "")
    table.add_row("store checksum equal to the calm load's (ids, versions, history included)", "—",
                  yes[calm.checksum == faulted.checksum], "yes")
    if again is not None:
        table.add_row("… a second calm load's checksum equal to the first's (the same files, no faults)", "—",
                      yes[calm.checksum == again.checksum], "")
    table.add_row("what a reader sees equal to the calm load's: records, surviving values with their "
                  "sources, conflicts, community, grid, flags (profiles differing)", "—",
                  f"{yes[not _view_differences(calm, faulted)]} ({_view_differences(calm, faulted)})", "yes (0)")
    table.add_row("clustering equal to the calm load's (differing clusters)", "—",
                  f"{yes[not differing]} ({len(differing)})", "yes (0)")
    table.add_row("replay of the load's own log gives its store's checksum", yes[calm.replay_identical],
                  yes[faulted.replay_identical], "yes")
    table.add_row("records lost (in raw.*, not readable in the store)", str(calm.lost), str(faulted.lost), "0")
    table.add_row("record versions duplicated in raw.*", str(calm.duplicated_versions),
                  str(faulted.duplicated_versions), "0")
    table.add_row("profile events applied twice or missing in the store", str(calm.events_doubled_or_missing),
                  str(faulted.events_doubled_or_missing), "0")
    table.add_row("copies of a profile event in the topic (re-sent outbox; dropped by consumers)",
                  str(calm.event_copies_in_topic), str(faulted.event_copies_in_topic), "(reported)")
    table.add_row("consumer lag of the workers' group at the end", str(calm.lag), str(faulted.lag), "0")
    table.add_row("dead letters (beyond the calm load's deliberate bad rows)", str(calm.dead_letters),
                  f"{faulted.dead_letters} ({faulted.dead_letters - calm.dead_letters:+d})", "+0")
    table.add_row("machine load average before → after", f"{calm.load_before} → {calm.load_after}",
                  f"{faulted.load_before} → {faulted.load_after}", "")
    if calm.reads:
        q = statistics.quantiles(calm.reads, n=100)
        table.add_row(f"profile reads while the workers write ({calm.store}, {len(calm.reads)} reads): "
                      "p50 / p99 / max ms", f"{q[49] * 1000:.1f} / {q[98] * 1000:.1f} / {max(calm.reads) * 1000:.0f}",
                      "—", "p99 < 50, max < 1000")
    console.print(table)
    if differing:
        console.print(f"{len(differing)} clusters differ (calm {calm.cluster_digest}, faults {faulted.cluster_digest}); "
                      "the first few:")
        for cluster in sorted((sorted(c) for c in differing), key=len)[:6]:
            console.print("  " + ", ".join(cluster))
    targets = {
        "store checksum equal to the calm load's": calm.checksum == faulted.checksum,
        "what a reader sees equal": not _view_differences(calm, faulted),
        "clustering equal": not differing,
        "replay identical": faulted.replay_identical,
        "nothing lost": faulted.lost == 0,
        "no version duplicated": faulted.duplicated_versions == 0,
        "no event applied twice or missing": faulted.events_doubled_or_missing == 0,
        "no lag": faulted.lag == 0,
        "no extra dead letters": faulted.dead_letters == calm.dead_letters,
        f"≥ {kills} kills": len(chaos.kills) >= kills,
        "one broker restart": len(chaos.broker_restarts) == 1,
        "one PostgreSQL restart": faulted.store != "postgres" or len(chaos.postgres_restarts) == 1,
    }
    missed = [name for name, ok in targets.items() if not ok]
    console.print("targets " + ("[green]all met[/]" if not missed else "[red]not met:[/] " + "; ".join(missed)))
    return not missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--store", choices=("postgres", "sqlite"), default="postgres",
                        help="the faulted load's store (the calm load runs on SQLite, with reads measured)")
    parser.add_argument("--calm-twice", action=argparse.BooleanOptionalAction, default=True,
                        help="a second calm load, to show what differs between two loads without faults")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs) and print its path")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="onceonly-faults-"))
    if args.keep:
        console.print(f"work folder: {work}")
    try:
        write_department_files(work / "departments", args.residents, args.seed)
        calm = load("calm", work / "calm", work / "departments", residents=args.residents, store="sqlite",
                    postgres=None, n_workers=args.workers, kills=0, seed=args.seed, read=True)
        again = (load("calm-again", work / "calm-again", work / "departments", residents=args.residents, store="sqlite",
                      postgres=None, n_workers=args.workers, kills=0, seed=args.seed, read=False)
                 if args.calm_twice else None)
        if args.store == "postgres":
            with PostgresServer.started(work / "postgres") as server:
                faulted = load("faults", work / "faults", work / "departments", residents=args.residents,
                               store="postgres", postgres=server, n_workers=args.workers, kills=args.kills,
                               seed=args.seed, read=False)
        else:
            faulted = load("faults", work / "faults", work / "departments", residents=args.residents, store="sqlite",
                           postgres=None, n_workers=args.workers, kills=args.kills, seed=args.seed, read=False)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if report(calm, faulted, args.kills, again) else 1


if __name__ == "__main__":
    raise SystemExit(main())
