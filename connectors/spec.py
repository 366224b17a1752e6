"""A department's mapping file (YAML), as a model: where its records come from, how to read them,
and how their native fields map onto the canonical resident record.

Adding a department is a new mapping file, not new code: see ``mappings/`` and the README.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field

from connectors.end_guard import DEFAULT_MAX_END_SHARE
from core.standardise import FieldMapping
from core.standardise.record import PLAIN_TARGETS
from schemas.resident import AddressKind, IdKind

ConnectorKind = Literal["csv", "xlsx", "files", "sql", "http", "kafka", "ingest"]

# Standardiser warnings a mapping refuses a row for, unless it lists its own. None by default: a
# field that cannot be read (an unknown code, an impossible birth date) stays empty with its raw
# value in the record's warnings, and the record is kept — one unreadable attribute must not
# take a resident out of matching. A row is refused only when it cannot be identified or read
# (``connectors.validate``).
DEFAULT_REJECT_WARNINGS: tuple[str, ...] = ()


class DeletedWhen(BaseModel):
    """A row marked deleted by the department (e.g. 状态 = 已删除) ends its record."""

    model_config = ConfigDict(frozen=True)

    column: str
    values: list[str]


class ConnectorSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Source name, also the topic suffix raw.<source>")
    title: str = ""
    kind: ConnectorKind
    holds: Literal["residents", "standard_addresses"] = Field(
        default="residents",
        description="What the records are: residents (resolved into profiles) or the grid centre's "
                    "standard addresses (标准地址库: which community and grid a building belongs to)")
    version: str = Field(description="Mapping version, stamped on every envelope")
    schedule: str | None = Field(default=None, description="Cron expression for the ingest flow")
    record_id: list[str] = Field(min_length=1, description="Native column(s) that identify a record")
    record_id_is_id_number: bool = Field(
        default=False, description="The department keys rows by ID number: use its keyed hash as record id")
    encoding: str = "utf-8"
    expected_columns: list[str] = Field(default_factory=list, description="A file whose header lacks one is refused")
    ignore_columns: list[str] = Field(
        default_factory=list,
        description="Left out of the payload and its hash: row positions such as 序号 that renumber on every export")
    max_field_bytes: int = 65_536
    deleted_when: DeletedWhen | None = None
    max_end_share: float = Field(
        default=DEFAULT_MAX_END_SHARE, ge=0.0, le=1.0,
        description="A pull that would end more than this share of the source's live records (or that meets a "
                    "changed header or encoding) ends nothing and waits for a steward (connectors.end_guard)")
    reject_warnings: list[str] = Field(
        default_factory=lambda: list(DEFAULT_REJECT_WARNINGS),
        description="Warning kinds (e.g. sex_unknown) that refuse the whole row; empty: unreadable fields are kept "
                    "empty with a warning")
    transport: dict[str, Any] = Field(default_factory=dict, description="Kind-specific settings (path, url, table…)")
    standardise: FieldMapping | None = None

    @classmethod
    def load(cls, path: Path) -> ConnectorSpec:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return cls.model_validate(data)

    def field_mapping(self) -> FieldMapping | None:
        if self.standardise is None:
            return None
        update: dict[str, Any] = {"holds": self.holds}
        if self.standardise.source is None:
            update["source"] = self.source
        return self.standardise.model_copy(update=update)


SCHEMA_ID = "https://onceonly.example/mapping.schema.json"


def mapping_json_schema() -> dict[str, Any]:
    """The JSON Schema of a mapping file, generated from :class:`ConnectorSpec` (``onceonly mapping
    schema`` writes ``docs/mapping.schema.json``, which editors use to complete and check the YAML).

    The model validates what the YAML says after its ``before`` validators have normalised it; the
    schema describes the YAML itself, so the shapes those validators accept are written out: a
    field's columns as one name, a list or a composed recipe, code tables and ``when`` values as text
    or numbers.
    """
    schema = ConnectorSpec.model_json_schema(mode="validation")
    mapping = schema["$defs"]["FieldMapping"]["properties"]
    column = {"type": "string", "minLength": 1}
    mapping["fields"] = {
        "type": "object", "title": "Fields",
        "description": "Canonical field (name, id_number, sex, birth_date, phones, addresses.<kind>, "
                       "other_ids.<kind>, attributes.<key> …) → its native column, a list of columns (the first "
                       "non-blank is read) or a composed recipe ({join: [...]} or {year, month, day})",
        "propertyNames": {"pattern": _target_pattern()},
        "additionalProperties": {"anyOf": [column, {"type": "array", "items": column, "minItems": 1},
                                           {"$ref": "#/$defs/ComposedField"}]},
    }
    text_or_number = {"type": ["string", "integer", "number"]}
    mapping["codes"] = {
        "type": "object", "title": "Codes",
        "description": "Per canonical field: native value → canonical value (quote codes such as \"01\")",
        "propertyNames": {"pattern": _target_pattern()},
        "additionalProperties": {"type": "object", "additionalProperties": text_or_number},
    }
    mapping["when"] = {
        "type": "object", "title": "When",
        "description": "Read a field only from rows whose columns hold one of the listed values",
        "additionalProperties": {"type": "object", "minProperties": 1, "additionalProperties": {
            "anyOf": [text_or_number, {"type": "array", "items": text_or_number, "minItems": 1}]}},
    }
    mapping.pop("composed", None)  # filled from ``fields`` by the model, never written in a file
    mapping.pop("holds", None)  # taken from the file's top-level ``holds``
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "OnceOnly department mapping file", **schema}


def _target_pattern() -> str:
    plain = "|".join(sorted(PLAIN_TARGETS))
    return (f"^({plain}|addresses\\.({'|'.join(get_args(AddressKind))})|other_ids\\.({'|'.join(get_args(IdKind))})"
            "|attributes\\.[a-z][a-z0-9_]*)$")


def render_mapping_json_schema() -> str:
    """The schema as checked in: sorted keys, two-space indent, a final newline."""
    return json.dumps(mapping_json_schema(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
