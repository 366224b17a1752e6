"""A stream worker's Prometheus endpoint (#15), scraped over HTTP from a real worker on the real broker:
records in and out per stage, dead letters by source and reason class, the matcher's outcomes,
end-to-end freshness, store-apply latency and lag per partition move as records flow."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from localinfra.processes import free_port, spawn, stop
from onceonly import bootstrap
from onceonly.settings import Settings
from simulators.district_files import ingest_department_files, write_department_files
from tests.helpers import cli, cli_env, eventually

pytestmark = pytest.mark.kafka

RESIDENTS = 12  # a few records per department: enough for links, new profiles and a merge or review


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, found), v in scraped.items() if n == name and want <= found)


def test_a_workers_metrics_move_as_records_flow_through_it(hub_settings: Settings, tmp_path: Path) -> None:
    bootstrap.prepare_topics(hub_settings)
    write_department_files(tmp_path / "departments", RESIDENTS, seed=7)
    sent = ingest_department_files(hub_settings, tmp_path / "departments")
    producer = KafkaProducer(bootstrap_servers=hub_settings.kafka_bootstrap)
    producer.send(hub_settings.raw_topic("community"), key=b"community:bad", value=b"\x00not a source record")
    producer.flush()
    producer.close()
    port = free_port()
    env = {**cli_env(hub_settings), "ONCEONLY_METRICS_PORT": str(port)}
    worker = spawn(cli("worker"), tmp_path / "worker.log", env=env)
    try:
        def projected() -> dict[tuple[str, frozenset[tuple[str, str]]], float] | None:
            try:
                scraped = scrape(port)
            except httpx.HTTPError:
                return None  # the worker is still starting
            # a batch's events are counted as the resolver makes them, its "out" once the batch is done
            done = (value(scraped, "onceonly_matcher_events_total", event="RecordLinked") >= sent
                    and value(scraped, "onceonly_stage_records_out_total", stage="resolve") >= sent)
            return scraped if done and value(scraped, "onceonly_stage_records_out_total", stage="project") else None

        scraped = eventually(projected, timeout=240, every=1.0)
    finally:
        stop(worker)
    # every resident record (and the grid centre's addresses, and the bad message) read by standardise
    assert value(scraped, "onceonly_stage_records_in_total", stage="standardise") >= sent + 1
    assert value(scraped, "onceonly_stage_records_out_total", stage="standardise") >= sent
    assert value(scraped, "onceonly_stage_records_in_total", stage="ledger") >= sent + 1
    assert value(scraped, "onceonly_dead_letters_total", stage="standardise", source="community",
                 reason_class="undecodable") == 1
    assert value(scraped, "onceonly_matcher_events_total", event="ProfileCreated") >= 1
    assert value(scraped, "onceonly_stage_records_out_total", stage="resolve") >= sent
    assert value(scraped, "onceonly_freshness_seconds_count") >= 1
    assert 0 < value(scraped, "onceonly_freshness_seconds_sum") / value(scraped, "onceonly_freshness_seconds_count") < 240
    assert value(scraped, "onceonly_store_apply_seconds_count", stage="project") >= 1
    assert value(scraped, "onceonly_stage_delay_seconds_count", stage="resolve") >= sent
    lag = [labels for (name, labels), _ in scraped.items() if name == "onceonly_stage_lag_messages"]
    assert any(dict(labels)["topic"] == hub_settings.records_topic for labels in lag)
