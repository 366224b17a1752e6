"""Steward views that read Kafka, on the real local broker: dead letters browsed with ID numbers
masked, and consumer lag as the topic's end offsets minus the applied positions."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from kafka import KafkaProducer

from api.app import create_app
from onceonly import bootstrap
from onceonly.settings import Settings
from schemas.codec import encode
from schemas.source_record import DeadLetter
from store import positions
from store.auth_tables import UserStore
from store.engine import make_engine

pytestmark = pytest.mark.kafka


def test_dead_letters_and_lag_come_from_the_broker(hub_settings: Settings) -> None:
    bootstrap.prepare_topics(hub_settings)
    letters = [DeadLetter(source="civil_affairs", location="低保台账.csv:row 7", reason="unreadable date",
                          raw_excerpt="张三,11010519491231002X,1985年13月"),
               DeadLetter(source="community", location="batch b1:row 2", reason="no name")]
    producer = KafkaProducer(bootstrap_servers=hub_settings.kafka_bootstrap)
    for letter in letters:
        producer.send(hub_settings.deadletter_topic, key=letter.source.encode(), value=encode(letter))
    for _ in range(5):  # five records, of which the projection applied two
        producer.send(hub_settings.records_topic, key=b"k", value=b"{}", partition=0)
    producer.flush()
    producer.close()
    engine = make_engine(hub_settings.store_url)
    with engine.begin() as conn:
        positions.advance(conn, "profiles-test", [(hub_settings.records_topic, 0, 1)])
    UserStore(engine).add("s", "pw-for-tests", "steward")
    token = UserStore(engine).issue_token("s")
    with TestClient(create_app(engine, [], hub_settings), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        found = client.get("/api/v1/dead-letters").json()
        only = client.get("/api/v1/dead-letters", params={"source": "community"}).json()
        health = client.get("/api/v1/pipeline/health").json()
    assert found["per_source"] == {"civil_affairs": 1, "community": 1} and found["total"] == 2
    assert "11010519491231002X" not in str(found) and "110105********002X" in str(found)
    assert [l["source"] for l in only["letters"]] == ["community"]
    lag = next(c for c in health["consumers"] if c["consumer"] == "profiles-test")
    assert lag["applied"] == 2 and lag["lag"] == 3 and health["kafka"].startswith("ok"), health["kafka"]
