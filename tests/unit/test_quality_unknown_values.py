"""Coded values outside their code tables reach the steward's data-quality page: the validation
report lists them per batch with how many records carry each, and the page reads them back."""

from __future__ import annotations

from pathlib import Path

from services.expectations import unknown_value_counts
from services.quality import unknown_code_values
from services.validation import Batch, Validation, write_report

ROWS: tuple[dict[str, object], ...] = (  # a community batch: two visits say 火星族, one 表舅 (not in the mapping's codes), one is clean
    {"record_id": "V-1", "unknown.ethnicity": "火星族"},
    {"record_id": "V-2", "unknown.ethnicity": "火星族", "unknown.relation_to_head": "表舅"},
    {"record_id": "V-3", "unknown.relation_to_head": "group:子女"},
    {"record_id": "V-4"},
)


def test_a_batch_counts_each_unknown_value_per_field() -> None:
    assert unknown_value_counts(ROWS) == [("ethnicity", "火星族", 2), ("relation_to_head", "group:子女", 1),
                                          ("relation_to_head", "表舅", 1)]


def test_the_report_lists_them_and_the_quality_page_reads_them_back(tmp_path: Path) -> None:
    batch = Batch(source="community", first_id=0, last_id=4, rows=ROWS)
    path = write_report(tmp_path, Validation(batches=[batch], findings=[], data_docs="docs/index.html"))
    read = unknown_code_values(path.read_text(encoding="utf-8"))
    assert {(u["field"], u["value"], u["records"]) for u in read} == {
        ("ethnicity", "火星族", 2), ("relation_to_head", "表舅", 1), ("relation_to_head", "group:子女", 1)}
    assert {u["batch_id"] for u in read} == {"community-1-4"}


def test_a_value_with_a_pipe_or_an_id_number_cannot_break_or_leak_through_the_table(tmp_path: Path) -> None:
    rows: tuple[dict[str, object], ...] = ({"record_id": "V-9", "unknown.ethnicity": "汉|族 11010519491231002X"},)
    path = write_report(tmp_path, Validation(batches=[Batch("community", 0, 1, rows)], findings=[], data_docs=""))
    [row] = unknown_code_values(path.read_text(encoding="utf-8"))
    assert row["records"] == 1 and "|" not in row["value"] and "11010519491231002X" not in row["value"]
