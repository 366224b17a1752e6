"""The ``onceonly`` console script: thin commands over the bootstrap and the core."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from onceonly import bootstrap
from onceonly.logs import configure_logging
from onceonly.settings import PROJECT_ROOT, Settings, is_loopback

if TYPE_CHECKING:
    from core.access import Principal
    from schemas.profile_events import StewardCommand
    from services.gazetteer import GazetteerService
    from services.objections import ObjectionService
    from services.pull_holds import PullHoldService

app = typer.Typer(add_completion=False, no_args_is_help=True, help="OnceOnly: one profile per resident, each fact collected once.")
console = Console()


def _settings() -> Settings:
    return Settings()


def _refuse_default_key(settings: Settings, host: str, command: str) -> None:
    """The default key is public: with it anyone could forge a console session or reverse the keyed
    hash of an ID number. Only a service reachable from this machine alone may run with it."""
    if settings.uses_default_key and not is_loopback(host):
        typer.echo(f"onceonly {command}: refusing to start with the default ONCEONLY_ID_HASH_KEY while bound to "
                   f"{host}; set a secret key (e.g. openssl rand -hex 32) or bind to 127.0.0.1", err=True)
        raise typer.Exit(2)


def _refuse_default_audit_key(settings: Settings, host: str, command: str) -> None:
    """With the public audit key anyone could re-sign an edited audit log and its checkpoints."""
    if settings.uses_default_audit_key and not is_loopback(host):
        typer.echo(f"onceonly {command}: refusing to start with the default ONCEONLY_AUDIT_KEY while bound to "
                   f"{host}; set a secret audit key (not the ID-hash key), or ONCEONLY_AUDIT_KEY_FILE", err=True)
        raise typer.Exit(2)


def _refuse_default_session_key(settings: Settings, host: str, command: str) -> None:
    """With the public session key anyone could forge a console session for any user id."""
    if settings.uses_default_session_key and not is_loopback(host):
        typer.echo(f"onceonly {command}: refusing to start with the default ONCEONLY_SESSION_KEY while bound to "
                   f"{host}; set a secret session key (not the ID-hash or audit key)", err=True)
        raise typer.Exit(2)


@app.command()
def broker() -> None:
    """Run the embedded Kafka broker (KRaft) in the foreground until Ctrl-C."""
    settings = _settings()
    with bootstrap.local_broker(settings) as running:
        console.print(f"Kafka broker ready at [bold]{running.bootstrap}[/] (data in {running.data_dir}); Ctrl-C stops it.")
        _wait_for_interrupt()


@app.command()
def worker(loglevel: Annotated[str, typer.Option(help="log level (default: ONCEONLY_LOG_LEVEL)")] = "",
           agents: Annotated[str, typer.Option(help="the agents to run, comma-separated (default: "
                                                    "ONCEONLY_WORKER_AGENTS, or all)")] = "") -> None:
    """Run a stream worker (faust); start several to share the partitions."""
    import faust

    settings = _settings()
    if agents:
        settings = settings.model_copy(update={"worker_agents": agents})
    _refuse_default_key(settings, settings.api_host, "worker")
    _refuse_default_audit_key(settings, settings.api_host, "worker")
    # The newest stored matcher parameters, announced on the records topic before any record this
    # worker standardises: the resolver switches there (a version in use already changes nothing).
    hub = bootstrap.hub(settings)
    try:
        hub.announce_matcher()
    except Exception as exc:  # the broker is not up yet: the resolve agent announces it once it is
        console.print(f"matcher parameters not announced yet ({type(exc).__name__}); the worker will")
    stream_app = hub.stream_app()
    if settings.metrics_port:  # Prometheus scrapes each worker (its own counters) on this port
        from metrics.worker_endpoint import start_worker_metrics

        start_worker_metrics(stream_app.conf.onceonly_metrics.registry, host=settings.metrics_host,
                             port=settings.metrics_port, token=settings.metrics_token.get_secret_value())
    # The hub's one logging setup (redacted, text or JSON), not faust's own.
    configure_logging(settings.log_format, loglevel or settings.log_level)
    running = faust.Worker(stream_app, loglevel=loglevel or settings.log_level, quiet=True, override_logging=False)
    running.spinner = None  # its terminal spinner writes cursor codes to stdout, between the log lines
    running.execute_from_commandline()


@app.command()
def ingest(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A department file (CSV)")],
    mapping: Annotated[Path, typer.Option("--mapping", "-m", exists=True, dir_okay=False, help="The department's mapping file (YAML)")],
) -> None:
    """Read one department file (CSV or XLSX) through a mapping file into Kafka, collected once."""
    from connectors.spec import ConnectorSpec

    spec = ConnectorSpec.load(mapping)
    counts = bootstrap.hub(_settings()).ingest.pull(spec, only_file=path)
    console.print(f"{spec.source}: {counts}")


@app.command()
def pull(
    source: Annotated[str, typer.Argument(help="a department source with a mapping file in ONCEONLY_MAPPINGS_DIR")],
) -> None:
    """Run one department's connector as its mapping file declares (incremental, collected once)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    service = bootstrap.hub(_settings()).ingest
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=console, transient=True) as progress:
        task = progress.add_task(f"{source}: starting", total=None)

        def show(counts: object) -> None:
            progress.update(task, description=f"{source}: {counts}")

        counts = service.pull(source, on_page=show)
    console.print(f"{source}: {counts}")


@app.command()
def status() -> None:
    """Print what the store holds."""
    from store.ledger import SourceRecordLedger

    hub = bootstrap.hub(_settings())
    ledger = SourceRecordLedger(hub.engine)
    console.print(f"store: {hub.settings.store_url}")
    for source in hub.sources:
        console.print(f"  {source:16} {ledger.count(source):>8} source-record versions")


@app.command()
def init() -> None:
    """Create the hub's Kafka topics and the store's tables (idempotent)."""
    hub = bootstrap.hub(_settings())
    bootstrap.prepare_topics(hub.settings)
    _ = hub.engine  # built: the tables created or migrated
    console.print(f"topics and tables ready ({hub.settings.store_url})")


@app.command()
def check() -> None:
    """Exit 0 when the Kafka cluster and the store answer (container healthchecks use it)."""
    from kafka_adapter.admin import cluster_reachable

    hub = bootstrap.hub(_settings())
    kafka_ok = cluster_reachable(hub.kafka_bootstrap())
    try:
        with hub.engine.connect():
            store_ok = True
    except Exception:
        store_ok = False
    console.print(f"kafka {'ok' if kafka_ok else 'DOWN'}, store {'ok' if store_ok else 'DOWN'}")
    if not (kafka_ok and store_ok):
        raise typer.Exit(1)


@app.command()
def asyncapi(
    output: Annotated[Path, typer.Option("--output", "-o", help="where to write it; - = standard output")] = (
        PROJECT_ROOT / "docs" / "asyncapi.json"),
    deployment: Annotated[bool, typer.Option(help="describe this deployment's settings (topic prefix, partitions, "
                                                   "mappings) instead of the repository's reference")] = False,
) -> None:
    """Write the AsyncAPI 3.0 description of every topic (docs/asyncapi.json is the reference one)."""
    from onceonly.asyncapi import asyncapi_document, reference_document, render

    text = render(asyncapi_document(_settings()) if deployment else reference_document())
    if str(output) == "-":
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    console.print(f"wrote {output}")


def service_app():  # type: ignore[no-untyped-def]
    """The query service as ``onceonly serve`` runs it: uvicorn calls this in each worker process."""
    import gc

    from api.app import create_app

    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)  # each uvicorn process starts afresh
    app = create_app(bootstrap.hub(settings))
    # The cyclic collector's full passes stopped every request for 100–230 ms (measured on 100,000
    # profiles): what the process built at start is frozen out of them, and young collections run
    # after 50,000 net allocations instead of 700 (request garbage is freed by reference counting).
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    return app


def serve_workers(settings: Settings, asked: int = 0) -> int:
    """How many uvicorn processes ``serve`` runs: as asked, else one per CPU (at most 4) on PostgreSQL
    and at most two on SQLite. There the audit log has its own file, so the processes queue only for
    their audit group commits, never behind the store's writers; a third process would mostly add
    more writers queueing for that one lock (``bench.query_service --workers 1`` / ``2``, back to back
    on 2 cores at 100,000 profiles: 167 / 193 and 182 / 226 requests/s)."""
    if asked:
        return asked
    return min(os.cpu_count() or 1, 2 if settings.store_url.startswith("sqlite") else 4)


def _metrics_folder(settings: Settings) -> None:
    """An empty folder for the query service's processes' metric files, named to them by the environment
    (set before uvicorn spawns them, which is when prometheus-client reads it)."""
    import shutil

    folder = settings.data_dir / "metrics" / "api"
    shutil.rmtree(folder, ignore_errors=True)  # the counters of a previous run start again at zero
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (default: ONCEONLY_API_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default: ONCEONLY_API_PORT)")] = None,
    workers: Annotated[int, typer.Option(min=0, envvar="ONCEONLY_API_WORKERS",
                                         help="uvicorn worker processes (default: one per CPU, at most 4 "
                                              "on PostgreSQL and 2 on SQLite)")] = 0,
) -> None:
    """Run the query service (FastAPI under uvicorn), in one or several worker processes on one port."""
    import uvicorn

    settings = _settings()
    _refuse_default_key(settings, host or settings.api_host, "serve")
    _refuse_default_audit_key(settings, host or settings.api_host, "serve")
    _refuse_default_session_key(settings, host or settings.api_host, "serve")
    _ = bootstrap.hub(settings).engine  # migrate once here, before the workers open the store
    processes = serve_workers(settings, workers)
    if processes > 1:  # one /metrics for all processes: prometheus-client's multiprocess files
        _metrics_folder(settings)
    # uvloop and httptools (dependencies) when installed: "auto" picks them, else asyncio and h11.
    # Every read is in the audit log; uvicorn's access log would only repeat the URLs.
    uvicorn.run("onceonly.cli:service_app", factory=True, host=host or settings.api_host,
                port=port or settings.api_port, workers=processes, log_level="warning",
                loop="auto", http="auto", access_log=False,
                log_config=None)  # uvicorn's lines go through the hub's redacting handler (onceonly.logs)


@app.command()
def train(seed: Annotated[int, typer.Option(help="seed of the random pair sample")] = 0) -> None:
    """Re-estimate the matcher's parameters (EM) from the raw topics' current records; workers pick it up.

    Prints m and u of every comparison level and the prior λ; with too little data it stores
    nothing and exits with status 2.
    """
    from rich.table import Table

    from services.training import TooLittleData, TrainMatcher, estimates

    service = bootstrap.hub(_settings()).training
    try:
        with console.status("estimating the matcher's parameters from the raw topics…"):
            parameters = service.train(TrainMatcher(seed=seed)).parameters
    except TooLittleData as exc:
        typer.echo(f"onceonly train: too little data, nothing stored: {exc}", err=True)
        raise typer.Exit(2) from None
    table = Table(title=f"matcher parameters {parameters.version}")
    for column in ("comparison", "level", "m", "u", "bits"):
        table.add_column(column, justify="left" if column in ("comparison", "level") else "right")
    shown = ""
    for row in estimates(parameters):
        table.add_row(row.comparison if row.comparison != shown else "", row.level, f"{row.m:.4g}", f"{row.u:.3g}",
                      f"{row.bits:+.1f}")
        shown = row.comparison
    console.print(table)
    summary = parameters.training
    if summary is not None:
        console.print(f"λ (prior) {parameters.prior:.3g} · {summary.records:,} records · {summary.candidate_pairs:,} "
                      f"candidate pairs · {summary.expected_matches:,.1f} expected matches · "
                      f"{summary.iterations} EM iterations{'' if summary.converged else ' (not converged)'}")
    console.print(f"stored matcher parameters {parameters.version}")


steward_app = typer.Typer(no_args_is_help=True, help="A steward's decisions: reviews, splits, undoing merges.")
app.add_typer(steward_app, name="steward")


def now() -> datetime:
    return datetime.now(UTC)


def _steward_submit(command: StewardCommand) -> None:
    """Apply a steward command through the stewarding service, audited as the named steward."""
    from core.access import Principal as Steward
    from core.resolution import ResolutionError

    principal = Steward(user_id=f"cli:{command.steward}", username=command.steward, role="steward")
    try:
        with bootstrap.hub(_settings()) as hub:
            events = hub.stewarding.submit(principal, command).events
    except ResolutionError as exc:
        console.print(f"[red]refused[/]: {exc}")
        raise typer.Exit(2) from exc
    for event in events:
        console.print(f"  {type(event).__name__} {event.profile_id} v{event.version}")
    console.print(f"{len(events)} events published" if events else "nothing to do (already decided)")


@steward_app.command("confirm")
def steward_confirm(review_id: str, profile_id: Annotated[str, typer.Option(help="the candidate profile")],
                    steward: Annotated[str, typer.Option(help="who decides")], note: str = "") -> None:
    """Confirm a review: the record's provisional profile and the candidate are the same person (merge)."""
    from schemas.profile_events import ConfirmMatch

    _steward_submit(ConfirmMatch(review_id=review_id, profile_id=profile_id, note=note, steward=steward,
                                 issued_at=now()))


@steward_app.command("reject")
def steward_reject(review_id: str, steward: Annotated[str, typer.Option(help="who decides")], note: str = "") -> None:
    """Reject a review: not the same person; the profiles stay apart."""
    from schemas.profile_events import RejectMatch

    _steward_submit(RejectMatch(review_id=review_id, note=note, steward=steward, issued_at=now()))


@steward_app.command("split")
def steward_split(profile_id: str, record_keys: Annotated[list[str], typer.Argument(help="source:record_id …")],
                  steward: Annotated[str, typer.Option(help="who decides")],
                  reason: Annotated[str, typer.Option(help="why these records are another person")]) -> None:
    """Split records out of a profile into a new one ("not the same person")."""
    from schemas.profile_events import SplitProfile

    _steward_submit(SplitProfile(profile_id=profile_id, record_keys=tuple(record_keys), reason=reason,
                                 steward=steward, issued_at=now()))


@steward_app.command("undo-merge")
def steward_undo_merge(merge_event_id: str, survivor: Annotated[str, typer.Option()],
                       merged_away: Annotated[str, typer.Option()], steward: Annotated[str, typer.Option()],
                       reason: Annotated[str, typer.Option()]) -> None:
    """Undo a wrong merge: the merged-away profile comes back with its records and its id."""
    from schemas.profile_events import UndoMerge

    _steward_submit(UndoMerge(merge_event_id=merge_event_id, survivor=survivor, merged_away=merged_away,
                              reason=reason, steward=steward, issued_at=now()))


@app.command()
def replay(
    into: Annotated[str | None, typer.Option(help="SQLAlchemy URL of an EMPTY store to rebuild into "
                                                  "(default: a fresh SQLite file beside the live store)")] = None,
) -> None:
    """Rebuild the profile store from the profile-events topic and compare checksums with the live store."""
    from rich.progress import Progress

    from services.verification import remove_sqlite, replay_and_compare

    hub = bootstrap.hub(_settings())
    settings = hub.settings
    target_url = into or f"sqlite:///{settings.data_dir / 'replay.db'}"
    if into is None:
        remove_sqlite(settings.data_dir / "replay.db")
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("replaying places and profile-events", total=None)
        result = replay_and_compare(hub.profile_projection, target_url=target_url,
                                    bootstrap=hub.kafka_bootstrap(),
                                    profile_events_topic=settings.profile_events_topic,
                                    places_topic=settings.places_topic,
                                    progress=lambda n: progress.update(task, completed=n))
    console.print(f"replayed {result.events} events into {target_url}")
    console.print(f"live store checksum     {result.live}")
    console.print(f"rebuilt store checksum  {result.replayed}")
    if not result.identical:
        console.print("[red]MISMATCH[/]: the live store is not the fold of the log")
        raise typer.Exit(1)
    console.print("identical")


@app.command("export")
def export(
    what: Annotated[str, typer.Argument(help="what to export: links")],
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV file to write")] = Path("links.csv"),
    steward: Annotated[str | None, typer.Option(help="who exports (audited; default: the OS account)")] = None,
) -> None:
    """Export ``source,record_id,profile_id,community,grid`` for every ingested record (to score any
    labelled data set: the clustering, and where each profile's resident is placed). Audited."""
    import csv

    from services.operator_reads import export_links_audited, operator

    if what != "links":
        raise typer.BadParameter("only 'links' can be exported", param_hint="WHAT")
    with bootstrap.hub(_settings()) as hub, output.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["source", "record_id", "profile_id", "community", "grid"])
        count = export_links_audited(hub.audit, operator(steward), hub.profile_projection.located_links,
                                     writer.writerow)
    console.print(f"wrote {count} links to {output}")


@app.command()
def demo(
    seconds: Annotated[float, typer.Option(help="Stop after this many seconds (0 = wait for Ctrl-C)")] = 0,
    residents: Annotated[int, typer.Option(help="residents of the synthetic district")] = 2000,
) -> None:
    """Bring up the embedded stack and all department systems, run the main job, and keep it up."""
    from onceonly.demo import run_demo

    run_demo(_settings(), console, stay_up_s=seconds or None, residents=residents)


users_app = typer.Typer(no_args_is_help=True, help="Users of the query service and console.")
audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit log of reads of resident data.")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")


@users_app.command("add")
def users_add(
    username: str,
    role: Annotated[str, typer.Option(help="community_worker, steward, department_reader, auditor or admin")],
    community: Annotated[list[str], typer.Option(help="a community worker's community (repeat)")] = [],  # noqa: B006
    grid: Annotated[list[str], typer.Option(help="a community worker's grid as 社区/网格, e.g. 秦虹社区/第2网格 (repeat)")] = [],  # noqa: B006
    department: Annotated[str | None, typer.Option(help="a department reader's grant")] = None,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)] = "",
) -> None:
    """Add a user (password hashed with argon2). A role that reads residents (worker, steward, department
    reader) is added disabled, waiting for a steward or an auditor to approve it (console 账号审批)."""
    from pydantic import SecretStr

    from core.access import ROLES
    from services.operator_reads import operator
    from services.queries import BadQuery
    from services.user_admin import AccountConflict, CreateAccount

    if role not in ROLES:
        raise typer.BadParameter(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    with bootstrap.hub(_settings()) as hub:
        try:
            added = hub.user_admin.create(operator(role="admin"), CreateAccount(
                username, SecretStr(password), role, communities=community, grids=grid,
                department=department))
        except (BadQuery, AccountConflict) as exc:
            raise typer.BadParameter(str(exc)) from None
    waits = added["awaiting_approval"] is not None
    console.print(f"added {username} ({role})" + (": disabled until a steward or an auditor approves it" if waits else ""))


@users_app.command("token")
def users_token(username: str, label: Annotated[str, typer.Option(help="what the token is for")] = "") -> None:
    """Issue a bearer token for a machine account (a department reader; printed once, stored as its hash)."""
    from services.operator_reads import operator
    from services.queries import BadQuery, NotFound

    with bootstrap.hub(_settings()) as hub:
        try:
            print(hub.user_admin.issue_token(operator(role="admin"), username, label)["token"])
        except (BadQuery, NotFound) as exc:
            raise typer.BadParameter(str(exc)) from None


@users_app.command("seed")
def users_seed() -> None:
    """Add the demo users, one per role (password onceonly-demo; for the local demo only)."""
    from api.seed import DEMO_PASSWORD, DEMO_USERS, seed_demo_users

    added = {u.username for u in seed_demo_users(bootstrap.hub(_settings()).users)}
    for user in DEMO_USERS:
        console.print(f"  {user.username:20} {user.role:18} {user.scope}{'' if user.username in added else '  (existed)'}")
    console.print(f"password of every demo user: {DEMO_PASSWORD}")


@users_app.command("list")
def users_list() -> None:
    """List users, roles and scopes."""

    for p in bootstrap.hub(_settings()).users.list():
        console.print(f"  {p.username:20} {p.role:18} {p.scope}")


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the audit log's hash chain, its MACs (ONCEONLY_AUDIT_KEY) and the who-looked index, and
    hold it against the signed checkpoints in the checkpoint file and, when a broker is configured,
    the checkpoints topic; exit 1 when an entry was edited, deleted or re-chained, or the log cut short
    or wiped."""
    result = bootstrap.hub(_settings()).audit.verify()
    for note in result.notes:
        console.print(f"[dim]{note}[/]", highlight=False)
    for problem in result.problems:
        console.print(f"[red]{problem}[/]", highlight=False)
    if not result.ok:
        console.print(f"[red]audit log TAMPERED[/] ({result.entries} entries)")
        raise typer.Exit(1)
    console.print(f"audit log intact: {result.entries} entries, hash chain, MACs and who-looked index verified "
                  f"against {result.checkpoints} checkpoints")


places_app = typer.Typer(no_args_is_help=True, help="The gazetteer (标准地址库): where each building belongs.")
app.add_typer(places_app, name="places")


def _gazetteer(steward: str) -> tuple[GazetteerService, Principal]:
    from services.operator_reads import operator

    return bootstrap.hub(_settings()).gazetteer, operator(steward)


@places_app.command("disagreements")
def places_disagreements(steward: Annotated[str, typer.Option(help="who looks (audited)")],
                         limit: int = 50) -> None:
    """Keys whose facts disagree (records among themselves, or with the standard file), with each fact."""
    service, principal = _gazetteer(steward)
    rows = service.disagreements(principal, limit=limit)
    for row in rows:
        console.print(f"{row.place_key}: {row.community} {row.grid or ''} ({row.origin})")
        for fact in row.facts:
            console.print(f"    {fact.origin:<16} {fact.source}:{fact.record_id} → {fact.community} {fact.grid or ''}")
    console.print(f"{len(rows)} keys disagree")


@places_app.command("correct")
def places_correct(place_key: str, steward: Annotated[str, typer.Option(help="who decides (audited)")],
                   community: Annotated[str | None, typer.Option(help="the right community; omit to withdraw")] = None,
                   grid: Annotated[str | None, typer.Option(help="the grid within it, e.g. 第2网格")] = None,
                   reason: str = "") -> None:
    """Assign a building, compound or door number to a community and grid (an event, audited)."""
    from services.gazetteer import CorrectPlace, UnknownPlace

    service, principal = _gazetteer(steward)
    try:
        event = service.correct(principal, CorrectPlace(place_key, community, grid, reason))
    except UnknownPlace as exc:
        console.print(f"[red]refused[/]: {exc}")
        raise typer.Exit(2) from exc
    console.print(f"published {type(event).__name__} {event.event_id}: {place_key} → {community or 'withdrawn'}")


pulls_app = typer.Typer(no_args_is_help=True,
                        help="Held pulls (批量注销确认): ends the mass-change guard kept back for a steward.")
app.add_typer(pulls_app, name="pulls")


def _pull_holds(steward: str) -> tuple[PullHoldService, Principal]:
    from services.operator_reads import operator

    return bootstrap.hub(_settings()).pull_holds, operator(steward)


@pulls_app.command("pending")
def pulls_pending(steward: Annotated[str, typer.Option(help="who looks")] = "cli",
                  source: Annotated[str | None, typer.Option(help="only this source")] = None) -> None:
    """Pulls whose ends wait for a steward: how many, of how many live records, and why."""
    service, principal = _pull_holds(steward)
    holds = service.pending(principal, source=source)
    for hold in holds:
        console.print(f"{hold.hold_id}  {hold.source}  {hold.held_at:%Y-%m-%d %H:%M}  "
                      f"{hold.to_end} ends held of {hold.live} live records")
        for reason in hold.reasons:
            console.print(f"    {reason}", markup=False)
    console.print(f"{len(holds)} held pulls")


def _decide_hold(decision: str, hold_id: str, steward: str, note: str) -> None:
    from services.pull_holds import HoldDecided, UnknownHold

    service, principal = _pull_holds(steward)
    try:
        decided = getattr(service, decision)(principal, hold_id, note)
    except (UnknownHold, HoldDecided) as exc:
        console.print(f"[red]refused[/]: {exc}")
        raise typer.Exit(2) from exc
    console.print(f"hold {hold_id} {decided.hold.status}: {decided.ended} end events sent")


@pulls_app.command("accept")
def pulls_accept(hold_id: str, steward: Annotated[str, typer.Option(help="who decides (audited)")],
                 note: str = "") -> None:
    """The records are really gone: send the held end events now (once)."""
    _decide_hold("accept", hold_id, steward, note)


@pulls_app.command("reject")
def pulls_reject(hold_id: str, steward: Annotated[str, typer.Option(help="who decides (audited)")],
                 note: str = "") -> None:
    """A mistake at the source: end nothing; the records stay as they were."""
    _decide_hold("reject", hold_id, steward, note)


objections_app = typer.Typer(no_args_is_help=True, help="Data objections (数据异议): fields said to be wrong, routed to their source.")
app.add_typer(objections_app, name="objections")


def _objections() -> ObjectionService:
    return bootstrap.hub(_settings()).objections


@objections_app.command("sweep")
def objections_sweep() -> None:
    """Close the objections whose source corrected the disputed value; escalate the overdue (the
    workers do this every 30 s)."""
    swept = _objections().sweep()
    console.print(f"{swept.closed} closed after a correction at source, {swept.escalated} escalated")


@objections_app.command("answers")
def objections_answers(path: Annotated[Path, typer.Argument(help="the department's answers (CSV, UTF-8)")],
                       department: Annotated[str, typer.Option(help="whose answers (a source name)")]) -> None:
    """Take a department's answers from its feed file: objection_id, answer (corrected, confirmed,
    not_ours), note, suggested_department. Prints rows = answered + refused, and why each was refused."""
    import csv

    from core.access import Principal

    principal = Principal(user_id=f"feed:{department}", username=f"feed:{department}", role="department_reader",
                          department=department)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        result = _objections().answer_file(principal, list(csv.DictReader(fh)))
    for number, why in result.refused:
        console.print(f"  row {number}: refused: {why}")
    console.print(f"{result.rows} rows: {result.answered} answered, {len(result.refused)} refused")
    if result.refused:
        raise typer.Exit(2)


@objections_app.command("verify")
def objections_verify(rebuild: Annotated[bool, typer.Option(help="rewrite the table from the topic")] = False) -> None:
    """Compare the objections table with the fold of the objections topic (or rebuild it from the topic)."""
    from kafka_adapter.reader import read_log

    hub = bootstrap.hub(_settings())
    service = hub.objections
    events = [logged.event for batch in read_log(hub.kafka_bootstrap(), hub.settings.objections_topic)
              for logged in batch]
    if rebuild:
        applied = service.replay(events)  # type: ignore[arg-type]
        console.print(f"rebuilt the objections table from {len(events)} events ({applied} applied)")
    if not service.matches_log(events):  # type: ignore[arg-type]
        console.print("[red]MISMATCH[/]: the objections table is not the fold of the topic")
        raise typer.Exit(1)
    console.print(f"identical: {len(events)} events")


flows_app = typer.Typer(no_args_is_help=True, help="Prefect flows: ingest, validate and publish, train, verify, serve.")
app.add_typer(flows_app, name="flows")


@flows_app.command("serve")
def flows_serve() -> None:
    """Serve every deployment on its schedule (ingest per mapping, validate-and-publish, train, verify)."""
    from flows.serve import serve_flows

    serve_flows(_settings())


@flows_app.command("publish")
def flows_publish() -> None:
    """Validate with Great Expectations, then publish what passed (a failure quarantines and exits 1)."""
    from flows.publish import validate_and_publish
    from services.publishing import ValidationFailed

    try:
        published = validate_and_publish()
    except ValidationFailed as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    console.print(f"published {published.snapshots} profile snapshots; extracts: "
                  f"{', '.join(str(p) for p in published.extracts.values())}")
    console.print(f"Data Docs: {published.data_docs}")


@flows_app.command("ingest")
def flows_ingest(source: str) -> None:
    """Run one department's ingest flow now."""
    from flows.ingest import ingest_flow

    console.print(f"{source}: {ingest_flow(source)}")


@flows_app.command("train")
def flows_train(seed: int = 0) -> None:
    """Run the train-matcher flow now."""
    from flows.train import train_flow

    console.print(f"stored matcher parameters {train_flow(seed)}")


@flows_app.command("verify")
def flows_verify() -> None:
    """Run the verify flow now (replay into a scratch store; a mismatch exits 1)."""
    from flows.verify import StoreDiverged, verify_flow

    try:
        console.print(f"identical: {verify_flow()}")
    except StoreDiverged as exc:
        console.print(f"[red]MISMATCH[/]: {exc}")
        raise typer.Exit(1) from None


@app.command()
def plan(
    form: Annotated[str, typer.Option(help="a form in config/forms, e.g. elderly_survey")],
    community: Annotated[str | None, typer.Option(help="the community (社区) whose residents to plan")] = None,
    grid: Annotated[str | None, typer.Option(help="only this grid (网格) of the community, e.g. 第2网格")] = None,
    profile: Annotated[list[str] | None, typer.Option(help="a profile id (repeatable) instead of a community")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="the pre-filled .xlsx to write")] = Path("plan.xlsx"),
    steward: Annotated[str | None, typer.Option(help="who plans (audited; default: the OS account)")] = None,
) -> None:
    """Plan a form: what the hub already knows per resident, and an .xlsx asking only for the gaps. Audited."""
    from services.operator_reads import operator
    from services.plan_workbook import export_xlsx

    if community is None and not profile:
        raise typer.BadParameter("give --community (optionally with --grid) or --profile")
    if grid is not None and community is None:
        raise typer.BadParameter("--grid needs the --community it belongs to")
    asked = f"plan --form {form} " + (f"--community {community} {grid or ''}" if community else f"--profile {' '.join(profile or [])}")
    try:
        with bootstrap.hub(_settings()) as hub:
            collection = hub.planning.operator_plan(operator(steward), form, asked=asked.strip(),
                                                    community=community, grid=grid, profile_ids=profile)
    except LookupError as exc:
        console.print(f"[red]refused[/]: {exc}")
        raise typer.Exit(2) from None
    export_xlsx(collection, output)
    console.print(f"{len(collection.residents)} residents, {collection.requested} fields requested, "
                  f"{collection.known} already known: re-collection avoided {collection.share_known:.0%}")
    if collection.left_out:
        console.print("left out: " + ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in sorted(collection.left_out.items())))
    console.print(f"wrote {output}")


mapping_app = typer.Typer(no_args_is_help=True, help="Mapping files: check one on a department's file; their JSON Schema.")
app.add_typer(mapping_app, name="mapping")


@mapping_app.command("check")
def mapping_check(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A department file (CSV or XLSX)")],
    mapping: Annotated[Path, typer.Option("--mapping", "-m", exists=True, dir_okay=False, help="The mapping file (YAML)")],
    sample: Annotated[int, typer.Option(help="rows shown native beside standardised")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="the whole report as JSON")] = False,
    steward: Annotated[str | None, typer.Option(help="who checks (audited; default: the OS account)")] = None,
) -> None:
    """What a mapping makes of a department's file, before anything reaches Kafka: fill and parse rate
    per field, a sample side by side, coded values outside their tables, refused rows, match evidence."""
    import json

    from connectors.spec import ConnectorSpec
    from services.operator_reads import operator

    spec = ConnectorSpec.load(mapping)
    try:
        with bootstrap.hub(_settings()) as hub:
            report = hub.mapping_check.check(operator(steward), spec, path, sample=sample).as_dict()
    except ValueError as exc:
        typer.echo(f"onceonly mapping check: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    _print_mapping_check(report)


def _print_mapping_check(report: dict[str, object]) -> None:
    from rich.table import Table

    console.print(f"[bold]{report['source']}[/] (mapping {report['version']}): {report['rows']} rows, "
                  f"{report['accepted']} accepted, {report['refused_count']} refused")
    fields = Table("field", "columns", "fill", "parse", title="per canonical field")
    for f in report["fields"]:  # type: ignore[attr-defined]
        rate = [f"{r:.1%}" if r is not None else "-" for r in (f["fill_rate"], f["parse_rate"])]
        fields.add_row(f["target"], ", ".join(f["columns"]), *rate)
    console.print(fields)
    for row in report["sample"]:  # type: ignore[attr-defined]
        side = Table("field", "native", "standardised", title=f"sample {row['location']}")
        for target, (native, standardised) in row["fields"].items():
            side.add_row(target, native or "", standardised or "[red]—[/]")
        console.print(side)
    coded = Table("field", "distinct", "values", "outside the code table", title="coded columns")
    for target, counts in report["coded"].items():  # type: ignore[attr-defined]
        values = ", ".join(f"{v}×{n}" for v, n in counts["values"].items())
        outside = ", ".join(f"{v}×{n}" for v, n in counts["outside_code_table"].items())
        coded.add_row(target, str(counts["distinct"]), values, f"[red]{outside}[/]" if outside else "")
    console.print(coded)
    console.print("match evidence: " + ", ".join(f"{k} {v}" for k, v in report["evidence"].items()))  # type: ignore[attr-defined]
    for refused in report["refused"]:  # type: ignore[attr-defined]
        console.print(f"[red]refused[/] {refused['location']}: {refused['reason']}")


@mapping_app.command("schema")
def mapping_schema(
    output: Annotated[Path, typer.Option("--output", "-o", help="where to write it; - = standard output")] = (
        PROJECT_ROOT / "docs" / "mapping.schema.json"),
) -> None:
    """Write the JSON Schema of a mapping file, generated from the model (docs/mapping.schema.json)."""
    from connectors.spec import render_mapping_json_schema

    text = render_mapping_json_schema()
    if str(output) == "-":
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    console.print(f"wrote {output}")


@app.command()
def restandardise(
    source: Annotated[str, typer.Argument(help="the source whose mapping file was fixed")],
    steward: Annotated[str | None, typer.Option(help="who asks (audited; default: the OS account)")] = None,
) -> None:
    """Re-standardise a source's records from its raw topic after a mapping fix: only records whose
    standardised form changes send new events; the department is not pulled again."""
    from services.operator_reads import operator
    from services.restandardise import NotRestandardisable

    try:
        with bootstrap.hub(_settings()) as hub:
            done = hub.restandardise.run(operator(steward), source)
    except NotRestandardisable as exc:
        typer.echo(f"onceonly restandardise: {exc}", err=True)
        raise typer.Exit(2) from None
    console.print(f"{source}: {done.records} records, {done.changed} changed (sent), {done.unchanged} unchanged, "
                  f"{done.refused} refused (dead-lettered), {done.pending} not yet standardised by the workers")


def _wait_for_interrupt() -> None:
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stop:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass


def main() -> None:  # pragma: no cover
    try:
        settings = _settings()
    except ValueError:  # the command reports the bad setting itself; log plainly until then
        configure_logging()
    else:
        configure_logging(settings.log_format, settings.log_level)
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
