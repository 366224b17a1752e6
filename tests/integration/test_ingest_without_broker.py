"""The ingest use case's own errors (``services.ingest``) through the real app when no Kafka broker is
configured or running: a pushed batch and a planner's returned workbook are answered 503 with a message
that says to send them again (nothing was taken in, so resending is safe), a push to a source without
a mapping file is a 404; never a 500. Real store (the API test world on SQLite), no broker at all."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from onceonly.settings import Settings
from store.audit import AuditLog
from tests.integration.api_world import World, build_world

TOKENS = {"community": "community-token", "nowhere": "nowhere-token"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    built = build_world(tmp_path_factory.mktemp("nobroker"), tmp_path_factory.getbasetemp())
    tokens = Settings(ingest_tokens=TOKENS, _env_file=None).ingest_tokens
    built.settings = built.settings.model_copy(update={"ingest_tokens": tokens})
    assert built.settings.kafka_bootstrap is None and not (built.settings.data_dir / "kafka").exists()
    return built


def _push(client: TestClient, source: str) -> dict[str, object]:
    answer = client.post(f"/api/v1/ingest/{source}", json={"batch_id": "round-1", "rows": [{"走访编号": "ZF-1"}]},
                         headers={"Authorization": f"Bearer {TOKENS[source]}"})
    return {"status": answer.status_code, **answer.json()}


def test_a_batch_pushed_while_no_broker_runs_is_a_503_that_says_send_it_again(world: World) -> None:
    with world.app_client() as client:
        answer = _push(client, "community")
    assert answer["status"] == 503
    assert answer["detail"] == "the batch was not taken in (NoBroker); send it again"


def test_a_push_to_a_source_without_a_mapping_file_is_a_404(world: World) -> None:
    with world.app_client() as client:
        answer = _push(client, "nowhere")
    assert answer["status"] == 404 and answer["detail"] == "no mapping file for source 'nowhere'"


def test_a_returned_workbook_while_no_broker_runs_is_a_503_and_audited_as_not_taken(world: World) -> None:
    with world.app_client() as client:
        world.login(client, "worker_a")
        workbook = client.post("/api/v1/planner/xlsx", json={"form": "elderly_survey", "community": world.community_a})
        assert workbook.status_code == 200, workbook.text
        answer = client.post("/api/v1/planner/answers", files={"file": ("plan.xlsx", workbook.content)})
    assert answer.status_code == 503
    assert answer.json()["detail"] == "the answers were not taken in (NoBroker); upload them again"
    actions = [e.action for e in AuditLog(world.engine).entries(limit=5)]
    assert "collect_answers_failed" in actions and "collect_answers" not in actions
