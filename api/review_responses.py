"""The shapes of the review queue (``/api/v1/reviews``) and a steward's decision on a review."""

from __future__ import annotations

from pydantic import Field

from api.resident_responses import RecordOut
from api.responses import ResponseModel, Timestamp, optional_key


class CandidateOut(ResponseModel):
    """A candidate profile's identity fields (masked as the role requires); a candidate that is no
    longer stored (merged away meanwhile) is named by its ``profile_id`` alone."""

    profile_id: str
    name: str | None = optional_key()
    sex: str | None = optional_key()
    birth_date: str | None = optional_key()
    id_number: str | None = optional_key()
    household_id: str | None = optional_key()
    relation_to_head: str | None = optional_key()
    address: str | None = optional_key()


class EvidenceOut(ResponseModel):
    """How one field compared; the compared values of ID numbers and phones masked."""

    field: str
    level: str
    weight: float
    left: str | None
    right: str | None


class DepartmentFieldsOut(ResponseModel):
    """A granted department (it gets a merge notice) and its fields that would read differently."""

    department: str
    fields: list[str]


class TouchedObjectionOut(ResponseModel):
    objection_id: str
    profile_id: str
    field: str
    department: str | None


class TouchedCandidateOut(ResponseModel):
    profile_id: str
    departments: list[DepartmentFieldsOut]
    objections: list[TouchedObjectionOut]


class TouchesOut(ResponseModel):
    """What confirming the review would touch, per candidate."""

    candidates: list[TouchedCandidateOut]


class ReviewOut(ResponseModel):
    review_id: str
    score: float
    requested_at: Timestamp
    record: RecordOut
    candidates: list[CandidateOut]
    evidence: list[EvidenceOut]
    touches: TouchesOut


class ReviewsOut(ResponseModel):
    total: int
    offset: int
    limit: int
    reviews: list[ReviewOut]


class EmittedEventOut(ResponseModel):
    type: str
    profile_id: str
    version: int


class ReviewDecisionOut(ResponseModel):
    command_id: str
    published: int | None = Field(description="events sent now; null: Kafka was not reachable, the workers send them")
    events: list[EmittedEventOut]
