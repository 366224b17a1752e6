"""Resolving record versions into profile events: pure, over the in-memory resolver state."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from stdnum.cn import ric

from core.matching import Matcher, default_matcher
from core.profile import merge, new_profile_id, replay
from core.resolution import Emitter, ResolutionError, ResolverMemory, resolve
from schemas.profile_events import (
    ProfileCreated,
    ProfileEvent,
    ProfilesMerged,
    RecordEnded,
    RecordLinked,
    RecordUpdated,
    ResidentDeceased,
    ReviewRequested,
)
from schemas.record_events import RecordStandardised
from schemas.resident import Address, OtherId, ResidentRecord

T0 = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)


def id_number(division: str, birth: date, sequence: int) -> str:
    """A valid citizen ID number (GB 11643: division + birth date + sequence + check digit)."""
    body = f"{division}{birth:%Y%m%d}{sequence:03d}"
    return body + ric.calc_check_digit(body)


def record(source: str, record_id: str, *, day: int = 0, **fields: Any) -> ResidentRecord:
    return ResidentRecord(source=source, record_id=record_id, observed_at=T0 + timedelta(days=day),
                          name_script="han", **fields)


def arrived(rec: ResidentRecord, version: int = 1) -> RecordStandardised:
    """The records-topic event of a record version; its event id is fixed by source, id and version."""
    return RecordStandardised(event_id=f"evt-{rec.source}-{rec.record_id}-v{version}", source=rec.source,
                              record_id=rec.record_id, change="upsert", content_hash=f"hash-{rec.record_id}-v{version}",
                              observed_at=rec.observed_at, record=rec)


def ended(rec: ResidentRecord, *, day: int) -> RecordStandardised:
    return RecordStandardised(event_id=f"evt-{rec.source}-{rec.record_id}-end", source=rec.source,
                              record_id=rec.record_id, change="end", content_hash="end",
                              observed_at=T0 + timedelta(days=day))


ZHANG_ID = id_number("320104", date(1980, 1, 2), 123)
PASSPORT = (OtherId(kind="passport", value="E12345678"),)
# Zhang Sanfeng in the household register: name, ID number, birth date, household.
GA = record("public_security", "GA-1", name="张三丰", id_number=ZHANG_ID, birth_date=date(1980, 1, 2), sex="male",
            household_id="320104001")
# Social security knows him by the same ID number, with only his birth month.
SB = record("social_security", "SB-1", day=3, name="张三丰", id_number=ZHANG_ID, birth_month="1980-01", sex="male")
# Civil affairs typed two neighbouring digits of his ID number the wrong way round.
SWAPPED = ZHANG_ID[:8] + ZHANG_ID[9] + ZHANG_ID[8] + ZHANG_ID[10:]
MZ = record("civil_affairs", "MZ-1", day=4, name="张三丰", id_number_invalid=SWAPPED, birth_date=date(1980, 1, 2))
# Housing registered his flat under his passport, no ID number, birth month only.
FG = record("housing", "FG-1", day=1, name="张三丰", birth_month="1980-01", other_ids=PASSPORT,
            addresses={"property": Address(raw="中山路12号3栋301室", road="中山路", number="12号", building="3",
                                           room="301")})
# A second social-security record carrying both the ID number and the passport: the bridge.
SB_BRIDGE = record("social_security", "SB-2", day=5, name="张三丰", id_number=ZHANG_ID, birth_month="1980-01",
                   sex="male", other_ids=PASSPORT)
# Twins: one surname, birth date, household and phone; their own names and ID numbers.
TWIN_1 = record("public_security", "GA-7", name="李明", id_number=id_number("320104", date(2001, 5, 5), 11),
                birth_date=date(2001, 5, 5), sex="male", household_id="320104009", phones=("+8613800138001",))
TWIN_2 = record("public_security", "GA-8", name="李亮", id_number=id_number("320104", date(2001, 5, 5), 13),
                birth_date=date(2001, 5, 5), sex="male", household_id="320104009", phones=("+8613800138001",))


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return default_matcher()


def run(memory: ResolverMemory, matcher: Matcher, *items: RecordStandardised) -> list[ProfileEvent]:
    events: list[ProfileEvent] = []
    for item in items:
        events += memory.resolve(item, matcher)
    return events


def clusters(memory: ResolverMemory) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for key, profile_id in memory.partition().items():
        groups.setdefault(profile_id, set()).add(key)
    return {frozenset(keys) for keys in groups.values()}


def test_a_new_record_opens_a_profile_named_after_its_cause(matcher: Matcher) -> None:
    memory = ResolverMemory()
    events = memory.resolve(arrived(GA), matcher)
    created, linked = events
    assert isinstance(created, ProfileCreated) and isinstance(linked, RecordLinked)
    assert created.profile_id == linked.profile_id == new_profile_id("evt-public_security-GA-1-v1")
    assert (created.version, linked.version) == (1, 2)
    assert linked.record == GA and linked.caused_by == "evt-public_security-GA-1-v1"
    assert created.occurred_at == linked.occurred_at == GA.observed_at  # the record's time, not the clock


def test_the_same_valid_id_number_links_across_sources_by_rule(matcher: Matcher) -> None:
    memory = ResolverMemory()
    opened = run(memory, matcher, arrived(GA))
    [linked] = memory.resolve(arrived(SB), matcher)
    assert isinstance(linked, RecordLinked)
    assert linked.profile_id == opened[0].profile_id and linked.version == 3
    assert linked.rule == "id_number" and linked.score == 1.0
    assert clusters(memory) == {frozenset({"public_security:GA-1", "social_security:SB-1"})}


def test_a_typoed_id_number_with_the_same_name_and_birth_date_links_probabilistically(matcher: Matcher) -> None:
    memory = ResolverMemory()
    run(memory, matcher, arrived(GA))
    [linked] = memory.resolve(arrived(MZ), matcher)
    assert isinstance(linked, RecordLinked) and linked.rule == "probabilistic"
    assert 0.999 <= linked.score <= 1.0
    evidence = {e.field: e for e in linked.evidence}
    assert evidence["name"].level == "exact" and evidence["birth_date"].level == "exact"
    assert evidence["id_number"].level == "one_edit" and evidence["id_number"].weight > 10
    shown = " ".join(f"{e.left} {e.right}" for e in linked.evidence)
    assert ZHANG_ID not in shown and SWAPPED not in shown
    assert evidence["id_number"].right == ZHANG_ID[:6] + "*" * 8 + ZHANG_ID[-4:]  # 320104********1231


def test_twins_sharing_a_home_and_phone_stay_two_profiles(matcher: Matcher) -> None:
    memory = ResolverMemory()
    run(memory, matcher, arrived(TWIN_1), arrived(TWIN_2))
    assert clusters(memory) == {frozenset({"public_security:GA-7"}), frozenset({"public_security:GA-8"})}
    # Without their ID numbers (community records) the disagreeing given names still keep them apart.
    bare = [record("community", f"SQ-{n}", name=t.name, birth_date=t.birth_date, sex="male",
                   household_id=t.household_id, phones=t.phones) for n, t in ((1, TWIN_1), (2, TWIN_2))]
    memory = ResolverMemory()
    run(memory, matcher, *(arrived(r) for r in bare))
    assert len(clusters(memory)) == 2


def test_a_record_bridging_two_profiles_merges_them_into_the_older(matcher: Matcher) -> None:
    memory = ResolverMemory()
    run(memory, matcher, arrived(GA))  # opened first: creation sequence 1
    housing = run(memory, matcher, arrived(FG))
    # Name and birth month alone are a review, not a link: housing's record gets a provisional profile.
    assert [type(e) for e in housing] == [ProfileCreated, RecordLinked, ReviewRequested]
    older, newer = new_profile_id("evt-public_security-GA-1-v1"), housing[0].profile_id
    review = housing[2]
    assert isinstance(review, ReviewRequested) and review.candidate_profile_ids == (older,)

    events = memory.resolve(arrived(SB_BRIDGE), matcher)  # same ID as GA, same passport as FG
    assert [(type(e), e.profile_id) for e in events] == [
        (RecordLinked, older), (ProfilesMerged, older), (ProfilesMerged, newer),
    ]
    merge = events[1]
    assert isinstance(merge, ProfilesMerged) and (merge.survivor, merge.merged_away) == (older, newer)
    assert [e.version for e in events] == [3, 4, 4]
    assert len({e.event_id for e in events}) == 3
    assert clusters(memory) == {frozenset({"public_security:GA-1", "housing:FG-1", "social_security:SB-2"})}
    redirect = memory.profile(newer)
    assert redirect is not None and redirect.profile.merged_into == older
    survivor = memory.profile(older)
    assert survivor is not None and review.review_id in survivor.profile.pending_reviews  # carried over
    assert memory.review_holder(review.review_id) == older


def test_the_older_profile_survives_by_creation_order_not_by_observation_time(matcher: Matcher) -> None:
    memory = ResolverMemory()
    # The register's row reaches the hub first, though it was observed a month after housing's.
    late_observed = GA.model_copy(update={"observed_at": T0 + timedelta(days=30)})
    events = run(memory, matcher, arrived(late_observed), arrived(FG), arrived(SB_BRIDGE))
    [merge, _] = [e for e in events if isinstance(e, ProfilesMerged)]
    assert merge.survivor == new_profile_id("evt-public_security-GA-1-v1")
    assert merge.merged_away == new_profile_id("evt-housing-FG-1-v1")


def test_redelivery_of_the_same_record_version_yields_no_events(matcher: Matcher) -> None:
    memory = ResolverMemory()
    run(memory, matcher, arrived(GA), arrived(SB), arrived(FG), arrived(SB_BRIDGE))
    for item in (arrived(GA), arrived(SB), arrived(FG), arrived(SB_BRIDGE)):
        assert resolve(item, memory, matcher) == []


def test_a_changed_record_is_updated_and_a_death_registration_derives_resident_deceased(matcher: Matcher) -> None:
    memory = ResolverMemory()
    run(memory, matcher, arrived(GA))
    died = GA.model_copy(update={"deceased_on": date(2025, 2, 27), "observed_at": T0 + timedelta(days=60)})
    events = memory.resolve(arrived(died, version=2), matcher)
    assert [type(e) for e in events] == [RecordUpdated, ResidentDeceased]
    assert [e.version for e in events] == [3, 4]
    deceased = events[1]
    assert isinstance(deceased, ResidentDeceased) and deceased.deceased_on == date(2025, 2, 27)
    assert all(e.occurred_at == died.observed_at for e in events)


def test_an_end_ends_the_linked_record_once_and_an_unknown_end_is_ignored(matcher: Matcher) -> None:
    memory = ResolverMemory()
    run(memory, matcher, arrived(GA), arrived(SB))
    [end] = memory.resolve(ended(SB, day=9), matcher)
    assert isinstance(end, RecordEnded) and (end.source, end.record_id, end.version) == ("social_security", "SB-1", 4)
    assert memory.resolve(ended(SB, day=9), matcher) == []  # redelivered
    assert memory.resolve(ended(record("housing", "never-seen"), day=9), matcher) == []
    state = memory.profile(end.profile_id)
    assert state is not None and state.profile.records["social_security:SB-1"].ended


def test_an_upsert_without_a_record_is_refused(matcher: Matcher) -> None:
    broken = RecordStandardised(event_id="e", source="housing", record_id="1", change="upsert", content_hash="h",
                                observed_at=T0)
    with pytest.raises(ResolutionError):
        resolve(broken, ResolverMemory(), matcher)


def test_resolving_the_same_log_twice_gives_identical_events_and_their_fold_is_the_state(matcher: Matcher) -> None:
    log = [arrived(GA), arrived(FG), arrived(SB), arrived(MZ), arrived(SB_BRIDGE), arrived(TWIN_1), arrived(TWIN_2),
           ended(MZ, day=20)]
    first, second = ResolverMemory(), ResolverMemory()
    one, two = run(first, matcher, *log), run(second, matcher, *log)
    assert one == two
    assert len({e.event_id for e in one}) == len(one)
    folded = replay(one)
    assert folded == {pid: state.profile for pid, state in first.profiles().items()}


def test_two_merges_into_one_survivor_from_one_cause_get_distinct_event_ids(matcher: Matcher) -> None:
    memory = ResolverMemory()
    run(memory, matcher, arrived(GA), arrived(TWIN_1), arrived(TWIN_2))
    ids = [new_profile_id(f"evt-public_security-{rid}-v1") for rid in ("GA-1", "GA-7", "GA-8")]
    out = Emitter(memory, caused_by="evt-bridge", occurred_at=T0)
    for away in ids[1:]:
        survivor, merged_away = out.current(ids[0]), out.current(away)
        assert survivor is not None and merged_away is not None
        out.emit_merge(merge(survivor, merged_away, reason="test", caused_by="evt-bridge", occurred_at=T0))
    assert [(e.profile_id, e.version) for e in out.events] == [(ids[0], 3), (ids[1], 3), (ids[0], 4), (ids[2], 3)]
    assert len({e.event_id for e in out.events}) == 4
