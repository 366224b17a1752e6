"""The query service's Prometheus endpoint (#15): per-route latency labelled by the route template,
never the raw path; audit-append latency; pipeline-health gauges that agree with the 运行状况 page;
open on loopback, behind its bearer token elsewhere."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from api.app import create_app
from tests.integration.api_world import OWN_KEYS, World, build_world

TOKEN = "metrics-test-token-0123456789"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("metrics"), tmp_path_factory.getbasetemp())


def samples(text: str, name: str) -> list[Sample]:
    return [s for family in text_string_to_metric_families(text) for s in family.samples if s.name == name]


def test_a_scrape_has_latency_per_route_template_and_no_raw_path_or_id(world: World) -> None:
    profile = world.one(world.community_a)
    with TestClient(create_app(world.engine, [], world.settings), raise_server_exceptions=False) as client:
        world.login(client, "worker_a")
        for _ in range(3):
            assert client.get(f"/api/v1/residents/{profile.profile_id}").status_code == 200
        assert client.get(f"/no/such/page/{profile.profile_id}").status_code == 404
        scraped = client.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    text = scraped.text
    counts = {(s.labels["route"], s.labels["method"], s.labels["status"]): s.value
              for s in samples(text, "onceonly_http_request_duration_seconds_count")}
    assert counts[("/api/v1/residents/{profile_id}", "GET", "200")] == 3
    assert counts[("unmatched", "GET", "404")] == 1
    assert profile.profile_id not in text and "/no/such/page" not in text
    # every read is audited, and each append was timed
    assert samples(text, "onceonly_audit_append_seconds_count")[0].value >= 3


def test_the_health_gauges_are_the_numbers_the_health_page_shows(world: World) -> None:
    with TestClient(create_app(world.engine, [], world.settings), raise_server_exceptions=False) as client:
        world.login(client, "steward")
        page = client.get("/console/health").text  # reads health now and samples it (the service's sampler too)
        text = client.get("/metrics").text
    applied = samples(text, "onceonly_consumer_applied_messages")
    assert applied, "no consumer gauges"
    per_topic: dict[tuple[str, str], float] = {}
    for s in applied:
        key = (s.labels["consumer"], s.labels["topic"])
        per_topic[key] = per_topic.get(key, 0) + s.value
    profiles_applied = int(per_topic[("profiles", "profile-events")])
    rows = re.findall(r"<tr><td>(\w+)</td><td>([\w.-]+)</td><td>(\d+)</td>", page)
    assert ("profiles", "profile-events", str(profiles_applied)) in rows
    active = next(s.value for s in samples(text, "onceonly_profiles") if s.labels["status"] == "active")
    assert active > 0
    assert samples(text, "onceonly_health_sample_timestamp_seconds")[0].value > 0


def test_off_loopback_the_endpoint_answers_only_its_bearer_token(world: World) -> None:
    behind_proxy = world.settings.model_copy(update={"api_host": "0.0.0.0", **OWN_KEYS})  # off loopback: own keys
    closed = TestClient(create_app(world.engine, [], behind_proxy), raise_server_exceptions=False)
    assert closed.get("/metrics").status_code == 404  # no token configured: not served at all

    from pydantic import SecretStr

    guarded = behind_proxy.model_copy(update={"metrics_token": SecretStr(TOKEN)})
    client = TestClient(create_app(world.engine, [], guarded), raise_server_exceptions=False)
    refused = client.get("/metrics")
    assert refused.status_code == 401 and "Traceback" not in refused.text
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    answered = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answered.status_code == 200 and "onceonly_http_request_duration_seconds" in answered.text
