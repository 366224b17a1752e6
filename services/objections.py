"""Data objections (数据异议), the use cases: raise, answer, withdraw, the hub's sweep (close after a
correction at source, escalate when overdue), what each role may see, and replay of the topic.

Each decision runs under the objections' writer lock: read the objection, make its events
(:mod:`core.objections`), publish them to the objections topic and wait for the broker, then apply
them to the store in the same transaction. The topic is the truth (replay rebuilds the table from
it); the caller reads its own decision at once. Broker down: nothing is applied, the caller is told.
Every call is audited here, whichever entry point made it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from core.access import AccessDenied, Grant, Principal, may_see_community, visibility
from core.access.masking import mask_value
from core.objections import (
    Actor,
    DuePolicy,
    Objection,
    ObjectionError,
    answer,
    raise_objection,
    replay,
    sweep,
    withdraw,
)
from core.planner.fields import UnknownField, check_field, read_field
from core.privacy import keyed_hash, redact
from core.profile.survivorship import SurvivorshipRules, default_rules
from schemas.objection_events import Answer, ObjectionClosed, ObjectionEscalated, ObjectionEvent
from services.ports import Auditor
from store.objections import ObjectionStore
from store.profile_lookup import active_profiles

__all__ = ["AnswerFile", "ObjectionService", "Swept", "UnknownObjection", "load_policy"]

POLICY_FILE = Path(__file__).resolve().parent.parent / "config" / "objections.yaml"
PURPOSE = "数据异议"


class UnknownObjection(LookupError):
    """No such objection that the caller may see (the same answer for both)."""


def load_policy(path: Path = POLICY_FILE) -> DuePolicy:
    if not path.is_file():
        return DuePolicy()
    return DuePolicy.from_dict(yaml.safe_load(path.read_text(encoding="utf-8")) or {})


@dataclass(frozen=True)
class AnswerFile:
    answered: int
    refused: tuple[tuple[int, str], ...]  # (row number, why)

    @property
    def rows(self) -> int:
        return self.answered + len(self.refused)


@dataclass(frozen=True)
class Swept:
    closed: int
    escalated: int


class ObjectionService:
    def __init__(self, store: ObjectionStore, publish: Callable[[Sequence[tuple[str, BaseModel]]], None], audit: Auditor, *,
                 digest_key: str, grants: Mapping[str, Grant] | None = None, policy: DuePolicy | None = None,
                 rules: SurvivorshipRules | None = None, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.publish = publish  # [(objection id, event)] → the objections topic, in order, acknowledged
        self.audit = audit
        self.digest_key = digest_key
        self.grants = grants or {}
        self.policy = policy or load_policy()
        self.rules = rules or default_rules()
        self.clock = clock

    # Decisions -------------------------------------------------------------------------------

    def raise_(self, principal: Principal, profile_id: str, field_name: str, reason: str,
               proposed_value: str | None = None) -> Objection:
        """A community worker (for a resident in scope) or a steward says ``field_name`` is wrong.

        Free text (the reason, a department's note) never carries an ID number: one typed into it is
        masked before it becomes an event. A proposed value is kept as given (it may be the right ID
        number) and shown masked to whoever may not see the field in clear."""
        if principal.role not in ("community_worker", "steward"):
            raise AccessDenied(f"role {principal.role} may not raise objections")
        try:
            check_field(field_name)
        except UnknownField as exc:
            raise ObjectionError(str(exc)) from exc
        found = active_profiles(self.store.engine, [profile_id]).get(profile_id)
        if found is None or not may_see_community(principal, found.community, found.grid):
            raise UnknownObjection(f"no resident profile {profile_id!r} that you may see")
        profile = found.profile
        known = read_field(profile.golden, field_name)
        if any(o.field == field_name for o in self.store.open_on([profile.profile_id]).get(profile.profile_id, [])):
            raise ObjectionError(f"an objection on {field_name} of this resident is already open")
        actor = Actor(principal.username, principal.role, self.clock())
        with self.store.locked() as conn:
            events = raise_objection(profile_id=profile.profile_id, field_name=field_name, community=found.community,
                                     reason=redact(reason), proposed_value=proposed_value,
                                     disputed_digest=self._digest(field_name, known.value if known else None),
                                     disputed_source=known.source if known else None,
                                     disputed_record_id=known.record_id if known else None,
                                     actor=actor, policy=self.policy, rules=self.rules)
            self._commit(conn, events)
        self.audit.append(principal, "raise_objection", PURPOSE, [profile.profile_id], [field_name])
        return self._get(events[0].objection_id)

    def answer(self, principal: Principal, objection_id: str, reply: Answer, note: str = "",
               suggested_department: str | None = None) -> Objection:
        """The department the objection waits on answers (through its token; a steward may answer
        for it): corrected at source, confirmed with a reason, or not ours."""
        current = self._visible(principal, objection_id)
        if principal.role == "department_reader":
            department = principal.department or ""
        elif principal.role == "steward":
            department = current.department or ""
        else:
            raise AccessDenied(f"role {principal.role} may not answer objections")
        actor = Actor(principal.username, principal.role, self.clock())
        with self.store.locked() as conn:
            current = self.store.load(conn, [objection_id])[objection_id]
            events = answer(current, department=department, reply=reply, note=redact(note),
                            suggested=suggested_department,
                            actor=actor, policy=self.policy, rules=self.rules)
            self._commit(conn, events)
        self.audit.append(principal, "answer_objection", PURPOSE, [current.profile_id], [current.field, f"answer={reply}"])
        return self._get(objection_id)

    def answer_file(self, principal: Principal, rows: Iterable[Mapping[str, str]]) -> AnswerFile:
        """A department's answers as rows of its feed file (``objection_id``, ``answer``, ``note``,
        ``suggested_department``): each row answered, or refused with its reason; the counts add up
        (rows = answered + refused)."""
        answered, refused = 0, []
        for number, row in enumerate(rows, start=2):  # row 1 is the header
            oid = (row.get("objection_id") or "").strip()
            reply = (row.get("answer") or "").strip()
            try:
                if reply not in ("corrected", "confirmed", "not_ours"):
                    raise ObjectionError(f"answer must be corrected, confirmed or not_ours, not {reply[:20]!r}")
                self.answer(principal, oid, reply, (row.get("note") or "").strip()[:500],  # type: ignore[arg-type]
                            (row.get("suggested_department") or "").strip() or None)
                answered += 1
            except (ObjectionError, UnknownObjection, AccessDenied) as exc:
                refused.append((number, str(exc)))
        return AnswerFile(answered=answered, refused=tuple(refused))

    def withdraw(self, principal: Principal, objection_id: str, note: str = "") -> Objection:
        current = self._visible(principal, objection_id)
        if principal.role != "steward" and principal.username != current.raised_by:
            raise AccessDenied("only the one who raised an objection, or a steward, may withdraw it")
        actor = Actor(principal.username, principal.role, self.clock())
        with self.store.locked() as conn:
            current = self.store.load(conn, [objection_id])[objection_id]
            self._commit(conn, withdraw(current, note=redact(note), actor=actor))
        self.audit.append(principal, "withdraw_objection", PURPOSE, [current.profile_id], [current.field])
        return self._get(objection_id)

    def sweep(self) -> Swept:
        """Move the open objections of a merged-away profile to the survivor; close those whose
        disputed value is no longer the profile's (the source corrected it and the new version was
        resolved); escalate those past due. Safe to run often,
        from any number of processes (a worker's timer, the CLI)."""
        now = self.clock()
        closed = escalated = 0
        with self.store.locked() as conn:
            pending = self.store.all_open(conn)
            current = active_profiles(self.store.engine, {o.profile_id for o in pending})
            events: list[ObjectionEvent] = []
            for objection in pending:
                found = current.get(objection.profile_id)
                if found is None:
                    continue  # not projected (yet): nothing to compare with
                known = read_field(found.profile.golden, objection.field)
                made = sweep(objection, digest=self._digest(objection.field, known.value if known else None),
                             source=known.source if known else None, record_id=known.record_id if known else None,
                             today=now.date(), at=now, profile_id=found.profile.profile_id)
                closed += sum(isinstance(e, ObjectionClosed) for e in made)
                escalated += sum(isinstance(e, ObjectionEscalated) for e in made)
                events.extend(made)
            self._commit(conn, events)
        return Swept(closed=closed, escalated=escalated)

    def replay(self, events: Iterable[ObjectionEvent]) -> int:
        """Rebuild the objections table from the topic's events (log order); returns how many applied."""
        with self.store.locked() as conn:
            self.store.clear(conn)
            return self.store.apply(conn, events)

    def matches_log(self, events: Iterable[ObjectionEvent]) -> bool:
        """Whether the table is the fold of the topic's ``events`` (every objection, its last
        event and its state)."""
        folded = replay(events)
        return sorted((o.objection_id, o.seq, o.status) for o in folded.values()) == self.store.checksum_rows()

    # Reading ---------------------------------------------------------------------------------

    def for_principal(self, principal: Principal, *, status: str | None = "open", escalated: bool | None = None,
                      limit: int = 200) -> list[dict[str, Any]]:
        """The objections this caller may see: a steward all, a community worker those of their
        communities, a department those routed to it (its own data: the proposed value masked
        unless its grant shows the field in clear)."""
        if principal.role == "steward":
            found = self.store.find(status=status, escalated=escalated, limit=limit)
        elif principal.role == "community_worker":
            found = self.store.find(communities=principal.communities | _grid_communities(principal), status=status,
                                    escalated=escalated, limit=limit)
        elif principal.role == "department_reader":
            found = self.store.find(department=principal.department or "", status=status, escalated=escalated,
                                    limit=limit)
        else:
            raise AccessDenied(f"role {principal.role} may not read objections")
        self.audit.append(principal, "read_objections", PURPOSE, sorted({o.profile_id for o in found}),
                          sorted({o.field for o in found}))
        return [self.view(o, principal) for o in found]

    def one(self, principal: Principal, objection_id: str) -> dict[str, Any]:
        objection = self._visible(principal, objection_id)
        self.audit.append(principal, "read_objections", PURPOSE, [objection.profile_id], [objection.field])
        return self.view(objection, principal)

    def open_on(self, profile_ids: list[str]) -> dict[str, list[Objection]]:
        """Open objections per profile (the profile page and the planner mark those fields 有异议)."""
        return self.store.open_on(profile_ids)

    def view(self, objection: Objection, principal: Principal, today: date | None = None) -> dict[str, Any]:
        shown = visibility(principal, objection.field, grants=self.grants)
        proposed = objection.proposed_value
        if proposed is not None and shown != "shown":
            proposed = mask_value(objection.field, proposed)
        today = today or self.clock().date()
        return {"objection_id": objection.objection_id, "profile_id": objection.profile_id, "field": objection.field,
                "community": objection.community, "reason": objection.reason, "proposed_value": proposed,
                "status": objection.status, "awaiting": objection.awaiting, "department": objection.department,
                "due_on": objection.due_on.isoformat() if objection.due_on else None,
                "overdue": objection.overdue(today), "escalated": objection.escalated_at is not None,
                "answer": objection.answer, "answer_note": objection.answer_note, "outcome": objection.outcome,
                "closing_note": objection.closing_note, "raised_by": objection.raised_by,
                "raised_at": objection.raised_at.isoformat(), "routed_to": list(objection.routed_to),
                "new_source": objection.new_source, "new_record_id": objection.new_record_id,
                "history": [step.model_dump(mode="json") for step in objection.history]}

    # Internals -------------------------------------------------------------------------------

    def _visible(self, principal: Principal, objection_id: str) -> Objection:
        objection = self.store.get(objection_id)
        if objection is None or not self._may_see(principal, objection):
            raise UnknownObjection(f"no objection {objection_id!r} that you may see")
        return objection

    def _may_see(self, principal: Principal, objection: Objection) -> bool:
        if principal.role == "steward":
            return True
        if principal.role == "community_worker":
            return objection.community is not None and objection.community in (
                principal.communities | _grid_communities(principal))
        if principal.role == "department_reader":
            return principal.department is not None and principal.department in objection.routed_to
        return False

    def _commit(self, conn: Any, events: list[ObjectionEvent]) -> None:
        self.publish([(event.objection_id, event) for event in events])
        self.store.apply(conn, events)

    def _get(self, objection_id: str) -> Objection:
        found = self.store.get(objection_id)
        assert found is not None
        return found

    def _digest(self, field_name: str, value: str | None) -> str:
        return keyed_hash(f"{field_name}\x1f{value if value is not None else ''}", self.digest_key)


def _grid_communities(principal: Principal) -> frozenset[str]:
    return frozenset(grid.split("/", 1)[0] for grid in principal.grids)
