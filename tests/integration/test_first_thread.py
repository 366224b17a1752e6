"""The first thread through the real stack: CSV file → connector → Kafka → faust worker → SQLite."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from connectors.kafka_sink import KafkaSink
from connectors.pull import RunCounts
from connectors.spec import ConnectorSpec
from localinfra.processes import spawn, stop
from onceonly import bootstrap
from onceonly.settings import Settings
from schemas.source_record import DeadLetter
from store.ledger import SourceRecordLedger
from tests.helpers import PROJECT, cli, cli_env, eventually, read_topic

SAMPLE = PROJECT / "simulators" / "samples" / "civil_affairs_ledger.csv"
MAPPING = PROJECT / "simulators" / "samples" / "civil_affairs_ledger.yaml"

pytestmark = pytest.mark.kafka


def _pull(settings: Settings) -> RunCounts:
    spec = ConnectorSpec.load(MAPPING)
    with KafkaSink(settings.kafka_bootstrap or "") as sink:
        return bootstrap.connector(settings, spec, sink, only_file=SAMPLE).run()


def test_a_gb18030_ledger_reaches_the_sqlite_store_through_a_real_worker(hub_settings: Settings, tmp_path: Path) -> None:
    bootstrap.prepare_topics(hub_settings)
    worker = spawn(cli("worker"), tmp_path / "worker.log", env=cli_env(hub_settings))
    try:
        counts = _pull(hub_settings)
        # 5 data rows: 4 readable, 1 without its record id (救助证号)
        assert (counts.read, counts.events, counts.dead_letters) == (5, 4, 1)
        ledger = SourceRecordLedger(bootstrap.engine(hub_settings))
        eventually(lambda: ledger.count("civil_affairs") == 4, timeout=90)

        letters = read_topic(hub_settings.kafka_bootstrap or "", hub_settings.deadletter_topic)
        assert [(d.source, d.location) for d in letters if isinstance(d, DeadLetter)] == [
            ("civil_affairs", "civil_affairs_ledger.csv:6")
        ]
        # Reading the same file again: collected once, nothing new reaches Kafka or the store.
        again = _pull(hub_settings)
        # (an unchanged file is not even read: its fingerprint is the saved cursor)
        assert (again.read, again.events, again.ended) == (0, 0, 0)
        raw = read_topic(hub_settings.kafka_bootstrap or "", hub_settings.raw_topic("civil_affairs"))
        assert len(raw) == 4
        eventually(lambda: _positions_caught_up(ledger, hub_settings, 4), timeout=60)
        assert ledger.count("civil_affairs") == 4
    finally:
        stop(worker)
    assert worker.returncode is not None


def _positions_caught_up(ledger: SourceRecordLedger, settings: Settings, messages: int) -> bool:
    from store import positions

    with ledger.engine.connect() as conn:
        applied = positions.applied_offsets(conn, SourceRecordLedger.CONSUMER)
    topic = settings.raw_topic("civil_affairs")
    return sum(o + 1 for (t, _), o in applied.items() if t == topic) == messages


def test_ingest_command_reports_counts_that_add_up(hub_settings: Settings) -> None:
    out = subprocess.run(cli("ingest", str(SAMPLE), "--mapping", str(MAPPING)), env=cli_env(hub_settings),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "read 5, events 4, unchanged 0, dead letters 1, ended 0" in out.stdout
