"""Dead letters re-processed after a mapping fix, on the real broker: community visits whose relation
to the household head the mapping cannot read are dead-lettered with their whole row; the steward
fixes the mapping file (a tmp copy of ``mappings/``), re-processes, and the record reaches
``raw.community`` once; a second run sends nothing; a row the fix does not cover stays, with its
new reason. ID numbers in a kept row are shown masked."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete

from api.app import create_app
from connectors.batch import BatchReader
from connectors.kafka_sink import KafkaSink
from onceonly import bootstrap
from onceonly.settings import Settings
from schemas.source_record import DeadLetter, SourceRecord
from store.auth_tables import UserStore
from store.dead_letter_outcomes import dead_letter_outcomes
from store.engine import make_engine
from tests.helpers import PROJECT, read_topic
from tests.integration.api_world import form_token

pytestmark = pytest.mark.kafka

ID_NUMBER = "11010519491231002X"  # a valid-looking number in a free-text column of a bad row
ROWS = [
    {"走访编号": "V-1", "姓名": "王芳", "性别": "女", "与户主关系": "妻", "社区": "夫子庙社区"},
    {"走访编号": "V-2", "姓名": "李雷", "性别": "男", "与户主关系": "表舅", "社区": "夫子庙社区",
     "备注": f"身份证 {ID_NUMBER} 待核"},
    {"走访编号": "V-3", "姓名": "韩梅", "性别": "女", "与户主关系": "火星来客", "社区": "夫子庙社区"},
]


@dataclass
class Hub:
    settings: Settings
    engine: Engine
    client: TestClient


@pytest.fixture
def hub(hub_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    mappings = tmp_path_factory.mktemp("mappings") / "mappings"
    shutil.copytree(PROJECT / "mappings", mappings)
    # This department chooses to refuse a visit whose relation it cannot read (by default the
    # record is kept with the field empty): the steward fixes the mapping and re-processes.
    with (mappings / "community.yaml").open("a", encoding="utf-8") as fh:
        fh.write("\nreject_warnings: [relation_to_head_unknown]\n")
    settings = hub_settings.model_copy(update={"mappings_dir": mappings})
    bootstrap.prepare_topics(settings)
    engine = make_engine(settings.store_url)
    spec = bootstrap.mappings(settings)["community"]
    with KafkaSink(settings.kafka_bootstrap or "") as sink:
        counts = bootstrap.connector(settings, spec, sink, db=engine, reader=BatchReader("visits-1", ROWS)).run()
    assert (counts.events, counts.dead_letters) == (1, 2)  # 表舅 and 火星来客 are not in the mapping's codes
    UserStore(engine).add("steward", "steward-password", "steward")
    UserStore(engine).add("worker", "worker-password", "community_worker", communities=["夫子庙社区"])
    token = UserStore(engine).issue_token("steward")
    with TestClient(create_app(engine, ["community"], settings), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield Hub(settings, engine, client)
    engine.dispose()


def _fix_mapping(settings: Settings) -> None:
    """The steward's fix: 表舅 is an "other relative" (GB/T 4761 code 99) on this form."""
    path = settings.mappings_dir / "community.yaml"
    text = path.read_text(encoding="utf-8")
    before = 'relation_to_head: {本人: "02", 合租: "99"}'
    assert before in text
    path.write_text(text.replace(before, 'relation_to_head: {本人: "02", 合租: "99", 表舅: "99"}'), encoding="utf-8")


def _versions(settings: Settings, record_id: str) -> list[SourceRecord]:
    return [r for r in read_topic(settings.kafka_bootstrap or "", settings.raw_topic("community"))
            if isinstance(r, SourceRecord) and r.record_id == record_id]


def test_a_fixed_mapping_brings_a_dead_letter_to_the_raw_topic_once(hub: Hub) -> None:
    client, settings = hub.client, hub.settings
    letters = client.get("/api/v1/dead-letters", params={"source": "community"}).json()
    assert letters["total"] == 2 and letters["open"] == 2
    by_record = {l["raw_row"]["走访编号"]: l for l in letters["letters"]}
    assert by_record["V-2"]["status"] == "open" and by_record["V-2"]["reprocessable"] is True
    assert "relation_to_head" in by_record["V-2"]["reason"]
    assert ID_NUMBER not in str(letters) and "110105********002X" in by_record["V-2"]["raw_row"]["备注"]
    # The topic itself keeps the whole row (internal), so that it can be re-processed.
    kept = [d for d in read_topic(settings.kafka_bootstrap or "", settings.deadletter_topic) if isinstance(d, DeadLetter)]
    assert any(d.raw_row and d.raw_row.get("备注", "").endswith(f"{ID_NUMBER} 待核") for d in kept)
    assert _versions(settings, "V-2") == []

    # Re-processing before the fix: both still refused, nothing sent.
    early = client.post("/api/v1/dead-letters/reprocess", json={"source": "community"}).json()
    assert (early["selected"], early["resolved"], early["still_unreadable"], early["sent"]) == (2, 0, 2, 0)

    _fix_mapping(settings)
    first = client.post("/api/v1/dead-letters/reprocess", json={"source": "community"})
    assert first.status_code == 200, first.text
    counts = first.json()
    assert (counts["selected"], counts["resolved"], counts["sent"], counts["still_unreadable"], counts["skipped"]) == (
        2, 1, 1, 1, 0)
    versions = _versions(settings, "V-2")
    assert len(versions) == 1 and versions[0].payload["与户主关系"] == "表舅"
    assert versions[0].location == by_record["V-2"]["location"] and versions[0].mapping_version == "cm-1"

    after = client.get("/api/v1/dead-letters", params={"source": "community"}).json()
    status = {l["raw_row"]["走访编号"]: l for l in after["letters"]}
    assert status["V-2"]["status"] == "resolved" and status["V-2"]["reprocessable"] is False
    assert status["V-3"]["status"] == "unreadable" and "relation_to_head" in status["V-3"]["new_reason"]
    assert after["open"] == 1 and after["resolved_per_source"] == {"community": 1}
    assert client.get("/api/v1/dead-letters", params={"status": "resolved"}).json()["letters"][0]["event_id"] == \
        status["V-2"]["event_id"]

    # Again: the resolved letter is skipped, the unreadable one tried again, nothing sent twice.
    again = client.post("/api/v1/dead-letters/reprocess", json={"source": "community"}).json()
    assert (again["resolved"], again["sent"], again["still_unreadable"], again["skipped"]) == (0, 0, 1, 1)
    assert again["skipped_reasons"] == {"already re-processed": 1}
    # Even with the resolved markers gone, the connector's memory of the row's hash sends nothing.
    with hub.engine.begin() as conn:
        conn.execute(delete(dead_letter_outcomes))
    forgotten = client.post("/api/v1/dead-letters/reprocess", json={"event_ids": [status["V-2"]["event_id"]]}).json()
    assert (forgotten["resolved"], forgotten["sent"]) == (1, 0)
    assert len(_versions(settings, "V-2")) == 1
    assert [d for d in read_topic(settings.kafka_bootstrap or "", settings.deadletter_topic)
            if isinstance(d, DeadLetter)] == kept  # refusals are not dead-lettered a second time


def test_bad_selections_and_other_roles_are_refused(hub: Hub) -> None:
    client = hub.client
    assert client.post("/api/v1/dead-letters/reprocess", json={}).status_code == 400
    assert client.post("/api/v1/dead-letters/reprocess", json={"source": "Not A Source"}).status_code == 422
    unknown = client.post("/api/v1/dead-letters/reprocess", json={"event_ids": ["0123456789abcdef"]}).json()
    assert (unknown["selected"], unknown["skipped"], unknown["sent"]) == (1, 1, 0)
    worker = TestClient(client.app, raise_server_exceptions=False)
    worker.post("/console/login", data={"username": "worker", "password": "worker-password",
                                        "csrf": form_token(worker)})
    assert worker.post("/api/v1/dead-letters/reprocess", json={"source": "community"}).status_code == 403
    assert worker.post("/console/dead-letters/reprocess", data={"source": "community",
                                                                "csrf": form_token(worker, "/console/")}).status_code == 403


def test_the_console_form_reprocesses_the_ticked_letters(hub: Hub) -> None:
    client = TestClient(hub.client.app, raise_server_exceptions=False)
    client.post("/console/login", data={"username": "steward", "password": "steward-password",
                                        "csrf": form_token(client)})
    page = client.get("/console/dead-letters", params={"source": "community"}).text
    assert "重处理所选死信" in page and ID_NUMBER not in page and "110105********002X" in page
    _fix_mapping(hub.settings)
    letters = hub.client.get("/api/v1/dead-letters").json()["letters"]
    v2 = next(l["event_id"] for l in letters if l["raw_row"]["走访编号"] == "V-2")
    done = client.post("/console/dead-letters/reprocess", data={"event_ids": [v2], "csrf": form_token(client, "/console/health")})
    assert done.status_code == 200 and "已重处理：选中 1 条，可读 1 条（发送 1 条）" in done.text
    assert "已重处理</span>" in done.text and "未处理</span>" in done.text  # V-2 done, V-3 still open
    assert len(_versions(hub.settings, "V-2")) == 1
