"""Pipeline health over time: samples taken by the service (a background thread, and on a read of the
health endpoint when the last one is old), kept bounded, served as a series and drawn as SVG charts."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, update

from api.app import create_app
from services.pipeline import PipelineViews
from store import positions
from store.pipeline_samples import PipelineSamples, pipeline_samples
from tests.helpers import eventually
from tests.integration.api_world import World, build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("samples"), tmp_path_factory.getbasetemp())


def _views(world: World) -> PipelineViews:
    def no_kafka() -> str:
        raise LookupError("no Kafka in this test")

    return PipelineViews(world.engine, no_kafka, deadletter_topic="deadletter", profile_events_topic="profile-events",
                         samples=PipelineSamples(world.engine), sample_seconds=30)


def test_records_per_second_come_from_the_applied_offsets_between_two_samples(world: World) -> None:
    views = _views(world)
    t0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    first = views.sample(now=t0)
    assert first.sample["records_per_s"] == {}  # nothing to compare with yet
    before = first.sample["applied"]["profiles"]
    with world.engine.begin() as conn:  # the projection applies 200 more events on partition 7 of its topic
        positions.advance(conn, "profiles", [("profile-events", 7, 199)])
    second = views.sample(now=t0 + timedelta(seconds=20))
    assert second.sample["applied"]["profiles"] == before + 200
    assert second.sample["records_per_s"]["profiles"] == 10.0
    assert second.sample["lag"]["profiles"] is None  # no broker: lag unknown, not zero
    assert second.sample["profiles"]["active"] > 0


def test_samples_older_than_the_retention_are_dropped(world: World) -> None:
    samples = PipelineSamples(world.engine, retention=timedelta(days=7))
    now = datetime.now(UTC)
    samples.add({"marker": "old"}, now - timedelta(days=8))
    samples.add({"marker": "recent"}, now - timedelta(days=6))
    kept = [s.sample.get("marker") for s in samples.since(now - timedelta(days=30))]
    assert "recent" in kept
    samples.add({"marker": "now"}, now)
    kept = [s.sample.get("marker") for s in samples.since(now - timedelta(days=30))]
    assert "old" not in kept and "recent" in kept and "now" in kept


def test_the_service_samples_in_the_background_until_it_stops(world: World) -> None:
    world.settings = world.settings.model_copy(update={"health_sample_seconds": 0.3})
    samples = PipelineSamples(world.engine)
    start = samples.count()
    with TestClient(create_app(world.engine, [], world.settings), raise_server_exceptions=False):
        time.sleep(1.5)
        during = samples.count()
        assert during >= start + 3, (start, during)  # about one every 0.3 s
    stopped = samples.count()
    time.sleep(0.8)
    assert samples.count() == stopped  # the thread ended with the app


def test_a_health_read_samples_only_when_the_last_sample_is_older_than_the_interval(world: World) -> None:
    world.settings = world.settings.model_copy(update={"health_sample_seconds": 3600})
    samples = PipelineSamples(world.engine)
    with world.engine.begin() as conn:
        conn.execute(delete(pipeline_samples))
    with TestClient(create_app(world.engine, [], world.settings), raise_server_exceptions=False) as client:
        world.login(client, "steward")
        eventually(lambda: samples.count() == 1, timeout=10)  # the thread's first sample, at start
        for _ in range(3):  # fresh: a read adds none
            assert client.get("/api/v1/pipeline/health").status_code == 200
        assert samples.count() == 1
        with world.engine.begin() as conn:  # the sample is now two hours old
            conn.execute(update(pipeline_samples).values(taken_at=datetime.now(UTC) - timedelta(hours=2)))
        assert client.get("/api/v1/pipeline/health").status_code == 200
        assert samples.count() == 2
        assert client.get("/api/v1/pipeline/health").status_code == 200
        assert samples.count() == 2


def test_the_history_endpoint_serves_the_series_since_a_time(world: World) -> None:
    world.settings = world.settings.model_copy(update={"health_sample_seconds": 3600})
    samples = PipelineSamples(world.engine)
    now = datetime.now(UTC)
    samples.add({"marker": "two-hours-ago", "records_per_s": {"ledger": 5.0}}, now - timedelta(hours=2))
    with TestClient(create_app(world.engine, [], world.settings), raise_server_exceptions=False) as client:
        world.login(client, "steward")
        recent = client.get("/api/v1/pipeline/health/history",
                            params={"since": (now - timedelta(hours=1)).isoformat()}).json()
        wider = client.get("/api/v1/pipeline/health/history",
                           params={"since": (now - timedelta(hours=3)).isoformat()}).json()
        assert "two-hours-ago" not in str(recent["samples"]) and "two-hours-ago" in str(wider["samples"])
        times = [s["taken_at"] for s in wider["samples"]]
        assert times == sorted(times) and wider["interval_seconds"] == 3600
        assert client.get("/api/v1/pipeline/health/history", params={"since": "yesterday"}).status_code == 422
        world.login(client, "worker_a")
        assert client.get("/api/v1/pipeline/health/history").status_code == 403


def test_the_health_page_draws_throughput_lag_and_quality_as_inline_svg(world: World) -> None:
    world.settings = world.settings.model_copy(update={"health_sample_seconds": 3600})
    samples = PipelineSamples(world.engine)
    now = datetime.now(UTC)
    for i, (rate, lag, passed) in enumerate([(12.0, 40, 1.0), (30.5, 15, 0.5), (8.0, 0, 1.0)]):
        samples.add({"records_per_s": {"ledger": rate, "profiles": rate / 2}, "lag": {"ledger": lag, "profiles": 0},
                     "validation_pass_rate": passed, "dead_letters": {"per_source": {"community": i}, "in_topic": i}},
                    now - timedelta(minutes=30 - 10 * i))
    with TestClient(create_app(world.engine, [], world.settings), raise_server_exceptions=False) as client:
        world.login(client, "steward")
        page = client.get("/console/health", params={"hours": 1}).text
    for chart in ("chart-throughput", "chart-lag", "chart-quality", "chart-dead-letters"):
        assert f'<svg id="{chart}"' in page
    throughput = page.split('<svg id="chart-throughput"', 1)[1].split("</svg>", 1)[0]
    assert throughput.count("<polyline") == 2 and "原始记录入账" in throughput and "画像投影" in throughput
    assert "吞吐量" in throughput and "时间（UTC）" in throughput and "50" in throughput  # y axis up to 50/s
    quality = page.split('<svg id="chart-quality"', 1)[1].split("</svg>", 1)[0]
    assert "100%" in quality and "校验通过率" in quality
    assert "<script" not in page and "cdn" not in page.lower()  # drawn on the server, nothing fetched


def test_health_counts_the_profiles_on_both_backends(store_engine: Engine) -> None:
    """The health reading on SQLite and on PostgreSQL (the production store, where a GROUP BY on a
    bound comparison was refused and every health read and sample failed)."""
    from sqlalchemy import insert

    from store.profile_tables import profiles

    with store_engine.begin() as conn:
        conn.execute(insert(profiles), [{"profile_id": f"p-{i}", "version": 1, "status": status, "doc": {},
                                         "updated_at": datetime.now(UTC)}
                                        for i, status in enumerate(["active", "active", "merged", "active"])])

    def no_kafka() -> str:
        raise LookupError("no Kafka in this test")

    views = PipelineViews(store_engine, no_kafka, deadletter_topic="deadletter", profile_events_topic="profile-events",
                          samples=PipelineSamples(store_engine), sample_seconds=30)
    reading = views.health()
    assert reading["profiles"] == {"active": 3, "merged": 1}
    assert views.sample(reading).sample["profiles"] == {"active": 3, "merged": 1}
