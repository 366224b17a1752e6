"""The validate → publish flows in Prefect's test harness, on the real broker and a store (SQLite,
then PostgreSQL) that the real pipeline (connectors → worker → projection) filled from a simulated
district."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition

from onceonly import bootstrap
from onceonly.settings import Settings
from schemas.source_record import SourceRecord
from store import flow_batches
from store.ledger import Delivered, SourceRecordLedger
from tests.helpers import cli, cli_env
from tests.integration.test_pipeline import _links, _quiet

pytestmark = pytest.mark.kafka

RESIDENTS = 100
SEED = 5151


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def district(request: pytest.FixtureRequest, kafka_broker: object,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A district of 100 residents run through the real pipeline; the flows read the env settings."""
    from localinfra.processes import spawn, stop
    from simulators.district_files import ingest_department_files, write_department_files
    from tests.helpers import eventually

    tmp = tmp_path_factory.mktemp(f"flows-{request.param}")
    database_url = None
    if request.param == "postgres":
        database_url = request.getfixturevalue("postgres_server").fresh_database(f"flows_{tmp.name}")
    settings = Settings(data_dir=tmp / "var", kafka_bootstrap=kafka_broker.bootstrap,  # type: ignore[attr-defined]
                        database_url=database_url,
                        topic_prefix=f"flows{abs(hash(tmp)) % 10**6}.", app_id=f"flows-{abs(hash(tmp)) % 10**6}")
    write_department_files(tmp / "departments", RESIDENTS, SEED)
    bootstrap.prepare_topics(settings)
    worker = spawn(cli("worker"), tmp / "worker.log", env=cli_env(settings))
    try:
        sent = ingest_department_files(settings, tmp / "departments")
        projection = bootstrap.profile_projection(settings)
        eventually(lambda: len(_links(projection)) >= sent, timeout=300, every=1.0)
        eventually(lambda: SourceRecordLedger(bootstrap.engine(settings)).count() >= sent, timeout=120)
        _quiet(projection)
    finally:
        stop(worker)
    with pytest.MonkeyPatch.context() as mp:
        for name, value in cli_env(settings).items():
            if name.startswith("ONCEONLY_"):
                mp.setenv(name, value)
        yield settings


@pytest.fixture(scope="module")
def harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    with prefect_test_harness(server_startup_timeout=180):
        yield


def _published(settings: Settings) -> dict[str, dict[str, Any]]:
    """The compacted topic read back: latest snapshot per profile id (the key)."""
    from services.publishing import published_topic

    topic = published_topic(settings)
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        latest: dict[str, dict[str, object]] = {}
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            for records in consumer.poll(timeout_ms=1000).values():
                for m in records:
                    latest[m.key.decode()] = json.loads(m.value)
        return latest
    finally:
        consumer.close()


def _visits(record_ids: list[str], relation: str) -> list[Delivered]:
    """Community visits as the ledger agent stores them (the relation to head is the bad value)."""
    now = datetime.now(UTC)
    return [Delivered("test", 0, i, SourceRecord.of(
        source="community", record_id=rid, mapping_version="cm-1", observed_at=now,
        payload={"走访编号": rid, "姓名": f"测试{i}", "性别": "女", "与户主关系": relation, "社区": "夫子庙社区"}))
        for i, rid in enumerate(record_ids)]


def test_a_failing_batch_blocks_publish_and_a_fixed_one_is_published(district: Settings, harness: None) -> None:
    from flows.publish import validate_and_publish
    from services.publishing import ValidationFailed

    settings = district
    engine = bootstrap.engine(settings)
    projection = bootstrap.profile_projection(settings)

    # 1. The district as the pipeline resolved it passes, and is published.
    published = validate_and_publish()
    profiles = {p.profile_id: p for p in projection.profiles()}
    topic = _published(settings)
    assert set(topic) == set(profiles)
    some = next(p for p in profiles.values() if p.is_active)
    assert topic[some.profile_id]["version"] == some.version
    # Only fields some grant shares, and never an ID number in clear (its keyed hash and masked form).
    assert "golden" not in topic[some.profile_id] and "records" not in topic[some.profile_id]
    assert set(topic[some.profile_id]["fields"]) <= bootstrap.grants().shared_fields | {"id_number_hash"}
    published_text = json.dumps(topic, ensure_ascii=False)
    assert not any(p.golden.id_number and p.golden.id_number.value in published_text for p in profiles.values())
    assert Path(published.data_docs).is_file()
    assert str(settings.data_dir / "gx") in published.data_docs

    # Each department's extract holds exactly its granted fields, an ID number only where granted.
    grants = bootstrap.grants()
    active = sorted(p for p, prof in profiles.items() if prof.is_active)
    for department, grant in grants.departments.items():
        with published.extracts[department].open(encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
        assert list(rows[0]) == ["profile_id", *grant.field_names]
        assert sorted(r["profile_id"] for r in rows) == active
        jsonl = (published.extracts[department].parent / "profiles.jsonl").read_text(encoding="utf-8")
        if "id_number" not in grant.field_names:
            assert not any(p.golden.id_number and p.golden.id_number.value in jsonl for p in profiles.values())
    housing = published.extracts["housing"].read_text(encoding="utf-8-sig")
    assert "id_number" not in housing and "phones" not in housing

    # 2. A community batch with relations outside GB/T 4761 fails: quarantined, nothing published.
    bad = ["V-900", "V-901", "V-902"]
    SourceRecordLedger(engine).apply(_visits(bad, relation="火星人"))
    sent_before = flow_batches.published_versions(engine)
    end_before = len(_published(settings))
    flow_state = validate_and_publish(return_state=True)
    assert flow_state.is_failed()
    with pytest.raises(ValidationFailed):
        flow_state.result()
    quarantined = flow_batches.batches(engine, flow_batches.QUARANTINED)
    assert [b["source"] for b in quarantined] == ["community"]
    report = Path(str(quarantined[0]["report"])).read_text(encoding="utf-8")
    assert "FAILED" in report and "batch.community" in report and "relation_to_head" in report
    assert flow_batches.published_versions(engine) == sent_before
    assert len(_published(settings)) == end_before

    # 3. The department corrects the rows; the next run validates the new versions and publishes.
    SourceRecordLedger(engine).apply([Delivered("test", 1, d.offset, d.record) for d in _visits(bad, relation="妻")])
    again = validate_and_publish()
    assert "community" in {b.split("-")[0] for b in again.batches}
    assert not flow_batches.batches(engine, flow_batches.QUARANTINED)
    assert flow_batches.published_watermark(engine, "community") > 0
    assert [b["status"] for b in flow_batches.batches(engine) if b["source"] == "community"][-2:] == [
        flow_batches.SUPERSEDED, flow_batches.PUBLISHED]
    assert len(_published(settings)) == end_before  # the visits resolve nowhere here: no new profile


def test_a_collected_answer_reaches_the_granted_department_and_no_other(district: Settings, harness: None,
                                                                         tmp_path: Path) -> None:
    """A community worker's answer (人员类型) comes back through the community source, is resolved
    like any record and reaches civil affairs, the only department granted it."""
    from connectors.kafka_sink import KafkaSink
    from connectors.spec import ConnectorSpec
    from flows.publish import validate_and_publish
    from localinfra.processes import spawn, stop
    from onceonly.settings import PROJECT_ROOT
    from tests.helpers import eventually

    settings = district
    answer = "独居老人(走访核实)"
    visits = tmp_path / "community.csv"
    visits.write_text("走访编号,姓名,性别,人员类型,社区\nV-777,陈秀英,女," + answer + ",夫子庙社区\n", encoding="utf-8-sig")
    projection = bootstrap.profile_projection(settings)
    worker = spawn(cli("worker"), tmp_path / "worker.log", env=cli_env(settings))
    try:
        with KafkaSink(settings.kafka_bootstrap or "") as sink:
            spec = ConnectorSpec.load(PROJECT_ROOT / "mappings" / "community.yaml")
            assert bootstrap.connector(settings, spec, sink, only_file=visits).run().events == 1
        eventually(lambda: "community:V-777" in _links(projection), timeout=120, every=1.0)
    finally:
        stop(worker)
    published = validate_and_publish()
    holding = {department for department, path in published.extracts.items()
               if any(answer in p.read_text(encoding="utf-8-sig") for p in path.parent.iterdir())}
    assert holding == {"civil_affairs"}


def test_the_plan_fills_known_fields_and_the_xlsx_asks_only_for_the_gaps(district: Settings, tmp_path: Path) -> None:
    import subprocess
    from collections import Counter

    from openpyxl import load_workbook

    from core.planner import plan_collection
    from services.plan_workbook import shown
    from services.planning import load_form
    from store.planner_reads import residents

    settings = district
    engine = bootstrap.engine(settings)
    communities = Counter(p.golden.residential_address.value.community for p in bootstrap.profile_projection(settings).profiles()
                          if p.is_active and p.golden.residential_address and p.golden.residential_address.value.community)
    community = communities.most_common(1)[0][0]
    expected = plan_collection(residents(engine, community=community), load_form("elderly_survey"))
    assert expected.residents and 0 < expected.share_known < 1
    assert all("attributes.living_alone" in r.missing for r in expected.residents)  # no source holds it

    out = tmp_path / "plan.xlsx"
    run = subprocess.run(cli("plan", "--community", community, "--form", "elderly_survey", "-o", str(out)),
                         env=cli_env(settings), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "re-collection avoided" in run.stdout

    sheet = load_workbook(out)["form"]
    fields = [c.value for c in sheet[2]][1:]
    assert fields == list(expected.form.fields)
    rows = {r[0]: r[1:] for r in sheet.iter_rows(min_row=3, values_only=True)}
    assert set(rows) == {r.profile_id for r in expected.residents}
    for resident in expected.residents:
        for name, cell in zip(fields, rows[resident.profile_id]):
            if name in resident.missing:
                assert cell is None, (resident.profile_id, name)
            else:
                assert cell == shown(name, resident.known[name].value)
    masked = [r[fields.index("id_number")] for r in rows.values() if r[fields.index("id_number")]]
    assert masked and all("*" in v for v in masked)  # ID numbers are shown masked on the form


def test_ingest_train_and_verify_flows(district: Settings, harness: None) -> None:
    import shutil

    from prefect.artifacts import Artifact
    from prefect.client.schemas.objects import Artifact as StoredArtifact  # what Artifact.get answers
    from sqlalchemy import delete, insert, select

    from flows.ingest import artifact_key, ingest_flow
    from flows.serve import ensure_limits
    from flows.train import train_flow
    from flows.verify import StoreDiverged, verify_flow
    from store.matcher_parameters import MatcherParameterStore
    from store.profile_tables import profiles

    settings = district
    # Ingest: civil affairs' drop folder holds the ledger already read: collected once, nothing new,
    # under the per-source concurrency limit that serving creates.
    ensure_limits(settings)
    inbox = settings.data_dir / "inbox" / "civil_affairs"
    inbox.mkdir(parents=True, exist_ok=True)
    shutil.copy(settings.data_dir.parent / "departments" / "civil_affairs.csv", inbox / "civil_affairs.csv")
    counts = ingest_flow("civil_affairs")
    assert counts["events"] == 0
    assert counts["read"] == counts["events"] + counts["unchanged"] + counts["dead_letters"]
    artifact = Artifact.get(artifact_key("civil_affairs"))
    assert isinstance(artifact, StoredArtifact) and "unchanged" in str(artifact.data)  # not None (a sync call)

    # Train: a new matcher version is stored.
    version = train_flow()
    assert MatcherParameterStore(bootstrap.engine(settings)).latest_version() == version

    # Verify: the live store is the fold of the log; tampered with, the run fails loudly.
    assert verify_flow()["live"] == verify_flow()["replayed"]
    engine = bootstrap.engine(settings)
    with engine.begin() as conn:
        row = conn.execute(select(profiles).limit(1)).mappings().one()
        conn.execute(delete(profiles).where(profiles.c.profile_id == row["profile_id"]))
    try:
        state_ = verify_flow(return_state=True)
        assert state_.is_failed()
        with pytest.raises(StoreDiverged):
            state_.result()
    finally:
        with engine.begin() as conn:
            conn.execute(insert(profiles).values(**row))
