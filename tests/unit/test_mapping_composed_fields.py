"""Mappings that build a field from several columns (issue 13, item 3): a name from surname and
given name, an address from its parts, a date from year/month/day columns."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from core.standardise import FieldMapping, standardise
from schemas.resident import ResidentRecord
from schemas.source_record import SourceRecord

TODAY = date(2025, 6, 1)

# As a department's YAML file reads once loaded.
MAPPING = FieldMapping.model_validate({
    "source": "febrl",
    "fields": {
        "name": {"join": ["surname", "given_name"]},
        "addresses.residential": {"join": ["省", "市", "区", "街道", "详细地址"]},
        "birth_date": {"year": "出生年", "month": "出生月", "day": "出生日"},
        "sex": "性别",
    },
})


def _record(values: dict[str, Any], mapping: FieldMapping = MAPPING) -> ResidentRecord:
    return standardise(SourceRecord.of(source="febrl", record_id="r-1", payload=values, mapping_version="1"),
                       mapping, today=TODAY)


def test_a_han_name_is_joined_from_surname_and_given_name_without_a_space() -> None:
    assert _record({"surname": "欧阳", "given_name": "修"}).name == "欧阳修"


def test_a_latin_name_is_joined_with_a_space() -> None:
    record = _record({"surname": "SMITH", "given_name": "John"})
    assert record.name_raw == "SMITH John" and record.name_script == "latin"


def test_a_blank_part_is_left_out_of_the_join() -> None:
    assert _record({"surname": "", "given_name": "John"}).name_raw == "John"


def test_an_address_is_joined_from_its_parts_and_parsed_whole() -> None:
    record = _record({"surname": "王", "given_name": "芳", "省": "江苏省", "市": "南京市", "区": "秦淮区",
                      "街道": "", "详细地址": "中华路104号10幢1702室"})  # no 街道 on this row
    address = record.addresses["residential"]
    assert address.raw == "江苏省南京市秦淮区中华路104号10幢1702室"
    assert address.district == "秦淮区"


def test_a_birth_date_is_built_from_year_month_and_day_columns() -> None:
    # spreadsheet numbers come back as floats
    assert _record({"surname": "王", "given_name": "芳", "出生年": 1985.0, "出生月": "3", "出生日": "07"}).birth_date \
        == date(1985, 3, 7)


def test_a_date_without_its_day_is_a_birth_month() -> None:
    record = _record({"surname": "王", "given_name": "芳", "出生年": "1985", "出生月": "3", "出生日": ""})
    assert record.birth_date is None and record.birth_month == "1985-03"


def test_an_impossible_composed_date_is_kept_empty_with_a_warning() -> None:
    record = _record({"surname": "王", "given_name": "芳", "出生年": "1922", "出生月": "16", "出生日": "20"})
    assert record.birth_date is None and any(w.startswith("birth_date_unreadable") for w in record.warnings)


def test_the_plain_and_list_forms_still_work_beside_a_join() -> None:
    mapping = FieldMapping.model_validate({"fields": {"name": {"join": ["姓", "名"]}, "phones": ["手机", "电话"],
                                                      "sex": "性别"}})
    record = _record({"姓": "王", "名": "芳", "手机": "13812345678", "电话": "", "性别": "女"}, mapping)
    assert (record.name, record.phones, record.sex) == ("王芳", ("+8613812345678",), "female")
    assert mapping.columns("name") == ("姓", "名")  # fields still lists every native column read


def test_a_composed_mapping_survives_a_round_trip_through_its_dump() -> None:
    assert FieldMapping.model_validate(MAPPING.model_dump()) == MAPPING


@pytest.mark.parametrize("fields", [
    {"name": {"year": "年", "month": "月"}},  # a date recipe for a text field
    {"birth_date": {"year": "年"}},  # a year alone is no date
    {"name": {"join": []}},
    {"name": {"join": ["姓"], "year": "年", "month": "月"}},
    {"name": {"concat": ["姓", "名"]}},
])
def test_a_malformed_composed_field_is_refused_when_the_mapping_loads(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FieldMapping.model_validate({"fields": fields})
