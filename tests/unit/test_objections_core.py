"""The objections' pure core: routing by holder and authority, each answer, the hub's sweep, the
fold's order checks and the due-date policy."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from core.objections import (
    Actor,
    DuePolicy,
    Objection,
    ObjectionError,
    answer,
    apply,
    raise_objection,
    replay,
    route,
    sweep,
    withdraw,
)
from core.profile.survivorship import default_rules
from schemas.codec import decode, encode
from schemas.objection_events import (
    ObjectionClosed,
    ObjectionEscalated,
    ObjectionEvent,
    ObjectionRaised,
    ObjectionRouted,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
RULES = default_rules()
POLICY = DuePolicy(default_days=15, days={"public_security": 10})


def raised(field: str = "name", holder: str | None = "civil_affairs", digest: str = "d1") -> list[ObjectionEvent]:
    return raise_objection(profile_id="p-1", field_name=field, community="秦虹社区", reason="写错了",
                           proposed_value="王小明", disputed_digest=digest, disputed_source=holder,
                           disputed_record_id="MZ-1", actor=Actor("worker", "community_worker", T0),
                           policy=POLICY, rules=RULES)


def state(events: list[ObjectionEvent]) -> Objection:
    return replay(events)[events[0].objection_id]


def test_raising_routes_to_the_department_holding_the_value_with_its_due_date() -> None:
    events = raised()
    assert [type(e) for e in events] == [ObjectionRaised, ObjectionRouted]
    routed = events[1]
    assert isinstance(routed, ObjectionRouted)
    assert routed.department == "civil_affairs" and routed.due_on == date(2026, 12, 16)
    assert [e.seq for e in events] == [1, 2]
    # no holder (the field is empty): the field's first authority, with its own due days
    empty = raised(holder=None)[1]
    assert isinstance(empty, ObjectionRouted)
    assert empty.department == "public_security" and empty.due_on == date(2026, 12, 11)
    # assistance is civil affairs' alone
    assert route("attributes.assistance", None, RULES) == ("civil_affairs", "the field's authoritative source "
                                                                           "(survivorship rules)")


def test_events_survive_the_codec() -> None:
    for event in raised():
        assert decode(encode(event)) == event


def test_confirmed_needs_a_reason_and_closes() -> None:
    current = state(raised())
    worker = Actor("mz", "department_reader", T0 + timedelta(days=1))
    with pytest.raises(ObjectionError, match="reason"):
        answer(current, department="civil_affairs", reply="confirmed", note="", suggested=None, actor=worker,
               policy=POLICY, rules=RULES)
    with pytest.raises(ObjectionError, match="another department"):
        answer(current, department="housing", reply="confirmed", note="无误", suggested=None, actor=worker,
               policy=POLICY, rules=RULES)
    events = answer(current, department="civil_affairs", reply="confirmed", note="核对无误", suggested=None,
                    actor=worker, policy=POLICY, rules=RULES)
    closed = apply(apply(current, events[0]), events[1])
    assert closed.status == "closed" and closed.outcome == "confirmed" and closed.answer_note == "核对无误"
    with pytest.raises(ObjectionError, match="closed"):
        withdraw(closed, note="", actor=worker)


def test_not_ours_goes_to_the_suggestion_then_down_the_authority_order_then_escalates() -> None:
    events = raised()
    current = state(events)
    asked = [current.department]
    for step in range(12):
        assert current.department is not None
        reply = answer(current, department=current.department, reply="not_ours", note="", actor=Actor(
            "d", "department_reader", T0), suggested="housing" if step == 0 else None, policy=POLICY, rules=RULES)
        for event in reply:
            current = apply(current, event)
        if isinstance(reply[-1], ObjectionEscalated):
            break
        asked.append(current.department)
    assert asked[:2] == ["civil_affairs", "housing"]
    assert len(asked) == len(set(asked)) == len(RULES.rule_for("name").authority)
    assert current.status == "open" and current.escalated_at is not None


def test_the_sweep_closes_once_the_value_changed_and_escalates_once_when_late() -> None:
    current = state(raised(digest="old"))
    assert sweep(current, digest="old", source="civil_affairs", record_id="MZ-1", today=date(2026, 12, 2), at=T0) == []
    late = sweep(current, digest="old", source="civil_affairs", record_id="MZ-1", today=date(2026, 12, 17), at=T0)
    assert [type(e) for e in late] == [ObjectionEscalated]
    escalated = apply(current, late[0])
    assert sweep(escalated, digest="old", source=None, record_id=None, today=date(2026, 12, 30), at=T0) == []
    done = sweep(escalated, digest="new", source="civil_affairs", record_id="MZ-1", today=date(2026, 12, 30), at=T0)
    assert isinstance(done[0], ObjectionClosed) and done[0].outcome == "corrected_at_source"
    assert done[0].new_record_id == "MZ-1"


def test_the_fold_refuses_gaps_and_skips_resends() -> None:
    events = raised()
    with pytest.raises(ObjectionError):
        apply(None, events[1])
    first = apply(None, events[0])
    with pytest.raises(ObjectionError):
        apply(first, events[0])
    assert replay([events[0], events[0], events[1], events[1]])[events[0].objection_id].seq == 2


def test_the_policy_reads_its_file_shape_and_refuses_nonsense() -> None:
    policy = DuePolicy.from_dict({"default_days": 7, "departments": {"housing": {"days": 20}, "community": 3}})
    assert policy.days == {"housing": 20, "community": 3} and policy.due_on("other", T0) == date(2026, 12, 8)
    with pytest.raises(ValueError):
        DuePolicy.from_dict({"default_days": 0})
    with pytest.raises(ValueError):
        DuePolicy.from_dict({"departments": {"housing": {"days": "soon"}}})


def test_the_sweep_moves_an_objection_to_the_survivor_of_a_merge_before_closing_it() -> None:
    current = state(raised(digest="old"))
    made = sweep(current, digest="new", source="civil_affairs", record_id="MZ-1", today=date(2026, 12, 2), at=T0,
                 profile_id="p-0")
    assert [type(e).__name__ for e in made] == ["ObjectionFollowed", "ObjectionClosed"]
    after = apply(apply(current, made[0]), made[1])
    assert after.profile_id == "p-0" and after.status == "closed" and [e.seq for e in made] == [3, 4]
