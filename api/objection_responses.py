"""The shapes of the data objections' routes (``/api/v1/objections``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.responses import Day, ResponseModel, Timestamp
from schemas.objection_events import Answer, Outcome


class ObjectionStepOut(ResponseModel):
    """One line of an objection's history."""

    seq: int
    kind: Literal["raised", "routed", "answered", "escalated", "followed", "closed"]
    at: Timestamp
    actor: str
    actor_role: str
    department: str | None
    detail: str


class ObjectionOut(ResponseModel):
    objection_id: str
    profile_id: str
    field: str
    community: str | None
    reason: str
    proposed_value: str | None = Field(description="masked unless the caller's grant shows the field")
    status: Literal["open", "closed"]
    awaiting: str
    department: str | None = Field(description="whose turn it is")
    due_on: Day | None
    overdue: bool
    escalated: bool
    answer: Answer | None
    answer_note: str
    outcome: Outcome | None
    closing_note: str
    raised_by: str
    raised_at: Timestamp
    routed_to: list[str]
    new_source: str | None
    new_record_id: str | None
    history: list[ObjectionStepOut]


class ObjectionsOut(ResponseModel):
    objections: list[ObjectionOut]


class SweptOut(ResponseModel):
    closed: int
    escalated: int
