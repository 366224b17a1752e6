"""Survivorship of the residential address (现住址) agrees with the door check (入户核实) that
places the resident's community: the latest check outranks every record with no news since, and a
register that changes its row after it competes with it again."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from core.door_check import AT_DOOR
from core.places import Assignment, candidates, derive_place
from core.profile import SurvivorshipRules, default_rules, replay, survive
from core.standardise.addresses import parse_address
from schemas.profile_events import LinkedRecord, ProfileCreated, RecordLinked
from schemas.resident import ResidentRecord

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NEW_FLAT, OLD_FLAT, THIRD_FLAT = "中和村10号中和村小区9幢1单元501室", "瑞金北村19幢2单元502室", "秦虹小区3幢2单元301室"
JUNE_CHECK = date(2026, 6, 20)


def linked(source: str, record_id: str, address: str, *, day: int = 0, at_door: bool = False,
           **fields: Any) -> LinkedRecord:
    """A record observed on day ``day`` of 2026 giving ``address`` as where the resident lives."""
    fields.setdefault("addresses", {"residential": parse_address(address)})
    record = ResidentRecord(source=source, record_id=record_id, observed_at=T0 + timedelta(days=day), name="王芳",
                            attributes={"verification": AT_DOOR} if at_door else {}, **fields)
    return LinkedRecord(record=record, rule="id_number", score=1.0, linked_at=record.observed_at)


def door_check(record_id: str = "HS-1", address: str = NEW_FLAT, seen_on: date = JUNE_CHECK) -> LinkedRecord:
    return linked("community", record_id, address, day=10, at_door=True, seen_on=seen_on)


def residence(records: list[LinkedRecord]) -> tuple[str, str, str]:
    """The golden residential address: its text, source and record id."""
    golden = survive(records).residential_address
    assert golden is not None
    return golden.value.raw, golden.provenance.source, golden.provenance.record_id


def test_the_at_door_value_is_the_one_the_community_mapping_gives() -> None:
    import yaml

    from onceonly.settings import PROJECT_ROOT

    def codes(node: Any) -> Any:  # the mapping's `codes` table, wherever the file nests it
        if isinstance(node, dict):
            if "codes" in node:
                return node["codes"]
            return next((found for v in node.values() if (found := codes(v)) is not None), None)
        return None

    mapping = yaml.safe_load((PROJECT_ROOT / "mappings" / "community.yaml").read_text(encoding="utf-8"))
    assert codes(mapping)["attributes.verification"]["入户核实"] == AT_DOOR


def test_without_a_check_the_latest_filed_community_record_survives() -> None:
    # the June visit was not verified at the door: authority, then recency (of filing) decide
    records = [linked("public_security", "GA-1", OLD_FLAT, day=30, changed_on=date(2026, 1, 5)),
               linked("community", "ZF-1", OLD_FLAT, day=20, seen_on=date(2026, 3, 2)),
               linked("community", "ZF-2", NEW_FLAT, day=5, seen_on=JUNE_CHECK)]
    assert residence(records) == (OLD_FLAT, "community", "ZF-1")


def test_a_door_check_after_a_public_security_row_makes_the_checked_address_golden() -> None:
    records = [linked("public_security", "GA-1", OLD_FLAT, day=30, changed_on=date(2026, 1, 5)),
               linked("social_security", "SB-1", OLD_FLAT, day=40),  # undated: settled too
               linked("community", "ZF-1", OLD_FLAT, day=20, seen_on=date(2026, 3, 2)),  # an older, newer-filed visit
               door_check()]
    assert residence(records) == (NEW_FLAT, "community", "HS-1")
    golden = survive(records).residential_address
    assert golden is not None
    assert not golden.conflicted and golden.conflicts == ()  # settled at the door: nothing left to contest
    assert golden.provenance.observed_at == T0 + timedelta(days=10)


def test_a_public_security_row_changed_after_the_check_competes_again() -> None:
    # with the community first in the order, the check still wins, but the later change is a conflict
    records = [linked("public_security", "GA-1", OLD_FLAT, changed_on=date(2026, 1, 5)), door_check(),
               linked("public_security", "GA-2", THIRD_FLAT, day=30, changed_on=date(2026, 8, 3))]
    golden = survive(records).residential_address
    assert golden is not None and golden.provenance.record_id == "HS-1"
    assert [(c.provenance.record_id, c.value.raw) for c in golden.conflicts] == [("GA-2", THIRD_FLAT)]
    assert "GA-1" not in {c.provenance.record_id for c in golden.conflicts}


def test_a_public_security_row_changed_after_the_check_wins_where_it_outranks_the_community() -> None:
    rules = SurvivorshipRules.model_validate({
        "version": "t", "default": {"authority": ["public_security", "community"]},
        "fields": {"residential_address": {"authority": ["public_security", "community"], "settled_at_door": True}}})
    before = [linked("public_security", "GA-1", OLD_FLAT, day=30, changed_on=date(2026, 1, 5)), door_check()]
    golden = survive(before, rules).residential_address
    assert golden is not None and golden.provenance.record_id == "HS-1"  # settled, though public security outranks it

    after = [*before, linked("public_security", "GA-2", THIRD_FLAT, day=40, changed_on=date(2026, 8, 3))]
    golden = survive(after, rules).residential_address
    assert golden is not None
    assert (golden.value.raw, golden.provenance.source, golden.provenance.record_id) == (
        THIRD_FLAT, "public_security", "GA-2")
    assert [c.provenance.record_id for c in golden.conflicts] == ["HS-1"]


def test_a_registers_change_on_the_day_of_the_check_does_not_overturn_it() -> None:
    rules = SurvivorshipRules.model_validate({
        "version": "t", "default": {"authority": ["public_security", "community"]},
        "fields": {"residential_address": {"authority": ["public_security", "community"], "settled_at_door": True}}})
    records = [door_check(), linked("public_security", "GA-2", OLD_FLAT, day=40, changed_on=JUNE_CHECK)]
    golden = survive(records, rules).residential_address
    assert golden is not None and golden.provenance.record_id == "HS-1"


def test_a_later_routine_visit_does_not_overturn_the_check() -> None:
    # the visit's form was pre-filled with the old flat; it is newer, but no door check
    records = [door_check(), linked("community", "ZF-2", OLD_FLAT, day=60, seen_on=date(2026, 9, 1))]
    assert residence(records) == (NEW_FLAT, "community", "HS-1")


def test_a_later_door_check_settles_an_earlier_one() -> None:
    records = [door_check("HS-2", THIRD_FLAT, seen_on=date(2026, 10, 8)), door_check()]
    assert residence(records) == (THIRD_FLAT, "community", "HS-2")
    assert residence(list(reversed(records))) == (THIRD_FLAT, "community", "HS-2")


def test_an_ended_door_check_settles_nothing() -> None:
    check = door_check()
    records = [linked("community", "ZF-1", OLD_FLAT, day=20, seen_on=date(2026, 3, 2)),
               check.model_copy(update={"ended_at": check.linked_at})]
    assert residence(records) == (OLD_FLAT, "community", "ZF-1")


def test_the_check_settles_only_the_residential_address() -> None:
    both = {"registered": parse_address(THIRD_FLAT), "residential": parse_address(NEW_FLAT)}
    records = [linked("public_security", "GA-1", OLD_FLAT, changed_on=date(2026, 1, 5),
                      addresses={"registered": parse_address(OLD_FLAT), "residential": parse_address(OLD_FLAT)}),
               linked("community", "HS-1", NEW_FLAT, day=10, at_door=True, seen_on=JUNE_CHECK, addresses=both)]
    golden = survive(records)
    assert golden.residential_address is not None and golden.residential_address.provenance.record_id == "HS-1"
    # the registered address (户籍) is public security's, checked at the door or not
    assert golden.registered_address is not None
    assert (golden.registered_address.provenance.record_id, golden.registered_address.value.raw) == ("GA-1", OLD_FLAT)
    assert golden.registered_address.conflicted


def test_the_shipped_rules_settle_the_residential_address_at_the_door() -> None:
    assert default_rules().rule_for("residential_address").settled_at_door
    assert not default_rules().rule_for("registered_address").settled_at_door


@pytest.mark.parametrize("fields", [{"phones": {"authority": ["community"], "settled_at_door": True}},
                                    {"attributes.*": {"authority": ["community"], "settled_at_door": True}}])
def test_settled_at_door_on_another_field_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="settled_at_door"):
        SurvivorshipRules.model_validate({"version": "t", "default": {"authority": ["a"]}, "fields": fields})
    with pytest.raises(ValidationError, match="settled_at_door"):
        SurvivorshipRules.model_validate({"version": "t", "default": {"authority": ["a"], "settled_at_door": True}})


def test_the_golden_address_and_the_placed_community_agree_after_a_check() -> None:
    gazetteer = {"c:中和村#9": Assignment("中和村社区", "第1网格", "standard_address"),
                 "c:瑞金北村#19": Assignment("瑞金北村社区", "第3网格", "standard_address")}
    records = [linked("public_security", "GA-1", OLD_FLAT, changed_on=date(2026, 1, 5)),
               linked("community", "ZF-1", OLD_FLAT, day=20, seen_on=date(2026, 3, 2)), door_check()]
    events: list[Any] = [ProfileCreated(profile_id="p-1", version=1, occurred_at=T0, caused_by="c")]
    for i, record in enumerate(records, start=2):
        events.append(RecordLinked(profile_id="p-1", version=i, occurred_at=T0, caused_by=f"c{i}",
                                   record=record.record, rule="id_number", score=1.0))
    profile = replay(events)["p-1"]
    place = derive_place(candidates(profile), gazetteer.get)
    assert profile.golden.residential_address is not None
    assert profile.golden.residential_address.value.raw == NEW_FLAT
    assert place.community == "中和村社区" and not place.contested
