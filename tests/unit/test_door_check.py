"""What a door check (入户核实) is and what news a record carries (core.door_check): one reading for
the place derivation, survivorship and the planner, and the community mapping spells it the same."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from connectors.spec import ConnectorSpec
from core.door_check import (
    AT_DOOR,
    SETTLED_FIELD,
    VERIFICATION_FIELD,
    VISITED_ON_FIELD,
    checked_on,
    is_door_check,
    latest_news,
)
from core.planner import DOOR_CHECK
from core.profile import default_rules
from onceonly.settings import PROJECT_ROOT
from schemas.resident import ResidentRecord

JUNE, MARCH = date(2026, 6, 20), date(2026, 3, 1)


def _visit(verification: str | None, **dates: date) -> ResidentRecord:
    return ResidentRecord(source="community", record_id="ZF-1", observed_at=datetime(2026, 7, 1, tzinfo=UTC),
                          attributes={"verification": verification} if verification else {}, **dates)


def test_only_a_visit_verified_at_the_door_is_a_door_check_and_it_is_dated_by_its_visit() -> None:
    assert is_door_check(_visit(AT_DOOR)) and checked_on(_visit(AT_DOOR, seen_on=JUNE)) == JUNE
    assert not is_door_check(_visit("by_phone", seen_on=JUNE)) and checked_on(_visit("by_phone", seen_on=JUNE)) is None
    assert checked_on(_visit(None, seen_on=JUNE)) is None  # a routine visit
    assert checked_on(_visit(AT_DOOR)) is None  # undated: settles nothing


@pytest.mark.parametrize(("changed", "checked", "news"), [
    (MARCH, JUNE, JUNE), (JUNE, MARCH, JUNE), (MARCH, None, MARCH), (None, JUNE, JUNE), (None, None, None),
    ("2026-03-01", "2026-06-20", "2026-06-20"), ("2026-06-20", None, "2026-06-20")])
def test_a_records_news_is_the_later_of_its_registers_change_and_its_door_check(
        changed: Any, checked: Any, news: Any) -> None:  # dates, or ISO days as stored candidates hold them
    assert latest_news(changed, checked) == news


def test_the_community_mapping_and_the_planner_spell_the_door_check_fields_as_the_core_does() -> None:
    spec = ConnectorSpec.load(PROJECT_ROOT / "mappings" / "community.yaml")
    mapping = spec.field_mapping()
    assert mapping is not None
    assert mapping.columns(VERIFICATION_FIELD) == ("核实方式",)
    assert mapping.columns(VISITED_ON_FIELD) == mapping.columns("seen_on") == ("走访日期",)  # checked_on reads seen_on
    assert mapping.codes[VERIFICATION_FIELD]["入户核实"] == AT_DOOR
    assert set(DOOR_CHECK) == {SETTLED_FIELD, VERIFICATION_FIELD, VISITED_ON_FIELD}
    assert default_rules().rule_for(SETTLED_FIELD).settled_at_door
