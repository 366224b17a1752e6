"""Training reads what the standardise agent wrote, on the real broker with a real worker (issue #16:
one standardisation per record version). Community visits are standardised by the worker under a
mapping that cannot read one relation (表舅); the steward then edits the mapping file without running
``onceonly restandardise``: training still trains on the records as the agent wrote them, which is
what the resolver holds. Versions the worker has not reached yet are standardised in-process, and
once it has, training reads the same records from the topic."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from connectors.batch import BatchReader
from connectors.kafka_sink import KafkaSink
from localinfra.processes import spawn, stop
from onceonly import bootstrap
from onceonly.settings import Settings
from schemas.record_events import RecordStandardised
from schemas.resident import ResidentRecord
from schemas.source_record import DeadLetter, SourceRecord
from tests.helpers import PROJECT, cli, cli_env, eventually, read_topic

pytestmark = pytest.mark.kafka

ROWS = [  # three visits of one community; V-2's relation is outside the mapping's codes
    {"走访编号": "V-1", "姓名": "王芳", "性别": "女", "与户主关系": "妻", "社区": "夫子庙社区", "联系电话": "13912345671"},
    {"走访编号": "V-2", "姓名": "李雷", "性别": "男", "与户主关系": "表舅", "社区": "夫子庙社区", "联系电话": "13912345672"},
    {"走访编号": "V-3", "姓名": "韩梅", "性别": "女", "与户主关系": "本人", "社区": "夫子庙社区", "联系电话": "13912345673"},
]
BEFORE = 'relation_to_head: {本人: "02", 合租: "99"}'
FIXED = 'relation_to_head: {本人: "02", 合租: "99", 表舅: "99"}'  # 表舅: another relative (GB/T 4761 99)


def _written(settings: Settings) -> dict[str, RecordStandardised]:
    """The latest event per record the agent wrote on the records topic."""
    return {e.record_id: e for e in read_topic(settings.kafka_bootstrap or "", settings.records_topic)
            if isinstance(e, RecordStandardised)}


def _trained(settings: Settings) -> dict[str, ResidentRecord]:
    return {r.record_id: r for r in bootstrap.training_service(settings).records()}


def _standardise(settings: Settings, tmp_path: Path, until: int) -> None:
    """A worker running the ledger and standardise agents until ``until`` events are on the records topic."""
    env = {**cli_env(settings), "ONCEONLY_MAPPINGS_DIR": str(settings.mappings_dir)}
    worker = spawn([*cli("worker"), "--agents", "ledger,standardise"], tmp_path / f"worker-{until}.log", env=env)
    try:
        eventually(lambda: sum(isinstance(e, RecordStandardised) for e in read_topic(
            settings.kafka_bootstrap or "", settings.records_topic)) >= until, timeout=120, every=0.5)
    finally:
        stop(worker)


def test_training_reads_the_records_as_the_agent_standardised_them(hub_settings: Settings, tmp_path: Path) -> None:
    mappings = tmp_path / "mappings"
    shutil.copytree(PROJECT / "mappings", mappings)
    settings = hub_settings.model_copy(update={"mappings_dir": mappings})
    bootstrap.prepare_topics(settings)
    with KafkaSink(settings.kafka_bootstrap or "") as sink:
        counts = bootstrap.connector(settings, bootstrap.mappings(settings)["community"], sink,
                                     db=bootstrap.engine(settings), reader=BatchReader("visits-1", ROWS)).run()
    assert counts.events == 3

    # Before any worker: nothing written yet, every visit standardised in-process.
    assert set(_trained(settings)) == {"V-1", "V-2", "V-3"}

    _standardise(settings, tmp_path, until=3)
    written = _written(settings)
    assert written["V-2"].record is not None and written["V-2"].record.relation_to_head is None
    assert _trained(settings) == {key: e.record for key, e in written.items()}

    # The steward fixes the mapping but does not restandardise: training does not read V-2 again.
    path = mappings / "community.yaml"
    text = path.read_text(encoding="utf-8")
    assert BEFORE in text
    path.write_text(text.replace(BEFORE, FIXED), encoding="utf-8")
    assert _trained(settings)["V-2"] == written["V-2"].record

    # New raw versions the worker has not read: V-3 ended, a new visit V-4 (表舅), and a version of
    # V-1 without a name (the agent will dead-letter it; the resolver keeps V-1's reading).
    version = bootstrap.mappings(settings)["community"].version
    ended = SourceRecord.of(source="community", record_id="V-3", payload={}, mapping_version=version, change="end")
    v4 = SourceRecord.of(source="community", record_id="V-4", mapping_version=version,
                         payload={**ROWS[1], "走访编号": "V-4", "姓名": "李四"})
    nameless = SourceRecord.of(source="community", record_id="V-1", mapping_version=version,
                               payload={**ROWS[0], "姓名": ""})
    with KafkaSink(settings.kafka_bootstrap or "") as sink:
        for envelope in (ended, v4, nameless):
            sink.send(settings.raw_topic("community"), envelope.identity, envelope)
        sink.flush()
    pending = _trained(settings)
    assert set(pending) == {"V-1", "V-2", "V-4"}
    assert pending["V-1"] == written["V-1"].record and pending["V-2"] == written["V-2"].record
    assert pending["V-4"].relation_to_head == "99"  # today's mapping, as the agent will read it

    # Once the worker has caught up, the same records come from the topic.
    _standardise(settings, tmp_path, until=5)
    caught_up = _written(settings)
    assert caught_up["V-3"].change == "end" and caught_up["V-4"].cause == v4.event_id
    letters = [e for e in read_topic(settings.kafka_bootstrap or "", settings.deadletter_topic)
               if isinstance(e, DeadLetter) and e.record_id == "V-1"]
    assert len(letters) == 1
    assert _trained(settings) == pending == {key: e.record for key, e in caught_up.items() if e.record is not None}
