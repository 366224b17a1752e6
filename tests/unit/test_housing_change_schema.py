"""The housing department's published change-event schema, and what the hub's reader makes of it."""

from __future__ import annotations

import json

import jsonschema

from connectors.kafka_push import KafkaPushReader
from connectors.rows import NativeRow, UnreadableRow
from connectors.spec import ConnectorSpec
from simulators.housing import SCHEMA_PATH, change_event
from tests.helpers import PROJECT

ROW = {  # one lease filing; 证件号码 is a made-up but valid-looking ID number
    "备案编号": "宁秦租备字(2021)第0000042号", "业务类型": "租赁备案", "产权人": "", "承租人": "王 芳",
    "共有人": "", "证件类型": "身份证", "证件号码": "11010519491231002X", "联系电话": "13912345678",
    "房屋坐落": "12-3-2-301", "建筑面积": "58.20", "登记日期": "2021-03-01",
}
READER = KafkaPushReader(ConnectorSpec.load(PROJECT / "mappings" / "housing.yaml"), bootstrap="unused:9092")


def _read(event: object) -> NativeRow | UnreadableRow:
    return READER._row(2, 17, json.dumps(event, ensure_ascii=False).encode("utf-8"))


def test_the_published_schema_is_version_1_and_accepts_what_the_registry_publishes() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(change_event("upsert", ROW))
    validator.validate(change_event("delete", ROW))
    assert schema["properties"]["schema_version"] == {"const": 1}


def test_an_upsert_becomes_the_native_row_and_a_delete_a_row_marked_deleted() -> None:
    upsert, delete = _read(change_event("upsert", ROW)), _read(change_event("delete", ROW))
    assert isinstance(upsert, NativeRow) and upsert.values == ROW
    assert isinstance(delete, NativeRow) and delete.values == {"备案编号": ROW["备案编号"], "事件类型": "delete"}
    assert upsert.location == f"{READER.topic}[2]@17"


def test_a_schema_violation_names_the_field_but_not_the_value() -> None:
    event = change_event("upsert", ROW)
    event["row"]["证件号码"] = 11010519491231002  # a number where text is published
    problem = _read(event)
    assert isinstance(problem, UnreadableRow)
    assert "证件号码" in problem.reason and "11010519491231002" not in problem.reason
