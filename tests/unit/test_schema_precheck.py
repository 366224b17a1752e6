"""The certain-only schema precheck never accepts what jsonschema refuses, and does accept the
messages a department really publishes (else it would be no shortcut)."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import jsonschema
import pytest

from connectors.schema_precheck import prechecker
from simulators.housing import SCHEMA_PATH, change_event

ROW = {
    "备案编号": "宁秦租备字(2021)第0000042号", "业务类型": "租赁备案", "产权人": "", "承租人": "王 芳",
    "共有人": "", "证件类型": "身份证", "证件号码": "11010519491231002X", "联系电话": "13912345678",
    "房屋坐落": "12-3-2-301", "建筑面积": "58.20", "登记日期": "2021-03-01",
}
ODD_VALUES: list[Any] = [None, True, False, 0, 1, 1.0, 2, -1, 1.5, "", "1", "upsert", "delete", "x" * 65, "x" * 64,
                         [], [1], {}, {"备案编号": "A"}, "2024-01-01T00:00:00Z", "not a time"]


def _validator(schema: dict[str, Any]) -> Any:
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _mutations(event: dict[str, Any], rng: random.Random) -> dict[str, Any] | Any:
    mutated = copy.deepcopy(event)
    for _ in range(rng.randint(1, 3)):
        target = mutated["row"] if isinstance(mutated.get("row"), dict) and rng.random() < 0.6 else mutated
        keys = list(target) + ["extra", "备案编号", "event_type", "schema_version", "row"]
        key = rng.choice(keys)
        action = rng.random()
        if action < 0.25:
            target.pop(key, None)
        else:
            target[key] = rng.choice(ODD_VALUES)
    if rng.random() < 0.03:
        return rng.choice(ODD_VALUES)
    return mutated


def test_the_housing_schema_is_prechecked_and_valid_events_pass_quickly() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = _validator(schema)
    check = prechecker(schema, validator.TYPE_CHECKER.is_type)
    assert check is not None
    nulls: dict[str, Any] = {k: None if k != "备案编号" else v for k, v in ROW.items()}
    for event in (change_event("upsert", ROW), change_event("delete", ROW), change_event("upsert", nulls)):
        assert validator.is_valid(event) and check(event)


def test_the_precheck_never_accepts_an_event_the_schema_refuses() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = _validator(schema)
    check = prechecker(schema, validator.TYPE_CHECKER.is_type)
    assert check is not None
    rng = random.Random(20261121)
    accepted = refused = 0
    for n in range(6000):
        base = change_event("upsert" if n % 3 else "delete", ROW)
        event = _mutations(base, rng)
        valid = validator.is_valid(event)
        if check(event):
            assert valid, event
            accepted += 1
        refused += not valid
    assert accepted > 100 and refused > 1000  # both sides were exercised


@pytest.mark.parametrize("schema, instance, certain", [
    ({"const": 1}, 1, True),
    ({"const": 1}, 1.0, False),  # equal in JSON Schema: not sure, so not certain
    ({"const": 1}, True, False),
    ({"const": "a"}, "a", True),
    ({"enum": ["a", None]}, None, True),
    ({"enum": [1, "a"]}, 1.0, False),
    ({"type": "integer"}, 1.0, True),  # the validator's own type checker decides
    ({"type": ["string", "null"]}, 3, False),
    ({"properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "integer"}}, {"a": "x", "b": 2}, True),
    ({"properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "integer"}}, {"b": "x"}, False),
    ({"if": {"properties": {"k": {"const": "x"}}}, "then": {"required": ["v"]}, "else": False}, {"k": "x"}, False),
    ({"if": {"properties": {"k": {"const": "x"}}}, "then": {"required": ["v"]}, "else": False}, {"k": "x", "v": 1}, True),
    ({"if": {"properties": {"k": {"const": "x"}}}, "then": {"required": ["v"]}, "else": False}, {"k": "y"}, False),
    ({"if": {"properties": {"k": {"const": 1}}}, "then": {"required": ["v"]}}, {"k": 1.0}, False),
    ({"minLength": 2, "maxLength": 3}, "ab", True),
    ({"minLength": 2, "maxLength": 3}, "abcd", False),
    ({"minLength": 2}, 5, True),
    ({"format": "date-time", "type": "string"}, "no time", True),  # format is an annotation here
])
def test_small_schemas_against_jsonschema(schema: dict[str, Any], instance: Any, certain: bool) -> None:
    validator = _validator({"$schema": "https://json-schema.org/draft/2020-12/schema", **schema})
    check = prechecker(validator.schema, validator.TYPE_CHECKER.is_type)
    assert check is not None
    assert check(instance) is certain
    if certain:
        assert validator.is_valid(instance)


@pytest.mark.parametrize("schema", [
    {"pattern": "^a"}, {"properties": {"a": {"$ref": "#/$defs/x"}}, "$defs": {"x": {}}}, {"anyOf": [{}]},
    {"patternProperties": {"^a": {}}, "additionalProperties": False}, {"minimum": 1},
])
def test_a_schema_with_other_keywords_is_never_prechecked(schema: dict[str, Any]) -> None:
    validator = _validator(schema)
    assert prechecker(schema, validator.TYPE_CHECKER.is_type) is None
