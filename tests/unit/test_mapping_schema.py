"""The mapping file's JSON Schema (docs/mapping.schema.json) is generated from the model, and every
shipped mapping validates against it, so an editor that loads it completes and checks mapping files."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from connectors.spec import ConnectorSpec, mapping_json_schema, render_mapping_json_schema

PROJECT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = PROJECT / "docs" / "mapping.schema.json"
MAPPINGS = sorted((PROJECT / "mappings").glob("*.yaml"))
VALIDATOR = jsonschema.Draft202012Validator(mapping_json_schema())


def test_the_checked_in_schema_is_what_the_generator_writes_now() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_mapping_json_schema(), (
        "regenerate it: onceonly mapping schema -o docs/mapping.schema.json")


@pytest.mark.parametrize("path", MAPPINGS, ids=lambda p: p.stem)
def test_every_shipped_mapping_validates_against_the_schema_and_the_model(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    VALIDATOR.validate(data)
    ConnectorSpec.model_validate(data)


BASE = {"source": "x", "kind": "csv", "version": "x-1", "record_id": ["id"]}


@pytest.mark.parametrize("standardise", [
    {"fields": {"nmae": "姓名"}},  # a misspelt canonical field
    {"fields": {"name": {"jion": ["姓", "名"]}}},  # a misspelt recipe
    {"fields": {"addresses.home": "住址"}},  # not an address kind
    {"fields": {"name": "姓名"}, "colums": {}},  # an unknown key
])
def test_mistakes_the_model_refuses_are_refused_by_the_schema_too(standardise: dict[str, object]) -> None:
    data = {**BASE, "standardise": standardise}
    assert not VALIDATOR.is_valid(data)
    with pytest.raises(ValueError):
        ConnectorSpec.model_validate(data)


def test_composed_fields_and_conditions_are_accepted() -> None:
    data = {**BASE, "standardise": {"fields": {"name": {"join": ["姓", "名"]}, "birth_date": {"year": "年", "month": "月"},
                                                "deceased_on": "注销日期"},
                                     "when": {"deceased_on": {"人员状态": ["死亡注销"]}}}}
    VALIDATOR.validate(data)
    ConnectorSpec.model_validate(data)
