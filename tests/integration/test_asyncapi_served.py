"""The query service serves the AsyncAPI description of its own deployment at /asyncapi.json."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from onceonly.asyncapi import asyncapi_document
from onceonly.settings import PROJECT_ROOT, Settings
from store.engine import make_engine


def test_the_service_serves_its_deployments_topics_at_a_stable_url_linked_from_docs(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, id_hash_key="asyncapi-test-key", topic_prefix="district7.",
                        topic_partitions=2, mappings_dir=PROJECT_ROOT / "mappings", _env_file=None)
    client = TestClient(create_app(make_engine(settings.store_url), ["public_security"], settings))
    served = client.get("/asyncapi.json")
    assert served.status_code == 200 and served.headers["content-type"].startswith("application/json")
    document = served.json()
    assert document == asyncapi_document(settings)
    channels = document["channels"]
    assert channels["profile-events"]["address"] == "district7.profile-events"
    assert channels["raw.housing"]["bindings"]["kafka"]["partitions"] == 2
    assert channels["housing.changes"]["address"] == "housing.changes"  # the department's topic: no prefix
    assert "/asyncapi.json" in client.get("/docs").text
