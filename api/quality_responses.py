"""The shapes of ``/api/v1/validation``: the validated batches per source, their failed expectations and
unknown code values, and the latest validation run (``services.quality.QualityViews.summary``)."""

from __future__ import annotations

from pydantic import Field

from api.responses import ResponseModel, Timestamp


class FindingOut(ResponseModel):
    """One failed expectation as the steward's report lists it."""

    suite: str
    expectation: str
    column: str
    unexpected: str
    examples: str


class UnknownValueOut(ResponseModel):
    """A coded value outside its code table, and how many records of the batch carry it."""

    batch_id: str
    source: str
    field: str
    value: str
    records: int


class BatchOut(ResponseModel):
    batch_id: str
    source: str
    status: str
    status_name: str
    records: int
    ledger_rows: list[int] = Field(description="the first and last ledger row of the batch")
    checked_at: Timestamp | None
    failed_expectations: list[FindingOut]
    unknown_values: list[UnknownValueOut]
    report: str | None
    report_url: str | None
    data_docs_url: str | None
    validation_url: str | None


class SourceBatchesOut(ResponseModel):
    source: str
    latest_status: str
    latest_checked_at: Timestamp | None
    batches: list[BatchOut]


class ValidationRunOut(ResponseModel):
    checked_at: Timestamp | None
    batches: int
    quarantined: int
    pass_rate: float | None
    store_failed_expectations: list[FindingOut]


class ValidationOut(ResponseModel):
    sources: list[SourceBatchesOut]
    batches: list[BatchOut] = Field(description="every source's batches, quarantined ones first")
    latest_run: ValidationRunOut | None
    pass_rate: float | None
    data_docs_url: str | None
