"""The shapes of the source scorecards' route (``/api/v1/scorecards``)."""

from __future__ import annotations

from pydantic import Field

from api.responses import ResponseModel


class ScorecardOut(ResponseModel):
    """A department's month."""

    department: str
    month: str = Field(description="YYYY-MM")
    records_sent: int
    dead_letters: int
    dead_letters_by_reason: dict[str, int]
    unreadable_fields: int
    validated_batches: int
    quarantined_batches: int
    overruled_fields: int = Field(description="its value differs from the surviving one of another department")
    objections_received: int
    objections_answered: int
    objections_overdue: int
    median_answer_days: float | None
    reviews_caused: int


class ScorecardsOut(ResponseModel):
    scorecards: list[ScorecardOut]
    not_counted: list[str] = Field(description="what could not be counted (the dead letters when Kafka is away)")
