"""A record is refused only when it cannot be identified or read (issue 13, item 1); a field that
cannot be read keeps the record, stays empty, and keeps its raw value in the record's warnings."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from connectors.rows import NativeRow
from connectors.spec import ConnectorSpec
from connectors.validate import formula_in, row_problem
from core.matching.features import match_features
from core.standardise import standardise
from schemas.resident import ResidentRecord
from schemas.source_record import SourceRecord

TODAY = date(2025, 6, 1)

# A police register as a department maps it: 与户主关系 written 户主 / 配偶 / 子女.
SPEC = ConnectorSpec.model_validate({
    "source": "public_security", "kind": "csv", "version": "t-1", "record_id": ["人员编号"],
    "standardise": {"fields": {"name": "姓名", "id_number": "公民身份号码", "sex": "性别", "birth_date": "出生日期",
                               "relation_to_head": "与户主关系", "ethnicity": "民族"}},
})


def _problem(values: dict[str, Any], spec: ConnectorSpec = SPEC) -> str | None:
    return row_problem(spec, spec.field_mapping(), NativeRow("register.csv:2", values), today=TODAY)


def _record(values: dict[str, Any]) -> ResidentRecord:
    mapping = SPEC.field_mapping()
    assert mapping is not None
    return standardise(SourceRecord.of(source="public_security", record_id="r-1", payload=values,
                                       mapping_version="t-1"), mapping, today=TODAY)


def test_a_child_written_zinv_is_kept_and_read_as_son_or_daughter_by_sex() -> None:
    son = {"人员编号": "1", "姓名": "王小明", "性别": "男", "与户主关系": "子女"}
    daughter = {**son, "姓名": "王小红", "性别": "女"}
    assert _problem(son) is None and _problem(daughter) is None
    assert _record(son).relation_to_head == "20"  # GB/T 4761 子
    assert _record(daughter).relation_to_head == "30"  # GB/T 4761 女


def test_a_child_without_a_known_sex_is_kept_with_the_relation_empty_and_a_group_warning() -> None:
    row = {"人员编号": "1", "姓名": "王小明", "与户主关系": "子女"}  # no 性别: no code for "a child"
    assert _problem(row) is None
    record = _record(row)
    assert record.relation_to_head is None
    assert "relation_to_head_group:子女" in record.warnings


def test_a_spouse_written_peiou_is_the_spouse_code() -> None:
    assert _record({"人员编号": "1", "姓名": "李梅", "与户主关系": "配偶"}).relation_to_head == "10"


def test_an_unreadable_birth_date_is_kept_empty_with_the_raw_value_in_a_warning() -> None:
    row = {"人员编号": "1", "姓名": "Mary SMITH", "出生日期": "19221620"}  # month 16: FEBRL's typo
    assert _problem(row) is None
    record = _record(row)
    assert record.birth_date is None and record.birth_month is None
    assert any(w.startswith("birth_date_unreadable") and "19221620" in w for w in record.warnings)
    features = match_features(record)
    assert features.birth_date is None and features.birth_digits is None  # the matcher sees it missing


def test_an_unknown_ethnicity_code_is_kept_with_the_value_as_evidence() -> None:
    row = {"人员编号": "1", "姓名": "王芳", "民族": "火星族"}
    assert _problem(row) is None
    record = _record(row)
    assert record.ethnicity is None and any("火星族" in w for w in record.warnings)


def test_a_row_with_no_name_and_no_identity_document_is_refused() -> None:
    problem = _problem({"人员编号": "1", "性别": "男", "与户主关系": "户主"})
    assert problem is not None and "no name and no valid ID number" in problem


@pytest.mark.parametrize("payload", [
    '=HYPERLINK("http://example.invalid","点击")',
    "=cmd|' /C calc'!A0",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(A1:A9)",
    "\t=1+1",  # a tab before the sign: still a formula to a spreadsheet
])
def test_a_formula_or_dde_payload_in_any_cell_is_refused(payload: str) -> None:
    assert _problem({"人员编号": "1", "姓名": "王芳", "与户主关系": payload}) == "formula in cell '与户主关系'"


@pytest.mark.parametrize("value", ["+86 13812345678", "-", "-1", "@qq.com", "-张三(曾用名)"])
def test_values_that_merely_start_with_a_sign_are_not_formulas(value: str) -> None:
    assert not formula_in(value)


def test_a_mapping_that_asks_to_reject_an_unknown_code_still_refuses_the_row() -> None:
    strict = SPEC.model_copy(update={"reject_warnings": ["ethnicity_unknown"]})
    problem = _problem({"人员编号": "1", "姓名": "王芳", "民族": "火星族"}, strict)
    assert problem is not None and problem.startswith("ethnicity_unknown") and "火星族" in problem
    assert _problem({"人员编号": "1", "姓名": "王芳", "民族": "火星族"}) is None  # the default keeps it


def test_no_warning_kind_is_rejected_by_default() -> None:
    assert SPEC.reject_warnings == []
