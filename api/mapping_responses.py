"""The shapes of the mapping workbench's routes: a mapping checked on a sample, a source re-standardised."""

from __future__ import annotations

from pydantic import Field

from api.responses import ResponseModel


class FieldFiguresOut(ResponseModel):
    target: str
    columns: list[str]
    filled: int = Field(description="rows (not refused) whose columns give a value")
    parsed: int = Field(description="of those, rows whose value the standardiser could read")
    fill_rate: float | None
    parse_rate: float | None


class SampleRowOut(ResponseModel):
    location: str
    fields: dict[str, tuple[str, str | None]] = Field(description="field → [native value, standardised value]")


class CodedValuesOut(ResponseModel):
    values: dict[str, int]
    distinct: int
    outside_code_table: dict[str, int]


class RefusedRowOut(ResponseModel):
    location: str
    reason: str


class EvidenceCountsOut(ResponseModel):
    """Accepted rows carrying each kind of match evidence."""

    valid_id_number: int
    name_and_birth_date: int
    phone: int
    dwelling: int


class MappingCheckOut(ResponseModel):
    source: str
    version: str
    rows: int
    accepted: int
    refused_count: int
    fields: list[FieldFiguresOut]
    sample: list[SampleRowOut]
    coded: dict[str, CodedValuesOut]
    refused: list[RefusedRowOut]
    evidence: EvidenceCountsOut
    warnings: dict[str, int]


class RestandardisedOut(ResponseModel):
    source: str
    records: int = Field(description="live records (latest raw version not an end)")
    changed: int = Field(description="new standardised events sent")
    unchanged: int
    refused: int = Field(description="the fixed mapping cannot read them: dead-lettered, profile unchanged")
    pending: int = Field(description="not standardised by the workers yet: left to them")
