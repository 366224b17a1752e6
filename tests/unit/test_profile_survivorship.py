"""Survivorship: which record's value becomes the profile's value, by authority, recency, tie-break."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from core.profile import GoldenFields, SurvivorshipRules, default_rules, survive
from core.profile.survivorship import _EXTRACTORS
from schemas.profile_events import LinkedRecord
from schemas.resident import Address, ResidentRecord

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def linked(source: str, record_id: str, day: int = 0, ended: bool = False, **fields: Any) -> LinkedRecord:
    """A record observed on day ``day`` of 2025, linked by ID number."""
    record = ResidentRecord(source=source, record_id=record_id, observed_at=T0 + timedelta(days=day), **fields)
    return LinkedRecord(record=record, rule="id_number", score=1.0, linked_at=record.observed_at,
                        ended_at=record.observed_at if ended else None)


def test_every_golden_field_has_a_rule_to_read_it_from_a_record() -> None:
    assert set(_EXTRACTORS) | {"attributes"} == set(GoldenFields.model_fields)


def test_the_authoritative_source_beats_a_more_recent_one() -> None:
    golden = survive([
        linked("public_security", "GA-1", day=0, name="张伟"),
        linked("community", "SQ-1", day=30, name="张玮"),  # newer, but the community is no authority on names
    ])
    assert golden.name is not None
    assert golden.name.value == "张伟"
    assert golden.name.provenance.source == "public_security"


def test_within_one_source_the_most_recent_record_survives_and_is_no_conflict() -> None:
    golden = survive([
        linked("public_security", "GA-1", day=0, marital_status="10"),  # 未婚
        linked("public_security", "GA-2", day=9, marital_status="20"),  # 已婚, later
    ], rules=SurvivorshipRules.model_validate({"version": "t", "default": {"authority": ["public_security"]}}))
    assert golden.marital_status is not None
    assert (golden.marital_status.value, golden.marital_status.provenance.record_id) == ("20", "GA-2")
    assert golden.marital_status.conflicts == () and not golden.marital_status.conflicted


def test_a_disagreeing_source_is_kept_with_its_provenance_and_flagged() -> None:
    golden = survive([
        linked("public_security", "GA-1", birth_date=date(1985, 3, 7)),
        linked("social_security", "SB-1", day=3, birth_date=date(1985, 7, 3)),  # day and month swapped
        linked("housing", "FG-1", birth_date=date(1985, 3, 7)),  # agrees: not a conflict
    ])
    assert golden.birth_date is not None and golden.birth_date.conflicted
    [conflict] = golden.birth_date.conflicts
    assert conflict.value == date(1985, 7, 3)
    assert (conflict.provenance.source, conflict.provenance.record_id) == ("social_security", "SB-1")
    assert golden.conflicted_fields == ("birth_date",)


def test_phones_listed_in_another_order_are_the_same_value() -> None:
    golden = survive([
        linked("community", "SQ-1", phones=("+8613800138000", "+862584561234")),
        linked("social_security", "SB-1", phones=("+862584561234", "+8613800138000")),
    ])
    assert golden.phones is not None and golden.phones.provenance.source == "community"
    assert not golden.phones.conflicted


def test_registered_and_residential_addresses_are_kept_apart() -> None:
    hukou = Address(raw="鼓楼区中山路12号", district="鼓楼区", road="中山路", number="12号")
    home = Address(raw="玄武区珠江路8号3栋301室", district="玄武区", road="珠江路", number="8号", building="3",
                   room="301")
    golden = survive([
        linked("public_security", "GA-1", addresses={"registered": hukou}),
        linked("community", "SQ-1", addresses={"residential": home}),
    ])
    assert golden.registered_address is not None and golden.registered_address.value == hukou
    assert golden.residential_address is not None and golden.residential_address.value == home
    assert not golden.registered_address.conflicted and not golden.residential_address.conflicted


def test_the_community_outranks_public_security_on_where_people_live() -> None:
    golden = survive([
        linked("public_security", "GA-1", day=20, addresses={"residential": Address(raw="中山路1号", road="中山路")}),
        linked("community", "SQ-1", addresses={"residential": Address(raw="珠江路8号", road="珠江路")}),
    ])
    assert golden.residential_address is not None
    assert golden.residential_address.provenance.source == "community"
    assert [c.provenance.source for c in golden.residential_address.conflicts] == ["public_security"]


def test_assistance_status_comes_from_civil_affairs_alone() -> None:
    golden = survive([
        linked("public_security", "GA-1", day=5, attributes={"assistance": "特困供养"}),  # hearsay: ignored
        linked("civil_affairs", "MZ-1", attributes={"assistance": "城市低保", "note": "x"}),
    ])
    assert golden.attributes["assistance"].value == "城市低保"
    assert not golden.attributes["assistance"].conflicted


def test_no_allowed_source_means_no_value() -> None:
    golden = survive([linked("public_security", "GA-1", attributes={"assistance": "城市低保"})])
    assert "assistance" not in golden.attributes


def test_ended_records_do_not_count() -> None:
    golden = survive([
        linked("public_security", "GA-1", name="张伟", ended=True),
        linked("community", "SQ-1", name="张玮"),
    ])
    assert golden.name is not None and golden.name.value == "张玮" and not golden.name.conflicted


def test_a_tie_in_authority_and_time_is_broken_the_same_way_in_any_order() -> None:
    records = [
        linked("housing", "FG-2", day=1, name="王芳"),
        linked("housing", "FG-1", day=1, name="汪芳"),  # same source, same day: the record id decides
    ]
    golden = survive(records)
    assert golden == survive(list(reversed(records)))
    assert golden.name is not None and golden.name.provenance.record_id == "FG-1"


def test_a_rule_for_an_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError, match="nmae"):
        SurvivorshipRules.model_validate({"version": "t", "default": {"authority": ["a"]},
                                          "fields": {"nmae": {"authority": ["a"]}}})


def test_an_exact_rule_wins_over_a_pattern_and_a_pattern_over_the_default() -> None:
    rules = default_rules()
    assert rules.rule_for("attributes.assistance_type").authority == ("civil_affairs",)
    assert rules.rule_for("attributes.employer").authority == rules.default.authority
    assert rules.rule_for("phones").authority[0] == "community"


def test_one_flat_written_with_and_without_its_division_prefix_is_no_conflict_but_another_flat_is() -> None:
    from core.standardise import parse_address

    def home(text: str) -> dict[str, Address]:
        return {"residential": parse_address(text)}

    golden = survive([
        linked("community", "SQ-1", addresses=home("秦虹小区3栋2单元301")),
        # the same flat: full prefix (省市区街道社区), road and door number beside the compound, 幢, 室
        linked("public_security", "GA-1", addresses=home("江苏省南京市秦淮区秦虹街道秦虹社区秦虹路12号秦虹小区3幢2单元301室")),
        # the same flat in traditional characters and full-width digits
        linked("civil_affairs", "MZ-1", addresses=home("南京市秦淮區秦虹小區３號樓２單元３０１室")),
        # the next-door flat: a real disagreement
        linked("social_security", "SB-1", addresses=home("秦虹路12号秦虹小区3幢2单元302室")),
    ])
    address = golden.residential_address
    assert address is not None and address.provenance.source == "community"
    assert address.conflicted
    assert [c.provenance.source for c in address.conflicts] == ["social_security"]


# -- the fast survivorship equals the plain reading of the rules ------------------------------------

def _reference(records: list[LinkedRecord], rules: SurvivorshipRules) -> GoldenFields:
    """The rules read literally: every field's candidates sorted by (authority, recency, source,
    record id), validated models; for a field settled at the door, only after the latest door check
    among them has left out the records with no news dated after it. ``survive`` must build exactly
    this, only faster."""
    from core.profile.model import Golden, Observation, Provenance
    from core.profile.survivorship import value_identity

    live = [linked.record for linked in records if not linked.ended]

    def pick(field: str, values: list[tuple[ResidentRecord, Any]]) -> Golden[Any] | None:
        rule = rules.rule_for(field)
        candidates = [(rank, r, v) for r, v in values if v is not None and (rank := rule.rank(r.source)) is not None]
        if rule.settled_at_door:
            def check_day(r: ResidentRecord) -> date | None:
                return r.seen_on if r.attributes.get("verification") == "at_door" else None

            checks = [day for _, r, _ in candidates if (day := check_day(r)) is not None]
            if checks:
                latest_check = max(checks)

                def news_after_check(r: ResidentRecord) -> bool:
                    news = [d for d in (r.changed_on, check_day(r)) if d is not None]
                    return bool(news) and (max(news) > latest_check or check_day(r) == latest_check)
                candidates = [(rank, r, v) for rank, r, v in candidates if news_after_check(r)]
        ranked = sorted(candidates, key=lambda t: (t[0], -t[1].observed_at.timestamp(), t[1].source, t[1].record_id))
        if not ranked:
            return None
        _, winner, value = ranked[0]

        def prov(r: ResidentRecord) -> Provenance:
            return Provenance(source=r.source, record_id=r.record_id, observed_at=r.observed_at)
        conflicts: tuple[Observation[Any], ...] = tuple(Observation(value=v, provenance=prov(r)) for _, r, v in ranked[1:]
                          if r.source != winner.source and value_identity(v) != value_identity(value))
        return Golden(value=value, provenance=prov(winner), conflicts=conflicts, conflicted=bool(conflicts))

    golden: dict[str, Any] = {field: pick(field, [(r, extract(r)) for r in live]) for field, extract in _EXTRACTORS.items()}
    keys = sorted({k for r in live for k in r.attributes})
    golden["attributes"] = {k: g for k in keys if (g := pick(f"attributes.{k}", [(r, r.attributes.get(k)) for r in live]))}
    return GoldenFields(**golden)


def _random_records(rng: Any) -> list[LinkedRecord]:
    sources = ["public_security", "social_security", "civil_affairs", "housing", "community"]
    out: dict[tuple[str, str], LinkedRecord] = {}
    for _ in range(rng.randint(0, 6)):
        source = rng.choice(sources)
        fields: dict[str, Any] = {}
        if rng.random() < 0.8:
            fields["name"] = rng.choice(["张伟", "张玮", "李娜"])
        if rng.random() < 0.5:
            fields["birth_date"] = date(1980 + rng.randint(0, 2), 3, rng.randint(1, 2))
        if rng.random() < 0.5:
            fields["phones"] = tuple(rng.sample(["13800000001", "13900000002", "13700000003"], rng.randint(1, 2)))
        if rng.random() < 0.5:
            fields["addresses"] = {"residential": Address(raw=rng.choice(["秦虹路1号101室", "秦虹路1号102室"]))}
        if rng.random() < 0.4:
            fields["attributes"] = {rng.choice(["assistance_status", "employer", "disability_grade"]): rng.choice(["a", "b"])}
        if rng.random() < 0.3:
            fields["marital_status"] = rng.choice(["10", "20"])
        # dates of news and visits on a few days, so that checks, changes and visits fall on one day too
        if rng.random() < (0.15 if source == "community" else 0.5):
            fields["changed_on"] = date(2025, 6, rng.randint(1, 4))
        if source == "community" and rng.random() < 0.7:
            if rng.random() < 0.85:
                fields["seen_on"] = date(2025, 6, rng.randint(1, 4))
            if rng.random() < 0.6:  # a door check (入户核实), else a routine visit
                fields["attributes"] = {**fields.get("attributes", {}), "verification": "at_door"}
        record_id = f"R-{rng.randint(1, 3)}"
        out[(source, record_id)] = linked(source, record_id, day=rng.randint(0, 3), ended=rng.random() < 0.15, **fields)
    return list(out.values())


# The shipped rules, and rules where the community is no authority on where people live (the
# check then competes from the bottom of the order, or may not supply the field at all).
_OTHER_RULES = SurvivorshipRules.model_validate({
    "version": "t", "default": {"authority": ["public_security", "community"]},
    "fields": {"residential_address": {"authority": ["housing", "public_security"], "settled_at_door": True,
                                       "exclusive": False}}})
_EXCLUSIVE_RULES = SurvivorshipRules.model_validate({
    "version": "t", "default": {"authority": ["public_security"]},
    "fields": {"residential_address": {"authority": ["housing", "public_security"], "settled_at_door": True,
                                       "exclusive": True}}})


@pytest.mark.parametrize("rules_name", ["default", "other", "exclusive"])
@pytest.mark.parametrize("seed", range(40))
def test_survive_builds_what_the_rules_say_literally(seed: int, rules_name: str) -> None:
    import random

    rng = random.Random(seed)
    rules = {"default": default_rules(), "other": _OTHER_RULES, "exclusive": _EXCLUSIVE_RULES}[rules_name]
    for _ in range(25):
        records = _random_records(rng)
        fast = survive(records, rules)
        assert fast == _reference(records, rules)
        assert fast.model_dump(mode="json") == _reference(records, rules).model_dump(mode="json")
        assert survive(list(reversed(records)), rules) == fast  # order of the records does not matter



def test_the_random_profiles_hold_door_checks_that_settle_the_address() -> None:
    """The comparison above sees the door-check rule at work, not only profiles without checks."""
    import random

    shipped = default_rules().model_dump()
    shipped["fields"]["residential_address"]["settled_at_door"] = False
    unsettled = SurvivorshipRules.model_validate(shipped)
    rng = random.Random(7)
    changed = sum(survive(records).residential_address != survive(records, unsettled).residential_address
                  for records in (_random_records(rng) for _ in range(400)))
    assert changed >= 10
