"""The shapes of the collection planner's routes (``/api/v1/forms``, ``/api/v1/planner``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.responses import ResponseModel, Timestamp


class FormFieldOut(ResponseModel):
    field: str
    label: str


class FormOut(ResponseModel):
    name: str
    title: str
    fields: list[FormFieldOut]


class FormsOut(ResponseModel):
    forms: list[FormOut] = Field(description="the form templates of config/forms")
    fields: list[FormFieldOut] = Field(description="the fields an ad-hoc form may ask for")


class PlanTargetOut(ResponseModel):
    kind: Literal["community", "grid", "residents"]
    community: str | None
    grid: str | None
    profile_ids: list[str]


class KnownValueOut(ResponseModel):
    """A field the hub already holds, as the profile view shows it."""

    field: str
    label: str
    value: str | list[str]
    masked: bool
    source: str
    record_id: str
    observed_at: Timestamp


class PlannedResidentOut(ResponseModel):
    profile_id: str
    name: str | None
    known: list[KnownValueOut]
    missing: list[str]
    disputed: list[str] = Field(description="missing because an open objection says the held value is wrong")


class PlanOut(ResponseModel):
    form: FormOut
    target: PlanTargetOut
    residents: list[PlannedResidentOut]
    requested: int
    known: int
    missing: int
    share_known: float = Field(description="the share of requested fields not asked again")
    min_age: int | None
    left_out: dict[str, int] = Field(description="residents left out, by reason (deceased, under_min_age)")


class AnswersTakenOut(ResponseModel):
    """``rows == empty + read``, ``read == events + unchanged + dead_letters``."""

    source: str
    batch_id: str
    rows: int
    empty: int
    read: int
    events: int
    unchanged: int
    dead_letters: int
    residents: list[str]
    changed_known_cells: int
    not_carried: dict[str, int]
