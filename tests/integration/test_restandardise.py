"""Re-standardisation after a mapping fix, on the real broker with a real worker: community visits go
in through a mapping that cannot read one relation to the household head (表舅 is not in its codes,
so the field stays empty with a warning); the steward fixes the mapping file (a tmp copy of
``mappings/``) and runs ``onceonly restandardise community``: only that visit makes a new event, its
profile shows the fixed value, the department is not read again, and a second run (from the steward
API) sends nothing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from connectors.batch import BatchReader
from connectors.kafka_sink import KafkaSink
from localinfra.processes import spawn, stop
from onceonly import bootstrap
from onceonly.settings import Settings
from schemas.profile_events import RecordUpdated
from schemas.record_events import RecordStandardised
from schemas.source_record import SourceRecord
from store.auth_tables import UserStore
from store.profile_projection import ProfileProjection
from tests.helpers import PROJECT, cli, cli_env, eventually, read_topic
from tests.integration.api_world import form_token

pytestmark = pytest.mark.kafka

ROWS = [  # three visits of one community; only V-2's relation is outside the mapping's codes
    {"走访编号": "V-1", "姓名": "王芳", "性别": "女", "与户主关系": "妻", "社区": "夫子庙社区", "联系电话": "13912345671"},
    {"走访编号": "V-2", "姓名": "李雷", "性别": "男", "与户主关系": "表舅", "社区": "夫子庙社区", "联系电话": "13912345672"},
    {"走访编号": "V-3", "姓名": "韩梅", "性别": "女", "与户主关系": "本人", "社区": "夫子庙社区", "联系电话": "13912345673"},
]
BEFORE = 'relation_to_head: {本人: "02", 合租: "99"}'
FIXED = 'relation_to_head: {本人: "02", 合租: "99", 表舅: "99"}'  # 表舅: another relative (GB/T 4761 99)


def _relations(projection: ProfileProjection) -> dict[str, str | None]:
    return {key: linked.record.relation_to_head for profile in projection.profiles()
            for key, linked in profile.live_records.items()}


def _records(settings: Settings) -> list[RecordStandardised]:
    return [e for e in read_topic(settings.kafka_bootstrap or "", settings.records_topic)
            if isinstance(e, RecordStandardised)]


def _restandardise(settings: Settings) -> str:
    env = {**cli_env(settings), "ONCEONLY_MAPPINGS_DIR": str(settings.mappings_dir)}
    out = subprocess.run(cli("restandardise", "community", "--steward", "steward-wang"), env=env,
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_after_a_mapping_fix_only_the_changed_record_is_sent_again_and_its_profile_shows_the_fix(
        hub_settings: Settings, tmp_path: Path) -> None:
    mappings = tmp_path / "mappings"
    shutil.copytree(PROJECT / "mappings", mappings)
    settings = hub_settings.model_copy(update={"mappings_dir": mappings})
    env = {**cli_env(settings), "ONCEONLY_MAPPINGS_DIR": str(mappings)}
    bootstrap.prepare_topics(settings)
    engine = bootstrap.engine(settings)
    with KafkaSink(settings.kafka_bootstrap or "") as sink:
        counts = bootstrap.connector(settings, bootstrap.mappings(settings)["community"], sink, db=engine,
                                     reader=BatchReader("visits-1", ROWS)).run()
    assert (counts.events, counts.dead_letters) == (3, 0)  # an unreadable relation keeps the visit
    worker = spawn(cli("worker"), tmp_path / "worker.log", env=env)
    try:
        projection = bootstrap.profile_projection(settings)
        eventually(lambda: len(_relations(projection)) == 3, timeout=120, every=0.5)
        relations = _relations(projection)
        assert relations["community:V-2"] is None and relations["community:V-3"] == "02"
        raw_before = len(read_topic(settings.kafka_bootstrap or "", settings.raw_topic("community")))
        first = {e.record_id: e for e in _records(settings)}
        assert set(first) == {"V-1", "V-2", "V-3"}

        path = mappings / "community.yaml"
        text = path.read_text(encoding="utf-8")
        assert BEFORE in text
        path.write_text(text.replace(BEFORE, FIXED), encoding="utf-8")
        out = _restandardise(settings)
        assert "3 records, 1 changed (sent), 2 unchanged" in out, out

        records = _records(settings)
        assert len(records) == 4
        again = records[-1] if records[-1].record_id == "V-2" else next(e for e in records if e.source_event_id)
        assert again.record_id == "V-2" and again.record is not None and again.record.relation_to_head == "99"
        assert again.source_event_id == first["V-2"].event_id and again.event_id != first["V-2"].event_id
        assert again.content_hash != first["V-2"].content_hash  # the resolver sees a new version
        # The department was not read again: the raw topic holds what it held.
        assert len(read_topic(settings.kafka_bootstrap or "", settings.raw_topic("community"))) == raw_before

        eventually(lambda: _relations(projection)["community:V-2"] == "99", timeout=120, every=0.5)
        updates = [e for e in read_topic(settings.kafka_bootstrap or "", settings.profile_events_topic)
                   if isinstance(e, RecordUpdated)]
        assert [u.record.record_id for u in updates] == ["V-2"]

        # Once more, from the steward API: the standardised forms now match, nothing is sent.
        UserStore(engine).add("steward", "steward-password", "steward")
        with TestClient(create_app(engine, ["community"], settings), raise_server_exceptions=False) as client:
            client.post("/console/login", data={"username": "steward", "password": "steward-password",
                                                "csrf": form_token(client)})
            again_counts = client.post("/api/v1/sources/community/restandardise")
        assert again_counts.status_code == 200, again_counts.text
        assert again_counts.json() == {"source": "community", "records": 3, "changed": 0, "unchanged": 3,
                                       "refused": 0, "pending": 0}
        assert len(_records(settings)) == 4
    finally:
        stop(worker)

    from store.audit import audit_engine, audit_log

    with audit_engine(engine).connect() as conn:
        actions = conn.execute(select(audit_log.c.action, audit_log.c.purpose)).all()
    assert sum(1 for a, p in actions if a == "restandardise" and "community" in p) == 2
    assert all(isinstance(e, SourceRecord) for e in read_topic(settings.kafka_bootstrap or "",
                                                               settings.raw_topic("community")))
