"""What the places topic carries besides the grid centre's standard addresses (which travel as
:class:`schemas.record_events.RecordStandardised`): a steward's correction of the gazetteer."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from schemas.codec import register


class PlaceAssignmentCorrected(BaseModel):
    """A steward assigned a place key (a building, compound or door number) to a community and
    grid, or withdrew an earlier correction (``community`` is ``None``)."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    place_key: str = Field(min_length=3, max_length=200)
    community: str | None = Field(default=None, max_length=100)
    grid: str | None = Field(default=None, max_length=100)
    steward: str
    reason: str = Field(default="", max_length=500)
    occurred_at: datetime


register(PlaceAssignmentCorrected)
