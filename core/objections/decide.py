"""What happens to an objection (pure): raising and routing it, a department's answer, and what
the hub does on its own (close once the disputed value is gone, escalate once overdue).

Each function returns the events to append (none when nothing happens) and raises
:class:`core.objections.model.ObjectionError` for a decision that does not fit.

Routing: to the department whose record holds the disputed value (the source that won
survivorship for this profile, 一数一源), else to the field's first authority in the survivorship
rules; an answer "not ours" sends it on to the department the answer names, else to the next
authority not yet asked. With nobody left to ask, the objection is escalated to the stewards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from core.objections.model import Objection, ObjectionError, apply
from core.profile.survivorship import SurvivorshipRules
from schemas.objection_events import (
    Answer,
    ObjectionAnswered,
    ObjectionClosed,
    ObjectionEscalated,
    ObjectionEvent,
    ObjectionFollowed,
    ObjectionRaised,
    ObjectionRouted,
)

__all__ = ["Actor", "DuePolicy", "answer", "objection_id", "raise_objection", "route", "sweep", "withdraw"]


@dataclass(frozen=True)
class Actor:
    name: str
    role: str
    at: datetime


HUB = "hub"


@dataclass(frozen=True)
class DuePolicy:
    """Days each department has to verify an objection (calendar days; ``config/objections.yaml``)."""

    default_days: int = 15
    days: Mapping[str, int] = field(default_factory=dict)

    def due_on(self, department: str, routed: datetime) -> date:
        return routed.date() + timedelta(days=self.days.get(department, self.default_days))

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> DuePolicy:
        default = data.get("default_days", 15)
        departments = data.get("departments") or {}
        if not isinstance(default, int) or default < 1 or not isinstance(departments, Mapping):
            raise ValueError("objections policy: default_days must be a positive whole number, departments a map")
        days: dict[str, int] = {}
        for name, entry in departments.items():
            value = entry.get("days") if isinstance(entry, Mapping) else entry
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"objections policy: {name}: days must be a positive whole number")
            days[str(name)] = value
        return cls(default_days=default, days=days)


def objection_id(profile_id: str, field_name: str, actor: Actor) -> str:
    return hashlib.sha256(f"{profile_id}\x1f{field_name}\x1f{actor.name}\x1f{actor.at.isoformat()}".encode()).hexdigest()[:24]


def route(field_name: str, holder: str | None, rules: SurvivorshipRules, *, asked: tuple[str, ...] = (),
          suggested: str | None = None) -> tuple[str, str] | None:
    """The department to ask next and why, or ``None`` when every candidate was asked."""
    authority = tuple(rules.rule_for(field_name).authority)
    if suggested and suggested not in asked:
        return suggested, "re-routed as the previous department suggested"
    if holder and holder not in asked:
        return holder, "its record holds the disputed value"
    for department in authority:
        if department not in asked:
            return department, "the field's authoritative source (survivorship rules)"
    return None


def raise_objection(*, profile_id: str, field_name: str, community: str | None, reason: str,
                    proposed_value: str | None, disputed_digest: str, disputed_source: str | None,
                    disputed_record_id: str | None, actor: Actor, policy: DuePolicy,
                    rules: SurvivorshipRules) -> list[ObjectionEvent]:
    oid = objection_id(profile_id, field_name, actor)
    raised = ObjectionRaised(event_id=_event_id(oid, 1), objection_id=oid, seq=1, occurred_at=actor.at,
                             actor=actor.name, actor_role=actor.role, profile_id=profile_id, field=field_name,
                             community=community, reason=reason, proposed_value=proposed_value or None,
                             disputed_digest=disputed_digest, disputed_source=disputed_source,
                             disputed_record_id=disputed_record_id)
    state = apply(None, raised)
    return [raised, *_send_on(state, rules, policy, Actor(HUB, "hub", actor.at))]


def answer(current: Objection, *, department: str, reply: Answer, note: str, suggested: str | None,
           actor: Actor, policy: DuePolicy, rules: SurvivorshipRules) -> list[ObjectionEvent]:
    """``department``'s answer to ``current`` (a steward may answer for the department it waits on)."""
    if current.status != "open":
        raise ObjectionError("the objection is closed")
    if department != current.department:
        raise ObjectionError("the objection waits on another department")
    if reply == "confirmed" and len(note.strip()) < 2:
        raise ObjectionError("a confirmation needs a reason the community worker can read")
    if suggested == department:
        raise ObjectionError("a department cannot re-route an objection to itself")
    seq = current.seq + 1
    answered = ObjectionAnswered(event_id=_event_id(current.objection_id, seq), objection_id=current.objection_id,
                                 seq=seq, occurred_at=actor.at, actor=actor.name, actor_role=actor.role,
                                 department=department, answer=reply, note=note,
                                 suggested_department=suggested if reply == "not_ours" else None)
    state = apply(current, answered)
    if reply == "confirmed":
        closed = ObjectionClosed(event_id=_event_id(current.objection_id, seq + 1), objection_id=current.objection_id,
                                 seq=seq + 1, occurred_at=actor.at, actor=actor.name, actor_role=actor.role,
                                 outcome="confirmed", note=note)
        return [answered, closed]
    if reply == "not_ours":
        return [answered, *_send_on(state, rules, policy, Actor(HUB, "hub", actor.at), suggested=suggested)]
    return [answered]  # corrected: closed when the corrected version arrives (see sweep)


def sweep(current: Objection, *, digest: str | None, source: str | None, record_id: str | None,
          today: date, at: datetime, profile_id: str | None = None) -> list[ObjectionEvent]:
    """What the hub does on its own: follow the resident into a merge (``profile_id``: the active
    profile now), then close once the profile no longer holds the disputed value (``digest`` is the
    current value's; ``None`` when the field is now empty), else escalate once overdue (once per
    routing)."""
    if current.status != "open":
        return []
    made: list[ObjectionEvent] = []
    seq = current.seq + 1
    if profile_id is not None and profile_id != current.profile_id:
        made.append(ObjectionFollowed(event_id=_event_id(current.objection_id, seq), objection_id=current.objection_id,
                                      seq=seq, occurred_at=at, actor=HUB, actor_role="hub", profile_id=profile_id))
        seq += 1
    if digest != current.disputed_digest:
        note = "the disputed value is no longer the profile's" + ("" if source else " (the field is now empty)")
        made.append(ObjectionClosed(event_id=_event_id(current.objection_id, seq), objection_id=current.objection_id,
                                    seq=seq, occurred_at=at, actor=HUB, actor_role="hub",
                                    outcome="corrected_at_source", note=note, new_source=source,
                                    new_record_id=record_id))
    elif current.overdue(today) and current.escalated_at is None and current.department and current.due_on:
        made.append(ObjectionEscalated(event_id=_event_id(current.objection_id, seq),
                                       objection_id=current.objection_id, seq=seq, occurred_at=at, actor=HUB,
                                       actor_role="hub", department=current.department, due_on=current.due_on))
    return made


def _send_on(state: Objection, rules: SurvivorshipRules, policy: DuePolicy, hub: Actor,
             suggested: str | None = None) -> list[ObjectionEvent]:
    seq = state.seq + 1
    target = route(state.field, state.disputed_source, rules, asked=state.routed_to, suggested=suggested)
    if target is None:  # nobody left to ask: the stewards decide
        return [ObjectionEscalated(event_id=_event_id(state.objection_id, seq), objection_id=state.objection_id,
                                   seq=seq, occurred_at=hub.at, actor=hub.name, actor_role=hub.role,
                                   department=state.department or "", due_on=state.due_on or hub.at.date())]
    department, basis = target
    return [ObjectionRouted(event_id=_event_id(state.objection_id, seq), objection_id=state.objection_id, seq=seq,
                            occurred_at=hub.at, actor=hub.name, actor_role=hub.role, department=department,
                            due_on=policy.due_on(department, hub.at), basis=basis)]


def _event_id(objection: str, seq: int) -> str:
    return hashlib.sha256(f"{objection}\x1f{seq}".encode()).hexdigest()[:32]


def withdraw(current: Objection, *, note: str, actor: Actor) -> list[ObjectionEvent]:
    """The one who raised it (or a steward) takes it back."""
    if current.status != "open":
        raise ObjectionError("the objection is closed")
    seq = current.seq + 1
    return [ObjectionClosed(event_id=_event_id(current.objection_id, seq), objection_id=current.objection_id, seq=seq,
                            occurred_at=actor.at, actor=actor.name, actor_role=actor.role, outcome="withdrawn",
                            note=note)]
