"""The batch suite counts kept-but-unreadable fields per source and field without failing the batch."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas.record_events import RecordStandardised
from schemas.resident import ResidentRecord
from services.expectations import CODED_FIELDS, DATE_FIELDS, batch_row, batch_suite, rules_for, unknown_values

AT = datetime(2025, 6, 1, tzinfo=UTC)


def _record(*warnings: str) -> ResidentRecord:
    return ResidentRecord(source="community", record_id="V-1", observed_at=AT, name="王芳", warnings=warnings)


def test_unknown_code_values_are_read_back_as_the_source_wrote_them() -> None:
    record = _record("ethnicity_unknown: '火星族' is not a known GB 3304 ethnicity value",
                     "relation_to_head_group:子女", "birth_date_unreadable: unreadable date '19221620': no month 16")
    assert unknown_values(record) == {"ethnicity": "火星族", "relation_to_head": "group:子女"}


def test_a_batch_row_labels_each_unreadable_field_and_dates_only_by_record_id() -> None:
    record = _record("marital_status_unknown: '说不清' is not a known GB/T 2261.2 marital status value",
                     "birth_date_unreadable: unreadable date '19221620': there is no month 16")
    row = batch_row("V-1", RecordStandardised(event_id="e-1", source="community", record_id="V-1", change="upsert",
                                              content_hash="h", observed_at=AT, record=record))
    assert row["unknown.marital_status"] == "说不清"
    assert row["unreadable.birth_date"] == "V-1"  # a date is personal: the record id, not the value


def test_the_counting_expectations_never_fail_a_batch() -> None:
    suite = batch_suite("community", rules_for("community"))
    counting: list[Any] = [e for e in suite.expectations if getattr(e, "column", "").startswith(("unknown.", "unreadable."))]
    assert {e.column for e in counting} == {f"unknown.{f}" for f in CODED_FIELDS} | {f"unreadable.{f}" for f in DATE_FIELDS}
    assert all(e.mostly == 0.0 for e in counting)
