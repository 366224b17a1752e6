"""Settled at the door (入户核实): a visit on which the worker verified the address outranks the
older records that place the resident elsewhere, and gives way to a register's later change."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from connectors.spec import ConnectorSpec
from core.places import Assignment, PlaceCandidate, candidates, derive_place
from core.profile import replay
from core.standardise import standardise
from core.standardise.addresses import parse_address
from onceonly.settings import PROJECT_ROOT
from schemas.profile_events import ProfileCreated, RecordLinked
from schemas.resident import ResidentRecord
from schemas.source_record import SourceRecord

T0 = datetime(2026, 1, 1, tzinfo=UTC)
GAZETTEER = {"c:中和村#9": Assignment("中和村社区", "第1网格", "standard_address"),
             "c:瑞金北村#19": Assignment("瑞金北村社区", "第3网格", "standard_address"),
             "c:秦虹#3": Assignment("秦虹社区", "第2网格", "standard_address")}
NEW_FLAT, OLD_FLAT, THIRD_FLAT = "中和村10号中和村小区9幢1单元501室", "瑞金北村19幢2单元502室", "秦虹小区3幢2单元301室"


def _record(source: str, rid: str, address: str, *, at_door: bool = False, **dates: date) -> ResidentRecord:
    attributes = {"verification": "at_door"} if at_door else {}
    return ResidentRecord(source=source, record_id=rid, observed_at=T0, name="王芳",
                          addresses={"residential": parse_address(address)}, attributes=attributes, **dates)


def _place(*records: ResidentRecord) -> Any:
    events: list[Any] = [ProfileCreated(profile_id="p-1", version=1, occurred_at=T0, caused_by="c")]
    for i, record in enumerate(records, start=2):
        events.append(RecordLinked(profile_id="p-1", version=i, occurred_at=T0, caused_by=f"c{i}", record=record,
                                   rule="id_number", score=1.0))
    return derive_place(candidates(replay(events)["p-1"]), GAZETTEER.get)


# Two registers and a pre-filled visit still give the old flat; the station changed its row in
# January, before the move; nobody has heard of the move but the resident.
STALE = (_record("public_security", "GA-1", OLD_FLAT, changed_on=date(2026, 1, 5)),
         _record("social_security", "SB-1", OLD_FLAT),  # undated
         _record("community", "ZF-1", OLD_FLAT, seen_on=date(2026, 3, 2)))


def test_without_a_door_check_the_older_records_outvote_the_resident() -> None:
    # the same visit of June, not verified at the door: one vote against three
    place = _place(*STALE, _record("community", "ZF-2", NEW_FLAT, seen_on=date(2026, 6, 20)))
    assert (place.community, place.contested) == ("瑞金北村社区", True)


def test_an_address_verified_at_the_door_wins_over_older_records_placing_the_resident_elsewhere() -> None:
    place = _place(*STALE, _record("community", "HS-1", NEW_FLAT, at_door=True, seen_on=date(2026, 6, 20)))
    assert (place.community, place.grid) == ("中和村社区", "中和村社区/第1网格")
    assert not place.contested  # settled at the door: the flag asks for nothing more


def test_a_door_check_gives_way_to_a_registers_later_change() -> None:
    # the station records a second move in August, after the June check
    place = _place(*STALE, _record("community", "HS-1", NEW_FLAT, at_door=True, seen_on=date(2026, 6, 20)),
                   _record("public_security", "GA-2", THIRD_FLAT, changed_on=date(2026, 8, 3)))
    assert place.community == "秦虹社区"  # the records older than the check stay out: 1 vote against none
    assert place.contested  # the register contradicts the door: worth another check


def test_a_registers_later_change_back_to_the_old_flat_outranks_the_check() -> None:
    # moved back in August: the station's change places them in the old flat's community again
    place = _place(*STALE, _record("community", "HS-1", NEW_FLAT, at_door=True, seen_on=date(2026, 6, 20)),
                   _record("public_security", "GA-2", OLD_FLAT, changed_on=date(2026, 8, 3)))
    assert (place.community, place.contested) == ("瑞金北村社区", True)


def test_a_registers_change_on_or_before_the_check_does_not_overturn_it() -> None:
    place = _place(*STALE, _record("community", "HS-1", NEW_FLAT, at_door=True, seen_on=date(2026, 6, 20)),
                   _record("public_security", "GA-2", OLD_FLAT, changed_on=date(2026, 6, 19)))
    assert place.community == "中和村社区"


def test_a_later_visit_not_verified_at_the_door_does_not_overturn_a_check() -> None:
    # a routine visit in September on a form pre-filled from the roster's old flat
    place = _place(*STALE, _record("community", "HS-1", NEW_FLAT, at_door=True, seen_on=date(2026, 6, 20)),
                   _record("community", "ZF-3", OLD_FLAT, seen_on=date(2026, 9, 1)))
    assert (place.community, place.contested) == ("中和村社区", False)


def test_the_latest_door_check_decides_between_two() -> None:
    place = _place(*STALE, _record("community", "HS-1", NEW_FLAT, at_door=True, seen_on=date(2026, 6, 20)),
                   _record("community", "HS-2", THIRD_FLAT, at_door=True, seen_on=date(2026, 10, 8)))
    assert (place.community, place.contested) == ("秦虹社区", False)


def test_the_candidate_carries_the_day_of_its_latest_door_check() -> None:
    events: list[Any] = [ProfileCreated(profile_id="p-1", version=1, occurred_at=T0, caused_by="c")]
    for i, record in enumerate((_record("community", "ZF-1", NEW_FLAT, seen_on=date(2026, 9, 1)),
                                _record("community", "HS-1", NEW_FLAT, at_door=True, seen_on=date(2026, 6, 20))),
                               start=2):
        events.append(RecordLinked(profile_id="p-1", version=i, occurred_at=T0, caused_by=f"c{i}", record=record,
                                   rule="id_number", score=1.0))
    (candidate,) = candidates(replay(events)["p-1"])
    assert (candidate.seen_on, candidate.verified_on) == ("2026-09-01", "2026-06-20")
    assert PlaceCandidate.from_json(candidate.as_json()) == candidate
    unchecked = PlaceCandidate("residential", ("c:秦虹#3",), seen_on="2026-09-01")
    assert "verified_on" not in unchecked.as_json()  # stored candidates of unchecked profiles are as before


def test_the_community_mapping_reads_a_check_at_the_door_from_its_verification_column() -> None:
    mapping = ConnectorSpec.load(PROJECT_ROOT / "mappings" / "community.yaml").field_mapping()
    assert mapping is not None

    def visit(payload: dict[str, str]) -> ResidentRecord:
        return standardise(SourceRecord.of(source="community", record_id=payload["走访编号"], payload=payload,
                                           mapping_version="t"), mapping)

    checked = visit({"走访编号": "HS1", "姓名": "王芳", "走访日期": "2026-06-20", "核实方式": "入户核实"})
    by_phone = visit({"走访编号": "HS2", "姓名": "王芳", "走访日期": "2026-06-20", "核实方式": "电话核实"})
    routine = visit({"走访编号": "ZF1", "姓名": "王芳", "走访日期": "2026-06-20"})
    assert (checked.attributes.get("verification"), checked.seen_on) == ("at_door", date(2026, 6, 20))
    assert by_phone.attributes.get("verification") == "by_phone"
    assert "verification" not in routine.attributes
