"""The shapes of the residents' routes (``/api/v1/me``, ``/residents``, ``/households``, ``/fields``):
values as ``core.access.views`` shows them to the caller, masked or left out by role and grant."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from api.responses import Absent, ResponseModel, Timestamp, optional_key
from core.access import Role


class CallerOut(ResponseModel):
    """Who the token or session belongs to, and their scope."""

    username: str
    role: Role
    communities: list[str]
    grids: list[str]
    department: str | None


class SummaryOut(ResponseModel):
    """A resident's identity fields (``core.access.views.summary_of``); ``None`` where the value is
    unknown or hidden from the caller, masked where the role requires."""

    profile_id: str
    name: str | None
    sex: str | None
    birth_date: str | None
    id_number: str | None
    household_id: str | None
    relation_to_head: str | None
    address: str | None


class HitOut(SummaryOut):
    community: str | None
    score: float = Field(description="the mean of the criteria's scores, in (0, 1]")


class SearchOut(ResponseModel):
    total: int
    page: int
    size: int
    truncated: bool = Field(description="an address search stopped at its candidate limit: narrow it down")
    results: list[HitOut]


class HouseholdOut(ResponseModel):
    household_id: str
    members: list[SummaryOut]


class ConflictOut(ResponseModel):
    """Another source's value for a field, not the surviving one."""

    value: str | list[str]
    source: str
    record_id: str
    observed_at: Timestamp


class FieldOut(ResponseModel):
    """One surviving (golden) field, with where it comes from."""

    field: str = Field(description='a canonical field, or "attributes.<key>"')
    value: str | list[str]
    masked: bool
    source: str
    record_id: str
    observed_at: Timestamp
    conflicted: bool
    conflicts: list[ConflictOut]
    disputed: bool = Field(description="an open objection says the value is wrong (有异议)")


class DisputeOut(ResponseModel):
    """An open objection on a field shown."""

    objection_id: str
    field: str
    awaiting: str
    department: str | None
    due_on: str | None
    raised_at: Timestamp


class RecordOut(ResponseModel):
    """A source record's canonical fields, masked like the profile's; a field without a value or
    hidden from the caller is left out. ``attributes.<key>`` fields follow, as text."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, str] = Field(init=False)

    source: str
    record_id: str
    observed_at: Timestamp
    name: str | Absent = optional_key()
    id_number: str | Absent = optional_key()
    sex: str | Absent = optional_key()
    birth_date: str | Absent = optional_key()
    phones: str | Absent = optional_key()
    household_id: str | Absent = optional_key()
    residential_address: str | Absent = optional_key()


class EvidenceWeightOut(ResponseModel):
    """Why a record was linked, without the compared values."""

    field: str
    level: str
    weight: float


class LinkedRecordOut(RecordOut):
    rule: str
    score: float
    evidence: list[EvidenceWeightOut]
    linked_at: Timestamp
    ended_at: Timestamp | None


class HistoryLineOut(ResponseModel):
    version: int
    event_type: str
    occurred_at: Timestamp
    summary: str


class ProfileOut(ResponseModel):
    """A resident as the caller may see it. A department reader gets the granted fields only:
    ``records``, ``household``, ``history`` and ``pending_reviews`` are left out of its answers."""

    profile_id: str
    redirected_from: str | None = Field(description="the merged-away id asked for, when it led here")
    status: str
    version: int
    community: str | None
    as_of: Timestamp | None
    updated_at: Timestamp
    fields: list[FieldOut]
    conflicted_fields: list[str]
    objections: list[DisputeOut]
    records: list[LinkedRecordOut] | Absent = optional_key()
    household: HouseholdOut | None = optional_key("null when the resident has no household number, or it is hidden")
    history: list[HistoryLineOut] | Absent = optional_key("newest first")
    pending_reviews: list[str] | Absent = optional_key("review ids")


class ProfileEventOut(ResponseModel):
    """One event of a profile's log (its summary holds no ID number)."""

    event_id: str
    version: int
    event_type: str
    occurred_at: Timestamp
    summary: str
