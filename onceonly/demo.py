"""``onceonly demo``: the embedded stack on one machine, with the first thread run through it."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from connectors.kafka_sink import KafkaSink
from connectors.spec import ConnectorSpec
from localstack.processes import spawn, stop
from onceonly import bootstrap
from onceonly.settings import PROJECT_ROOT, Settings
from store.ledger import SourceRecordLedger

SAMPLE = PROJECT_ROOT / "simulators" / "samples" / "civil_affairs_ledger.csv"
SAMPLE_MAPPING = PROJECT_ROOT / "simulators" / "samples" / "civil_affairs_ledger.yaml"


def run_demo(settings: Settings, console: Console, *, stay_up_s: float | None) -> None:
    demo_dir = settings.data_dir / "demo"
    shutil.rmtree(demo_dir, ignore_errors=True)
    settings = settings.model_copy(update={"data_dir": demo_dir, "database_url": None})
    workers = []
    try:
        with console.status("Starting the local Kafka broker (KRaft)…"), bootstrap.local_broker(settings) as broker:
            console.print(f"[green]✓[/] Kafka broker at {broker.bootstrap}")
            env = dict(os.environ, ONCEONLY_KAFKA_BOOTSTRAP=broker.bootstrap, ONCEONLY_DATA_DIR=str(demo_dir))
            env.pop("ONCEONLY_DATABASE_URL", None)
            workers.append(spawn([sys.executable, "-m", "onceonly.cli", "worker"], demo_dir / "worker-1.log", env=env))
            console.print(f"[green]✓[/] stream worker started (log: {demo_dir / 'worker-1.log'})")
            ledger = SourceRecordLedger(bootstrap.engine(settings))

            spec = ConnectorSpec.load(SAMPLE_MAPPING)
            with console.status(f"Pulling {SAMPLE.name} ({spec.encoding})…"), KafkaSink(broker.bootstrap) as sink:
                counts = bootstrap.connector(settings.model_copy(update={"kafka_bootstrap": broker.bootstrap}), spec,
                                             sink, only_file=SAMPLE).run()
            console.print(f"[green]✓[/] {spec.source}: read {counts.read} = {counts.events} events "
                          f"+ {counts.unchanged} unchanged + {counts.dead_letters} dead letters")

            with console.status("Waiting for the worker to project the records into SQLite…"):
                _wait_for(lambda: ledger.count(spec.source) >= counts.events, timeout=120)
            _print_store(console, ledger, settings)
            _print_where_to_look(console, settings, broker.bootstrap, demo_dir)
            _stay_up(console, stay_up_s)
    finally:
        for proc in workers:
            stop(proc)
    console.print("Stopped: worker and broker are down.")


def _wait_for(condition: object, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.3)
    raise TimeoutError("the worker did not project the records in time; see the worker log")


def _print_store(console: Console, ledger: SourceRecordLedger, settings: Settings) -> None:
    table = Table(title="Profile store (SQLite): source-record versions per source")
    table.add_column("source")
    table.add_column("versions", justify="right")
    for source in bootstrap.sources(settings):
        table.add_row(source, str(ledger.count(source)))
    console.print(table)


def _print_where_to_look(console: Console, settings: Settings, kafka: str, demo_dir: Path) -> None:
    console.print(f"Where to look:\n  store  {settings.store_url}\n  kafka  {kafka}  "
                  f"(topics {settings.raw_topic('<source>')}, {settings.deadletter_topic})\n  logs   {demo_dir}")


def _stay_up(console: Console, seconds: float | None) -> None:
    if seconds is not None:
        time.sleep(seconds)
        return
    console.print("The stack stays up; press Ctrl-C to stop.")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        console.print("\nCtrl-C: stopping…")
