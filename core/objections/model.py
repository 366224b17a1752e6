"""An objection's state: the fold of its events (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from schemas.objection_events import (
    Answer,
    ObjectionAnswered,
    ObjectionClosed,
    ObjectionEscalated,
    ObjectionEvent,
    ObjectionFollowed,
    ObjectionRaised,
    ObjectionRouted,
    Outcome,
)

__all__ = ["Objection", "ObjectionError", "Step", "apply", "replay"]

Status = Literal["open", "closed"]


class ObjectionError(ValueError):
    """An event or a decision that does not fit the objection's state; names no resident data."""


class Step(BaseModel):
    """One line of an objection's history."""

    model_config = ConfigDict(frozen=True)

    seq: int
    kind: Literal["raised", "routed", "answered", "escalated", "followed", "closed"]
    at: datetime
    actor: str
    actor_role: str
    department: str | None = None
    detail: str = ""


class Objection(BaseModel):
    """Where one objection stands."""

    model_config = ConfigDict(frozen=True)

    objection_id: str
    profile_id: str
    field: str
    community: str | None
    reason: str
    proposed_value: str | None
    disputed_digest: str
    disputed_source: str | None
    disputed_record_id: str | None
    raised_by: str
    raised_at: datetime
    seq: int
    status: Status = "open"
    department: str | None = None  # whose turn it is
    due_on: date | None = None
    routed_to: tuple[str, ...] = ()  # every department it was sent to, in order
    answer: Answer | None = None
    answer_note: str = ""
    answered_at: datetime | None = None
    escalated_at: datetime | None = None
    outcome: Outcome | None = None
    closed_at: datetime | None = None
    closing_note: str = ""
    new_source: str | None = None
    new_record_id: str | None = None
    history: tuple[Step, ...] = ()

    def overdue(self, today: date) -> bool:
        """Open, and its department's answer (or its correction) is late."""
        return self.status == "open" and self.due_on is not None and today > self.due_on

    @property
    def awaiting(self) -> str:
        """What the objection waits for, in a worker's words."""
        if self.status == "closed":
            return "已办结"
        if self.answer == "corrected":
            return "部门已更正，待新数据到达"
        return "待部门核实"


def apply(current: Objection | None, event: ObjectionEvent) -> Objection:
    """The state after ``event``; raises :class:`ObjectionError` when it is not the next one."""
    if current is None:
        if not isinstance(event, ObjectionRaised) or event.seq != 1:
            raise ObjectionError(f"objection {event.objection_id}: its first event must be the raising (seq 1)")
        return Objection(objection_id=event.objection_id, profile_id=event.profile_id, field=event.field,
                         community=event.community, reason=event.reason, proposed_value=event.proposed_value,
                         disputed_digest=event.disputed_digest, disputed_source=event.disputed_source,
                         disputed_record_id=event.disputed_record_id, raised_by=event.actor,
                         raised_at=event.occurred_at, seq=1,
                         history=(_step(event, "raised", detail=event.reason),))
    if event.objection_id != current.objection_id:
        raise ObjectionError(f"event for {event.objection_id} applied to {current.objection_id}")
    if event.seq != current.seq + 1:
        raise ObjectionError(f"objection {current.objection_id}: event {event.seq} after {current.seq}")
    if current.status == "closed":
        raise ObjectionError(f"objection {current.objection_id} is closed")
    update: dict[str, object] = {"seq": event.seq}
    if isinstance(event, ObjectionRouted):
        update |= {"department": event.department, "due_on": event.due_on, "answer": None, "answer_note": "",
                   "answered_at": None, "escalated_at": None, "routed_to": (*current.routed_to, event.department)}
        step = _step(event, "routed", event.department, event.basis)
    elif isinstance(event, ObjectionAnswered):
        update |= {"answer": event.answer, "answer_note": event.note, "answered_at": event.occurred_at}
        step = _step(event, "answered", event.department, f"{event.answer}: {event.note}".rstrip(": "))
    elif isinstance(event, ObjectionEscalated):
        update |= {"escalated_at": event.occurred_at}
        step = _step(event, "escalated", event.department, f"due {event.due_on.isoformat()}")
    elif isinstance(event, ObjectionFollowed):
        update |= {"profile_id": event.profile_id}
        step = _step(event, "followed", current.department, f"merged into {event.profile_id}")
    elif isinstance(event, ObjectionClosed):
        update |= {"status": "closed", "outcome": event.outcome, "closed_at": event.occurred_at,
                   "closing_note": event.note, "new_source": event.new_source, "new_record_id": event.new_record_id}
        step = _step(event, "closed", current.department, f"{event.outcome}: {event.note}".rstrip(": "))
    else:
        raise ObjectionError(f"objection {current.objection_id}: unexpected {type(event).__name__}")
    update["history"] = (*current.history, step)
    return current.model_copy(update=update)


def replay(events: Iterable[ObjectionEvent]) -> dict[str, Objection]:
    """Objection id → state, from events in log order; an event seen before (a resend) is skipped."""
    state: dict[str, Objection] = {}
    for event in events:
        current = state.get(event.objection_id)
        if current is not None and event.seq <= current.seq:
            continue
        state[event.objection_id] = apply(current, event)
    return state


def _step(event: ObjectionEvent, kind: str, department: str | None = None, detail: str = "") -> Step:
    return Step(seq=event.seq, kind=kind, at=event.occurred_at, actor=event.actor,
                actor_role=event.actor_role, department=department, detail=detail)
