"""The objections topic (数据异议): a profile field said to be wrong, and what became of it.

One objection's life is a sequence of events keyed by its id: raised, routed to the department
that holds the disputed value, answered by that department (corrected at source, confirmed, not
ours), escalated when overdue, moved along when the resident's profile merges, closed. ``seq`` numbers an objection's events 1, 2, 3 …, so a
consumer applies each once and in order (:mod:`core.objections`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.codec import register

__all__ = ["Answer", "ObjectionAnswered", "ObjectionClosed", "ObjectionEscalated", "ObjectionEvent",
           "ObjectionFollowed", "ObjectionRaised", "ObjectionRouted", "Outcome"]

Answer = Literal["corrected", "confirmed", "not_ours"]
Outcome = Literal["corrected_at_source", "confirmed", "withdrawn"]


class ObjectionEvent(BaseModel):
    """The envelope shared by every objection event."""

    model_config = ConfigDict(frozen=True)

    event_id: str = Field(min_length=8, max_length=80)
    objection_id: str = Field(min_length=8, max_length=64)
    seq: int = Field(ge=1)
    occurred_at: datetime
    actor: str = Field(max_length=100)  # a username, or "hub" for what the hub did on its own
    actor_role: str = Field(max_length=32)


class ObjectionRaised(ObjectionEvent):
    """A community worker or a steward says a profile field is wrong."""

    profile_id: str = Field(max_length=64)
    field: str = Field(max_length=100)
    community: str | None = Field(default=None, max_length=100)  # the resident's, when raised (scope)
    reason: str = Field(min_length=2, max_length=500)
    proposed_value: str | None = Field(default=None, max_length=200)
    # The value disputed, as a keyed digest (it may be an ID number), and where it came from.
    disputed_digest: str = Field(max_length=64)
    disputed_source: str | None = Field(default=None, max_length=64)
    disputed_record_id: str | None = Field(default=None, max_length=200)


class ObjectionRouted(ObjectionEvent):
    """Sent to a department to verify, with the date its answer is due."""

    department: str = Field(max_length=64)
    due_on: date
    basis: str = Field(max_length=200)  # why this department: it holds the value, or a re-routing


class ObjectionAnswered(ObjectionEvent):
    """The department's answer: corrected at its source, confirmed (with a reason), or not its field."""

    department: str = Field(max_length=64)
    answer: Answer
    note: str = Field(default="", max_length=500)
    suggested_department: str | None = Field(default=None, max_length=64)


class ObjectionFollowed(ObjectionEvent):
    """The resident's profile was merged into another: the objection follows it to the survivor."""

    profile_id: str = Field(max_length=64)


class ObjectionEscalated(ObjectionEvent):
    """Not answered (or not corrected) by its due date: on the stewards' pages."""

    department: str = Field(max_length=64)
    due_on: date


class ObjectionClosed(ObjectionEvent):
    """Done: the disputed value is gone from the profile, the department confirmed it, or withdrawn."""

    outcome: Outcome
    note: str = Field(default="", max_length=500)
    # After a correction at source: the record version that replaced the disputed value.
    new_source: str | None = Field(default=None, max_length=64)
    new_record_id: str | None = Field(default=None, max_length=200)


register(ObjectionRaised, ObjectionRouted, ObjectionAnswered, ObjectionEscalated, ObjectionFollowed, ObjectionClosed)
