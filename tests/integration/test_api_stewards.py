"""Stewards: the review queue with evidence, confirm and reject through the resolver's commands,
and pipeline health from the store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from onceonly.bootstrap import resolver_state
from tests.integration.api_world import World, build_world, project_outbox


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("api-stewards"), tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def steward(world: World) -> Iterator[TestClient]:
    with world.app_client() as client:
        yield world.login(client, "steward")


def test_the_review_queue_shows_the_record_beside_its_candidates_with_evidence(steward: TestClient) -> None:
    queue = steward.get("/api/v1/reviews").json()
    assert queue["total"] == len(queue["reviews"]) > 0
    review = queue["reviews"][0]
    assert review["record"]["source"] and review["candidates"][0]["profile_id"]
    assert review["evidence"] and {"field", "level", "weight"} <= set(review["evidence"][0])
    for shown in (review["record"].get("id_number"), *(c.get("id_number") for c in review["candidates"])):
        assert shown is None or "*" in shown  # masked on both sides


def test_confirm_and_reject_emit_events_that_the_projection_applies(world: World, steward: TestClient) -> None:
    reviews = steward.get("/api/v1/reviews").json()["reviews"]
    assert len(reviews) >= 2, "the district drew too few reviews"
    first, second = reviews[0], reviews[1]
    target = first["candidates"][0]["profile_id"]
    confirmed = steward.post(f"/api/v1/reviews/{first['review_id']}/confirm", json={"profile_id": target, "note": "同一人"})
    assert confirmed.status_code == 200, confirmed.text
    types = {e["type"] for e in confirmed.json()["events"]}
    assert "ReviewResolved" in types and confirmed.json()["published"] is None  # no Kafka: the workers publish
    rejected = steward.post(f"/api/v1/reviews/{second['review_id']}/reject", json={"note": "不是同一人"})
    assert rejected.status_code == 200 and rejected.json()["events"]
    again = steward.post(f"/api/v1/reviews/{first['review_id']}/confirm", json={"profile_id": target})
    assert again.status_code == 409 and "refused" in again.json()["detail"]

    project_outbox(world.engine, resolver_state(world.engine))  # what the stream workers would do
    left = {r["review_id"] for r in steward.get("/api/v1/reviews").json()["reviews"]}
    assert first["review_id"] not in left and second["review_id"] not in left
    record_key = f"{first['record']['source']}:{first['record']['record_id']}"
    survivor = steward.get(f"/api/v1/residents/{target}").json()
    assert record_key in {f"{r['source']}:{r['record_id']}" for r in survivor["records"]}


def test_a_confirm_naming_a_profile_that_is_no_candidate_is_refused(steward: TestClient) -> None:
    reviews = steward.get("/api/v1/reviews").json()["reviews"]
    # seeded district: the earlier test decides two of its reviews and leaves others pending
    assert reviews, "the district should leave a pending review"
    answer = steward.post(f"/api/v1/reviews/{reviews[0]['review_id']}/confirm", json={"profile_id": "p-nobody"})
    assert answer.status_code == 409 and "Traceback" not in answer.text


def test_pipeline_health_reports_profiles_and_consumers_without_kafka(steward: TestClient) -> None:
    health = steward.get("/api/v1/pipeline/health").json()
    assert health["profiles"]["active"] > 0
    assert any(c["consumer"] == "profiles" and c["applied"] > 0 and c["lag"] is None for c in health["consumers"])
    assert "lag unknown" in health["kafka"]


def test_refused_and_out_of_scope_reads_are_audited_without_resident_data(world: World) -> None:
    resident = world.one(world.community_a, with_id=True)
    number = resident.golden.id_number.value  # type: ignore[union-attr]
    with world.app_client() as other_worker, world.app_client() as auditor_as_reader:
        world.login(other_worker, "worker_b")
        assert other_worker.get(f"/api/v1/residents/{resident.profile_id}").status_code == 404  # out of scope
        assert other_worker.get("/api/v1/reviews").status_code == 403
        world.login(auditor_as_reader, "auditor")
        assert auditor_as_reader.post("/api/v1/residents/search", json={"id_number": number}).status_code == 403
        assert auditor_as_reader.get(f"/console/residents/{resident.profile_id}").status_code == 403
        entries = auditor_as_reader.get("/api/v1/audit", params={"limit": 1000}).json()["entries"]
        who_looked = auditor_as_reader.get("/api/v1/audit", params={"resident": resident.profile_id}).json()
    refused = {(e["username"], e["role"], e["action"]): e for e in entries if e["action"].startswith("refused:")}
    assert ("worker_b", "community_worker", "refused:profile") in refused
    assert ("worker_b", "community_worker", "refused:reviews") in refused
    assert ("auditor", "auditor", "refused:search_post") in refused
    assert ("auditor", "auditor", "refused:resident") in refused  # the console page
    out_of_scope = refused[("worker_b", "community_worker", "refused:profile")]
    assert out_of_scope["purpose"].startswith(f"GET /api/v1/residents/{resident.profile_id}")
    assert out_of_scope["residents"] == [] and out_of_scope["fields"] == []  # nobody was looked at
    assert number not in str(entries)  # the ID number asked for went in the body, and stays out of the log
    assert "worker_b" not in {e["username"] for e in who_looked["entries"]}
    with world.app_client() as anonymous:
        before = len([e for e in entries if e["action"] != "read_audit"])  # the auditor's own reads aside
        assert anonymous.get("/api/v1/reviews").status_code == 401  # nobody to name: not audited
    with world.app_client() as auditor:
        world.login(auditor, "auditor")
        after = [e for e in auditor.get("/api/v1/audit", params={"limit": 1000}).json()["entries"]
                 if e["action"] != "read_audit"]
        logins = [e for e in after[:len(after) - before] if e["action"] == "login"]
        # the anonymous read left nothing; the auditor's own new login is the one entry since
        assert len(after) == before + 1 and len(logins) == 1
        assert auditor.get("/api/v1/audit/verify").json()["ok"] is True
