"""Pure helpers of the steward views: SVG charts, the report's failed-expectation table, health samples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.charts import line_chart
from services.pipeline import health_sample
from services.quality import failed_expectations, pass_rate
from store.pipeline_samples import Sample

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def test_a_chart_draws_one_polyline_per_series_with_axes_and_an_escaped_legend() -> None:
    svg = line_chart({"入账": [(T0, 3.0), (T0 + timedelta(minutes=5), 37.0)], "<script>": [(T0, 1.0)]},
                     title="吞吐量", y_label="条/秒", chart_id="c1")
    assert svg.startswith('<svg id="c1"') and svg.endswith("</svg>")
    assert svg.count("<polyline") == 2 and svg.count('class="axis"') == 2
    assert "<script>" not in svg and "&lt;script&gt;" in svg  # a series name is text, never markup
    assert ">50<" in svg  # 37 rounds up to a y axis of 50
    assert "08:00:00" in svg and "08:05:00" in svg  # start and end of the time axis


def test_a_chart_without_points_says_so() -> None:
    svg = line_chart({}, title="积压", y_label="条", chart_id="empty")
    assert "暂无采样数据" in svg and "<polyline" not in svg


def test_a_percentage_chart_labels_its_axis_in_percent() -> None:
    svg = line_chart({"通过率": [(T0, 0.5), (T0 + timedelta(hours=1), 1.0)]}, title="质量", y_label="通过率",
                     chart_id="q", y_max=1.0, percent=True)
    assert ">100%<" in svg and ">50%<" in svg


def test_failed_expectations_are_read_from_the_report_and_id_numbers_masked() -> None:
    report = "\n".join([
        "# Validation FAILED", "", "## Batches", "", "| batch | source | records | status |", "|---|---|---|---|",
        "| c-1-3 | community | 3 | quarantined |", "", "## Failed expectations", "",
        "| suite | expectation | column | unexpected | examples |", "|---|---|---|---|---|",
        "| batch.community | expect_column_values_to_be_in_set | relation_to_head | 3 (100.0 %) | 火星人 |",
        "| store.profiles | expect_column_values_to_be_unique | id_hash | 1 | 11010519491231002X |",
        "", "## What to do", "", "- | not | a | finding |"])
    found = failed_expectations(report)
    assert [(f.suite, f.column) for f in found] == [("batch.community", "relation_to_head"), ("store.profiles", "id_hash")]
    assert found[1].examples == "110105********002X"


def test_the_pass_rate_counts_every_batch_not_quarantined() -> None:
    assert pass_rate([{"status": "quarantined"}, {"status": "published"}, {"status": "passed"},
                      {"status": "superseded"}]) == 0.75
    assert pass_rate([]) is None


def test_a_health_sample_keeps_lag_unknown_when_the_broker_did_not_answer() -> None:
    health = {"consumers": [{"consumer": "ledger", "topic": "raw.a", "applied": 10, "lag": None},
                            {"consumer": "ledger", "topic": "raw.b", "applied": 5, "lag": 3}],
              "profiles": {"active": 2}, "dead_letters": {"per_source": {"a": 1}, "in_topic": None}}
    first = health_sample(health, None, T0)
    assert first["applied"] == {"ledger": 15} and first["lag"] == {"ledger": None} and first["records_per_s"] == {}
    later = dict(health, consumers=[{"consumer": "ledger", "topic": "raw.a", "applied": 40, "lag": 0}])
    second = health_sample(later, Sample(T0, first), T0 + timedelta(seconds=5))
    assert second["records_per_s"] == {"ledger": 5.0} and second["lag"] == {"ledger": 0}
    replayed = dict(health, consumers=[{"consumer": "ledger", "topic": "raw.a", "applied": 0, "lag": 0}])
    assert health_sample(replayed, Sample(T0, first), T0 + timedelta(seconds=5))["records_per_s"] == {"ledger": 0.0}
