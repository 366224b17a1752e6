"""``onceonly demo``: the main job on the embedded default, with every department system running.

One synthetic district; the four department systems hold it the way each really does (SQL
database, HTTP API, drop folder, change-event topic) and the community workers' app pushes its
visits to the hub's ingest API. The hub collects each source once, trains its matcher on what
it collected, lets two stream workers resolve everything into profiles, shows the result, and
shows that pulling again sends nothing. Everything runs under ``<data dir>/demo`` and stops on
Ctrl-C (or after ``--seconds``): no process is left behind.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine, func, select

from api.seed import DEMO_PASSWORD, DEMO_USERS, seed_demo_users
from connectors.pull import RunCounts
from connectors.spec import ConnectorSpec
from core.access.catalogue import catalogue
from localinfra.prefect_server import PrefectServer, prefect_server
from localinfra.processes import free_port, spawn, stop, wait_until
from onceonly import bootstrap
from onceonly.department_systems import DEPARTMENTS, DepartmentSystems, department_systems
from onceonly.settings import Settings
from services.training import TrainMatcher
from store.auth_tables import UserStore
from store.ledger import SourceRecordLedger
from store.profile_tables import profile_event_log, profiles, record_links

DEFAULT_RESIDENTS = 2000
SEED = 1
WORKERS = 2
RESTAMPED_ROWS = 200
REPULLED = "public_security"
TRANSPORTS = {"public_security": "SQL pull", "social_security": "HTTP pull", "civil_affairs": "files pull",
              "housing": "Kafka pull", "community": "API push", "grid_centre": "files pull"}


@dataclass
class SourceCounts:
    source: str
    read: int
    events: int
    unchanged: int
    dead_letters: int

    @property
    def balanced(self) -> bool:
        return self.read == self.events + self.unchanged + self.dead_letters


def run_demo(settings: Settings, console: Console, *, stay_up_s: float | None,
             residents: int = DEFAULT_RESIDENTS, seed: int = SEED, workers: int = WORKERS) -> None:
    started = time.monotonic()
    demo_dir = settings.data_dir.resolve() / "demo"
    shutil.rmtree(demo_dir, ignore_errors=True)
    logs = demo_dir / "logs"
    logs.mkdir(parents=True)
    settings = settings.model_copy(update={"data_dir": demo_dir, "database_url": None})
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _interrupt),  # `kill` stops it as Ctrl-C does
                signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler)}  # even if inherited ignored
    try:
        with ExitStack() as stack:
            with console.status("Starting the local Kafka broker (KRaft) and creating the hub's topics…"):
                broker = stack.enter_context(bootstrap.local_broker(settings))
            settings = settings.model_copy(update={"kafka_bootstrap": broker.bootstrap})
            _say(console, f"[green]✓[/] Kafka broker at {broker.bootstrap}; topics: "
                          f"{', '.join(bootstrap.hub_topics(settings))}")
            # Prefect's server takes a while to start: it starts now and is waited for later.
            prefect = stack.enter_context(prefect_server(demo_dir / "prefect"))

            # The hub's query service, which also takes the community app's pushes (ingest API).
            token = secrets.token_urlsafe(16)
            api_url = f"http://127.0.0.1:{free_port()}"
            serve_env = {**_child_env(settings), "ONCEONLY_API_HOST": "127.0.0.1",
                         "ONCEONLY_API_PORT": api_url.rsplit(":", 1)[1],
                         "ONCEONLY_INGEST_TOKENS": json.dumps({"community": token})}
            serve = spawn(_cli("serve"), logs / "serve.log", env=serve_env)
            stack.callback(stop, serve)

            with console.status(f"Generating a district of {residents:,} residents (seed {seed}) and bringing up "
                                "its department systems…"):
                systems = stack.enter_context(department_systems(settings, broker.bootstrap, residents, seed))
            _print_systems(console, systems)
            with console.status("Starting the query service (ingest API)…"):
                wait_until(lambda: _answers(f"{api_url}/health"), timeout=120, what="the query service",
                           proc=serve, log_path=logs / "serve.log")
            _say(console, f"[green]✓[/] query service at {api_url} (community token in ONCEONLY_INGEST_TOKENS)")

            counts = _collect(console, settings, systems, api_url, token)
            _print_counts(console, counts)

            engine = bootstrap.engine(settings)
            stack.callback(engine.dispose)
            trained_on = _train(console, settings, engine, seed)

            env = _child_env(settings)
            worker_procs = [spawn(_cli("worker"), logs / f"worker-{i}.log", env=env) for i in range(1, workers + 1)]
            stack.callback(_stop_all, worker_procs)
            _say(console, f"[green]✓[/] {workers} stream workers started (one consumer group; logs in {logs})")
            _wait_for_profiles(console, settings, engine, worker_procs, logs, expected_links=trained_on,
                               events_sent=sum(c.events for c in counts))
            _print_store(console, settings, engine, broker.bootstrap)
            seed_demo_users(UserStore(engine))
            _raise_objections(console, settings, engine)
            flows = _serve_flows(console, settings, prefect, logs)
            stack.callback(stop, flows)
            _print_where_to_look(console, settings, systems, broker.bootstrap, api_url, logs, prefect)
            _pull_again(console, systems)
            _say(console, f"Up in {time.monotonic() - started:.0f} s.")
            _stay_up(console, stay_up_s)
    except KeyboardInterrupt:
        _say(console, "\nCtrl-C: stopping…")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    _say(console, "Stopped: workers, flows, Prefect server, query service, department systems and broker are down.")


# -- collecting -----------------------------------------------------------------------------------
def _collect(console: Console, settings: Settings, systems: DepartmentSystems, api_url: str,
             token: str) -> list[SourceCounts]:
    """Each pulled source through its connector (its mapping file), then the community push."""
    found: list[SourceCounts] = []
    progress = Progress(SpinnerColumn(), TextColumn("{task.description:<32}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console)
    ingest = bootstrap.ingest_service(settings)
    with progress:
        tasks = {s: progress.add_task(f"{s} ({TRANSPORTS[s]})", total=systems.rows[s] + systems.bad.get(s, 0))
                 for s in DEPARTMENTS}
        for source in DEPARTMENTS:
            spec = ConnectorSpec.load(bootstrap.mapping_path(settings, source))
            if spec.kind == "ingest":
                answer = systems.post_visits(api_url, token)
                found.append(SourceCounts(source, answer["read"], answer["events"], answer["unchanged"],
                                          answer["dead_letters"]))
                progress.update(tasks[source], completed=answer["read"])
                continue

            def show(c: RunCounts, task: TaskID = tasks[source]) -> None:
                progress.update(task, completed=c.read)

            run = ingest.pull(spec, on_page=show)
            progress.update(tasks[source], completed=run.read)
            found.append(SourceCounts(source, run.read, run.events, run.unchanged, run.dead_letters))
    return found


def _train(console: Console, settings: Settings, engine: Engine, seed: int) -> int:
    """EM on the raw topics' current records, standardised in-process, before any worker resolves;
    returns how many records it was trained on (every one of them must end up linked)."""
    with console.status("Training the matcher: standardising the raw topics' records in-process…") as status:
        trained = bootstrap.training_service(settings, engine).train(
            TrainMatcher(seed=seed),
            on_records=lambda n: status.update(f"Training the matcher: EM on {n:,} standardised records…"))
    _say(console, f"[green]✓[/] matcher trained before resolution on {trained.records:,} records "
                  f"(EM, no labels): parameters {trained.parameters.version} stored")
    return trained.records


# -- waiting for the workers ----------------------------------------------------------------------
def _wait_for_profiles(console: Console, settings: Settings, engine: Engine, workers: Sequence[subprocess.Popen[bytes]],
                       logs: Path, *, expected_links: int, events_sent: int, quiet_s: float = 3.0,
                       timeout: float = 900.0) -> None:
    """Until every standardised record is linked, every version landed, and the store is quiet."""
    ledger = SourceRecordLedger(engine)
    deadline = time.monotonic() + timeout
    last_events, quiet_since = -1, time.monotonic()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("workers: standardise → resolve → project", total=expected_links)
        while True:
            for i, proc in enumerate(workers, start=1):
                if proc.poll() is not None:
                    raise RuntimeError(f"stream worker {i} exited with code {proc.returncode}; "
                                       f"see {logs / f'worker-{i}.log'}")
            linked, events = _linked(engine), _count(engine, profile_event_log)
            progress.update(task, completed=min(linked, expected_links))
            if events != last_events:
                last_events, quiet_since = events, time.monotonic()
            elif (linked >= expected_links and ledger.count() >= events_sent
                  and time.monotonic() - quiet_since >= quiet_s):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {linked:,} of {expected_links:,} records linked after {timeout:.0f} s; "
                                   f"see the worker logs in {logs}")
            time.sleep(0.5)


# -- the flows ------------------------------------------------------------------------------------
def _serve_flows(console: Console, settings: Settings, prefect: PrefectServer,
                 logs: Path) -> subprocess.Popen[bytes]:
    """``onceonly flows serve`` against the demo's Prefect server, and one validate-and-publish run
    started at once (the schedule's next one is up to half an hour away)."""
    from flows.serve import deployments_expected

    with console.status(f"Starting the Prefect server ({prefect.ui_url}) and serving the flows on schedule…"):
        prefect.wait_ready()
        proc = spawn(_cli("flows", "serve"), logs / "flows.log", env={**_child_env(settings), **prefect.env()})
        expected = deployments_expected(settings)
        wait_until(lambda: len(prefect.deployments()) >= expected, timeout=300, what="the flow deployments",
                   proc=proc, log_path=logs / "flows.log")
    served = sorted(prefect.deployments(), key=lambda d: d["name"])
    _say(console, f"[green]✓[/] {len(served)} Prefect deployments served on schedule:")
    for d in served:
        crons = ", ".join(s["schedule"].get("cron", "?") for s in d.get("schedules") or []) or "on demand"
        _say(console, f"    {d['flow_name'] + '/' + d['name']:<44} {crons}")
    publish = next(d for d in served if d["name"] == "validate-and-publish")
    with console.status("Running validate-and-publish now (Great Expectations, then publish)…"):
        run = prefect.wait_for_run(prefect.run_now(publish["id"]))
    state = (run.get("state") or {}).get("type", "?")
    mark = "[green]✓[/]" if state == "COMPLETED" else "[red]✗[/]"
    _say(console, f"{mark} flow run validate-and-publish ({run.get('name')}): {state} — "
                  f"{prefect.ui_url}/runs/flow-run/{run['id']}")
    return proc


# -- showing --------------------------------------------------------------------------------------
def _print_systems(console: Console, systems: DepartmentSystems) -> None:
    _say(console, f"[green]✓[/] district of {systems.residents:,} residents (seed {systems.seed}); "
                  "department systems up:")
    for source, where in systems.describe().items():
        bad = systems.bad.get(source, 0)
        _say(console, f"    {catalogue().department(source)} {source:<16} {systems.rows[source]:>6,} rows"
                      f"{f' + {bad} bad' if bad else ''}  {where}")


def _print_counts(console: Console, counts: Sequence[SourceCounts]) -> None:
    table = Table(title="Collected once, per source: read = events + unchanged + dead letters")
    for column in ("source", "read", "events", "unchanged", "dead letters", "adds up"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for c in counts:
        table.add_row(c.source, f"{c.read:,}", f"{c.events:,}", f"{c.unchanged:,}", f"{c.dead_letters:,}",
                      "✓" if c.balanced else "✗")
    total = SourceCounts("total", *(sum(getattr(c, f) for c in counts)
                                    for f in ("read", "events", "unchanged", "dead_letters")))
    table.add_section()
    table.add_row(total.source, f"{total.read:,}", f"{total.events:,}", f"{total.unchanged:,}",
                  f"{total.dead_letters:,}", "✓" if total.balanced else "✗")
    console.print(table)


def _print_store(console: Console, settings: Settings, engine: Engine, kafka: str) -> None:
    by_type = _events_by_type(engine)
    with engine.connect() as conn:
        active = int(conn.execute(select(func.count()).select_from(profiles)
                                  .where(profiles.c.status == "active")).scalar_one())
        merged_away = _count(engine, profiles) - active
    reviews = _pending_reviews(engine)
    dead = _topic_size(kafka, settings.deadletter_topic)
    table = Table(title="Profile store (SQLite)", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("profiles", f"{active:,}")
    table.add_row("records linked", f"{_linked(engine):,}")
    table.add_row("merges", f"{by_type.get('ProfilesMerged', 0) // 2:,}")  # recorded in both profiles' streams
    table.add_row("merged-away profiles (redirects)", f"{merged_away:,}")
    table.add_row("pending reviews", f"{reviews:,}")
    table.add_row("dead letters (topic)", f"{dead:,}")
    console.print(table)
    events = Table(title="Profile events by type (profile_event_log)")
    events.add_column("type")
    events.add_column("events", justify="right")
    for name, n in sorted(by_type.items(), key=lambda kv: -kv[1]):
        events.add_row(name, f"{n:,}")
    console.print(events)


def _residents_in_scope(engine: Engine, systems: DepartmentSystems) -> dict[str, str]:
    """Per community worker: the residents the store places in their scope, beside how many the
    district's truth says live there (the generator's own addresses)."""
    from sqlalchemy import func, or_, select

    from simulators.district import generate_district
    from store.profile_tables import profiles

    living: Counter[str] = Counter()
    for resident in generate_district(systems.residents, seed=systems.seed):
        living[resident.address.community] += 1
        living[f"{resident.address.community}/{resident.address.grid}"] += 1
    found = {}
    with engine.connect() as conn:
        for user in DEMO_USERS:
            if user.role != "community_worker":
                continue
            scope = or_(profiles.c.community.in_(list(user.communities)), profiles.c.grid.in_(list(user.grids)))
            held = conn.execute(select(func.count()).select_from(profiles)
                                .where(scope, profiles.c.status == "active")).scalar_one()
            truth = sum(living[c] for c in (*user.communities, *user.grids))
            found[user.username] = f"{held:,} ({truth:,})"
    return found


DEMO_OBJECTIONS = (("name", "居民说姓名登记有误，请核对户籍底册"), ("phones", "号码已停用"),
                   ("residential_address", "已搬离，现住址不对"))


def _raise_objections(console: Console, settings: Settings, engine: Engine) -> None:
    """The first demo worker flags a few fields of her residents as wrong (数据异议): each goes to
    the department holding the value, and shows as 有异议 in the console until it is settled."""
    from core.access import Principal
    from core.planner.fields import read_field
    from store.planner_reads import residents

    worker = next(u for u in DEMO_USERS if u.role == "community_worker")
    principal = Principal(user_id=f"demo:{worker.username}", username=worker.username, role="community_worker",
                          communities=frozenset(worker.communities))
    service = bootstrap.objection_service(settings, engine, bootstrap.audit_log(settings, engine))
    table = Table(title=f"Objections raised by {worker.username} (数据异议; see /console/objections)")
    for column in ("resident", "field", "sent to", "due"):
        table.add_column(column)
    people = sorted(residents(engine, community=worker.communities[0]), key=lambda p: p.profile_id)
    for field, reason in DEMO_OBJECTIONS:
        profile = next((p for p in people if read_field(p.golden, field) is not None), None)
        if profile is None:
            continue
        people.remove(profile)
        objection = service.raise_(principal, profile.profile_id, field, reason)
        table.add_row(profile.profile_id, field, objection.department or "stewards",
                      objection.due_on.isoformat() if objection.due_on else "")
    console.print(table)


def _print_where_to_look(console: Console, settings: Settings, systems: DepartmentSystems, kafka: str, api_url: str,
                         logs: Path, prefect: PrefectServer) -> None:
    raw = ", ".join(settings.raw_topic(s) for s in bootstrap.sources(settings))
    users = Table(title=f"Web console {api_url}/console — demo users (password {DEMO_PASSWORD}, demo only)")
    for column in ("user", "role", "sees", "residents in scope (district truth)"):
        users.add_column(column)
    in_scope = _residents_in_scope(bootstrap.engine(settings), systems)
    for user in DEMO_USERS:
        users.add_row(user.username, user.role, user.scope, in_scope.get(user.username, ""))
    console.print(users)
    _say(
        console,
        "Where to look:\n"
        f"  web console    {api_url}/console  (log in as one of the users above)\n"
        f"  query service  {api_url}  (OpenAPI: {api_url}/docs)\n"
        f"  Prefect UI     {prefect.ui_url}  (deployments, runs, artifacts; the flows are served on schedule)\n"
        f"  Data Docs      {settings.data_dir / 'gx' / 'uncommitted' / 'data_docs' / 'local_site' / 'index.html'}\n"
        f"  extracts       {settings.data_dir / 'extracts'}  (one per department, granted fields only)\n"
        f"  store          {settings.sqlite_path}\n"
        f"  kafka          {kafka}\n"
        f"    topics       {raw}\n"
        f"                 {settings.records_topic}, {settings.profile_events_topic}, {settings.places_topic}, "
        f"{settings.deadletter_topic}; "
        f"department's own: {systems.housing.topic}\n"
        f"  departments    {systems.data_dir / 'departments'}, {systems.civil_affairs_folder}\n"
        f"  logs           {logs}\n"
        f"  commands       ONCEONLY_DATA_DIR={settings.data_dir} onceonly status | pull <source> | replay")


def _pull_again(console: Console, systems: DepartmentSystems) -> None:
    """The station's batch re-stamps rows without changing a fact; pulling again sends nothing."""
    restamped = systems.restamp_public_security(RESTAMPED_ROWS)
    _say(console, f"{catalogue().department(REPULLED)} {REPULLED}: the station's overnight batch re-stamped {restamped} rows "
                  "(updated_at only, same facts). Pulling again:")
    env = {**os.environ, "ONCEONLY_DATA_DIR": str(systems.data_dir), "COLUMNS": "200"}
    env.pop("ONCEONLY_DATABASE_URL", None)
    done = subprocess.run(_cli("pull", REPULLED), env=env, capture_output=True, text=True, timeout=300)
    _say(console, f"  $ onceonly pull {REPULLED}\n  {done.stdout.strip()}")
    if done.returncode != 0:
        raise RuntimeError(f"onceonly pull {REPULLED} failed: {done.stderr.strip()[-2000:]}")
    _say(console, "  → collected once: nothing already collected is sent again")


def _stay_up(console: Console, seconds: float | None) -> None:
    if seconds is not None:
        time.sleep(seconds)
        return
    _say(console, "The stack stays up; press Ctrl-C to stop.")
    while True:
        time.sleep(1)


# -- helpers --------------------------------------------------------------------------------------
def _say(console: Console, text: str) -> None:
    """A line of text, never wrapped by rich (a terminal wraps it; a log keeps it whole)."""
    console.print(text, soft_wrap=True)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "onceonly.cli", *args]


def _child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ, ONCEONLY_KAFKA_BOOTSTRAP=settings.kafka_bootstrap or "",
               ONCEONLY_DATA_DIR=str(settings.data_dir))
    env.pop("ONCEONLY_DATABASE_URL", None)
    return env


def _stop_all(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    with ThreadPoolExecutor(max_workers=max(1, len(procs))) as pool:
        list(pool.map(stop, procs))


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def _linked(engine: Engine) -> int:
    """Source records linked to a profile (each counted once)."""
    distinct = select(record_links.c.source, record_links.c.record_id).distinct().subquery()
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(distinct)).scalar_one())


def _events_by_type(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(profile_event_log.c.type, func.count()).group_by(profile_event_log.c.type))
        return {str(t): int(n) for t, n in rows}


def _pending_reviews(engine: Engine) -> int:
    """Reviews requested and not yet resolved (one review id may sit in several profiles' streams)."""
    ids: dict[str, set[str]] = {"ReviewRequested": set(), "ReviewResolved": set()}
    with engine.connect() as conn:
        for kind, payload in conn.execute(select(profile_event_log.c.type, profile_event_log.c.payload)
                                          .where(profile_event_log.c.type.in_(list(ids)))):
            review_id = _review_id(payload)
            if review_id:
                ids[kind].add(review_id)
    return len(ids["ReviewRequested"] - ids["ReviewResolved"])


def _review_id(payload: str) -> str | None:
    """The review id in a logged event (``schemas.codec``: ``{"type": …, "data": {…}}``)."""
    try:
        found = json.loads(payload)["data"].get("review_id")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return str(found) if found else None


def _topic_size(bootstrap_servers: str, topic: str) -> int:
    from kafka import TopicPartition

    from kafka_adapter import clients

    consumer = clients.consumer(bootstrap_servers, client_id="onceonly-demo")
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        return sum(consumer.end_offsets([TopicPartition(topic, p) for p in partitions]).values())
    finally:
        consumer.close()
