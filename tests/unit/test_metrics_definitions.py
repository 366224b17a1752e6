"""The metric definitions (#15): dead-letter reasons fold into a few classes, a health sample becomes
the gauges the dashboard draws, and every metric the Grafana dashboard queries is one the code defines."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from metrics.definitions import HEALTH_GAUGES, ServiceMetrics, WorkerMetrics, health_families, reason_class
from services.pipeline import health_sample
from store.pipeline_samples import Sample

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "onceonly.json"
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
            "gauge": ("",)}


def exposed_names() -> set[str]:
    """Every series name the workers and the query service can expose."""
    names = set(HEALTH_GAUGES)
    for registry in (WorkerMetrics().registry, ServiceMetrics().registry):
        for family in registry.collect():
            names |= {family.name + suffix for suffix in SUFFIXES[family.type]}
    return names


def test_every_metric_the_dashboard_queries_is_one_the_code_defines() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queried = {name for panel in dashboard["panels"] for target in panel["targets"]
               for name in re.findall(r"\bonceonly_[a-z_]+", target["expr"])}
    assert len(queried) >= 12
    assert queried <= exposed_names(), sorted(queried - exposed_names())


def test_the_dashboard_has_a_panel_for_each_thing_operators_watch() -> None:
    exprs = " ".join(t["expr"] for p in json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"] for t in p["targets"])
    for name in ("onceonly_stage_records_in_total", "onceonly_stage_records_out_total", "onceonly_stage_lag_messages",
                 "onceonly_consumer_lag_messages", "onceonly_dead_letters_total", "onceonly_matcher_events_total",
                 "onceonly_freshness_seconds_bucket", "onceonly_store_apply_seconds_bucket",
                 "onceonly_audit_append_seconds_bucket", "onceonly_http_request_duration_seconds_bucket"):
        assert name in exprs, name


def test_dead_letter_reasons_fold_into_a_few_classes_without_their_details() -> None:
    assert reason_class("undecodable message: JSONDecodeError") == "undecodable"
    assert reason_class("places failed on this message: IntegrityError: 110101199001011234") == "poison"
    assert reason_class("no mapping file for source 'tax'") == "no_mapping"
    assert reason_class("cannot standardise: id_number: bad checksum") == "unstandardisable"
    assert reason_class("something new") == "other"


def test_a_stage_counts_what_it_read_and_its_lag_per_partition() -> None:
    metrics = WorkerMetrics()
    from faust.types import TP

    tp = TP("records", 3)
    now = datetime.now(UTC).timestamp()
    events = [SimpleNamespace(message=SimpleNamespace(tp=tp, offset=offset, timestamp=now - 2.0)) for offset in (7, 8, 9)]
    metrics.read("resolve", events, lambda _: 15)
    registry = metrics.registry
    assert registry.get_sample_value("onceonly_stage_records_in_total", {"stage": "resolve"}) == 3
    # offsets up to 9 read, the partition ends before 15: 10..14 still to read
    assert registry.get_sample_value("onceonly_stage_lag_messages",
                                     {"stage": "resolve", "topic": "records", "partition": "3"}) == 5
    delay = registry.get_sample_value("onceonly_stage_delay_seconds_sum", {"stage": "resolve"})
    assert delay is not None and delay >= 6.0


def test_a_health_sample_becomes_gauges_per_consumer_topic_and_partition() -> None:
    health: dict[str, Any] = {"consumers": [{"consumer": "profiles", "topic": "profile-events", "applied": 30, "lag": 4,
                                             "partitions": [{"partition": 1, "applied": 10, "lag": 4},
                                                            {"partition": 0, "applied": 20, "lag": 0}]},
                                            {"consumer": "ledger", "topic": "raw.housing", "applied": 5, "lag": None,
                                             "partitions": [{"partition": 0, "applied": 5, "lag": None}]}],
                              "profiles": {"active": 12, "merged": 1}, "dead_letters": {"per_source": {"housing": 2}, "in_topic": 3},
                              "validation_pass_rate": 0.9}
    first = Sample(T0, health_sample(health, None, T0))
    later = dict(health, consumers=[dict(health["consumers"][0], applied=130)])
    second = Sample(T0 + timedelta(seconds=10), health_sample(later, first, T0 + timedelta(seconds=10)))

    class Once:
        def collect(self) -> object:
            return health_families(second.sample, second.taken_at)

    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    registry.register(Once())  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    got = {(s.name, tuple(sorted(s.labels.items()))): s.value
           for f in text_string_to_metric_families(text) for s in f.samples}
    lag = {labels: v for (name, labels), v in got.items() if name == "onceonly_consumer_lag_messages"}
    assert lag == {(("consumer", "profiles"), ("partition", "0"), ("topic", "profile-events")): 0.0,
                   (("consumer", "profiles"), ("partition", "1"), ("topic", "profile-events")): 4.0}
    assert got[("onceonly_consumer_records_per_second", (("consumer", "profiles"),))] == 10.0
    assert got[("onceonly_dead_letters_in_topic", ())] == 3.0
    assert got[("onceonly_connector_dead_letters", (("source", "housing"),))] == 2.0
    assert got[("onceonly_profiles", (("status", "active"),))] == 12.0
    assert got[("onceonly_health_sample_timestamp_seconds", ())] == second.taken_at.timestamp()
