"""The profile fold: events in, one profile per resident out; replayable, idempotent, reversible."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from core.profile import (
    Profile,
    ProfileIsMerged,
    VersionGap,
    apply,
    as_of,
    checksum,
    follow,
    household_members,
    life_events,
    merge,
    replay,
    split,
    undo_merge,
)
from schemas.profile_events import (
    ProfileCreated,
    ProfileEvent,
    RecordEnded,
    RecordLinked,
    RecordUpdated,
    ResidentDeceased,
    ReviewRequested,
    ReviewResolved,
)
from schemas.resident import Address, ResidentRecord

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def record(source: str, record_id: str, observed: int = 0, **fields: Any) -> ResidentRecord:
    return ResidentRecord(source=source, record_id=record_id, observed_at=day(observed), **fields)


def created(profile_id: str, at: int = 0) -> ProfileCreated:
    return ProfileCreated(profile_id=profile_id, version=1, occurred_at=day(at), caused_by=f"open-{profile_id}")


def linked(profile_id: str, version: int, rec: ResidentRecord) -> RecordLinked:
    """Linked when the record was observed, caused by that record's (made-up) source event."""
    return RecordLinked(profile_id=profile_id, version=version, occurred_at=rec.observed_at,
                        caused_by=f"src-{rec.source}-{rec.record_id}-{rec.observed_at:%j}",
                        record=rec, rule="id_number", score=1.0)


def fold(*events: ProfileEvent) -> Profile:
    profiles = replay(events)
    [profile_id] = {event.profile_id for event in events}
    return profiles[profile_id]


# Zhang Wei as public security and the community know him.
GA = record("public_security", "GA-1", 0, name="张伟", birth_date=date(1985, 3, 7), household_id="320106001",
            addresses={"registered": Address(raw="鼓楼区中山路12号", road="中山路", number="12号")})
SQ = record("community", "SQ-1", 5, name="张玮", phones=("+8613800138000",),
            addresses={"residential": Address(raw="珠江路8号301室", road="珠江路", number="8号", room="301")})


def test_a_profile_created_and_linked_twice_has_golden_values_with_provenance() -> None:
    profile = fold(created("p-1"), linked("p-1", 2, GA), linked("p-1", 3, SQ))
    assert profile.version == 3 and profile.is_active
    assert set(profile.records) == {"public_security:GA-1", "community:SQ-1"}
    golden = profile.golden
    assert golden.name is not None and golden.name.value == "张伟"
    assert golden.name.provenance.source == "public_security" and golden.name.provenance.observed_at == day(0)
    assert [c.value for c in golden.name.conflicts] == ["张玮"]  # the community's spelling, flagged
    assert golden.phones is not None and golden.phones.provenance.record_id == "SQ-1"
    assert golden.registered_address is not None and golden.registered_address.value.road == "中山路"
    assert golden.residential_address is not None and golden.residential_address.value.road == "珠江路"
    assert profile.household_id == "320106001"
    assert [entry.event_type for entry in profile.history] == ["ProfileCreated", "RecordLinked", "RecordLinked"]


def test_reapplying_an_event_changes_nothing() -> None:
    first = linked("p-1", 2, GA)
    profile = fold(created("p-1"), first, linked("p-1", 3, SQ))
    assert apply(profile, first) is profile
    assert replay([created("p-1"), first, first, linked("p-1", 3, SQ), first]) == {"p-1": profile}


def test_an_event_that_skips_a_version_is_refused() -> None:
    with pytest.raises(VersionGap):
        fold(created("p-1"), linked("p-1", 3, SQ))


def test_a_new_version_of_a_record_replaces_the_old_one() -> None:
    moved_on = record("public_security", "GA-1", 40, name="张伟", household_id="320106999")
    update = RecordUpdated(profile_id="p-1", version=3, occurred_at=day(40), caused_by="src-2", record=moved_on)
    profile = fold(created("p-1"), linked("p-1", 2, GA), update)
    assert len(profile.records) == 1 and profile.household_id == "320106999"


def test_an_ended_record_no_longer_counts_in_survivorship() -> None:
    end = RecordEnded(profile_id="p-1", version=4, occurred_at=day(50), caused_by="src-del",
                      source="public_security", record_id="GA-1")
    profile = fold(created("p-1"), linked("p-1", 2, GA), linked("p-1", 3, SQ), end)
    assert profile.records["public_security:GA-1"].ended_at == day(50)  # kept, for history
    assert profile.golden.name is not None and profile.golden.name.value == "张玮"
    assert profile.golden.registered_address is None and profile.household_id is None


def test_as_of_shows_the_profile_before_a_later_link() -> None:
    log = [created("p-1"), linked("p-1", 2, GA), linked("p-1", 3, SQ)]  # SQ linked on day 5
    before = as_of(log, "p-1", day(2))
    assert before is not None and set(before.records) == {"public_security:GA-1"}
    assert before.golden.phones is None
    assert as_of(log, "p-1", day(-1)) is None
    assert as_of(log, "p-1", day(9)) == replay(log)["p-1"]


def two_profiles_of_one_resident() -> tuple[list[ProfileEvent], dict[str, Profile]]:
    log: list[ProfileEvent] = [created("p-1"), linked("p-1", 2, GA), created("p-2", 5), linked("p-2", 2, SQ)]
    return log, replay(log)


def test_a_merge_moves_the_records_to_the_survivor_and_leaves_a_redirect() -> None:
    log, profiles = two_profiles_of_one_resident()
    log += merge(profiles["p-1"], profiles["p-2"], reason="same phone and birth date", caused_by="m-1",
                 occurred_at=day(6))
    after = replay(log)
    survivor, stub = after["p-1"], after["p-2"]
    assert set(survivor.records) == {"public_security:GA-1", "community:SQ-1"}
    assert survivor.golden.phones is not None  # the community's phone now survives on p-1
    assert stub.status == "merged_into:p-1" and stub.records == {} and stub.golden.name is None
    assert follow(after, "p-2") == survivor


def test_a_merged_away_profile_refuses_new_records() -> None:
    log, profiles = two_profiles_of_one_resident()
    log += merge(profiles["p-1"], profiles["p-2"], reason="r", caused_by="m-1", occurred_at=day(6))
    stub = replay(log)["p-2"]
    with pytest.raises(ProfileIsMerged):
        apply(stub, linked("p-2", stub.version + 1, record("housing", "FG-1", 7)))


def test_a_split_moves_records_to_a_new_profile_and_both_recompute() -> None:
    log = [created("p-1"), linked("p-1", 2, GA), linked("p-1", 3, SQ)]
    profile = replay(log)["p-1"]
    log += split(profile, ["community:SQ-1"], to_profile_id="p-9", target=None, steward="s-1",
                 reason="the community visited his twin", caused_by="cmd-1", occurred_at=day(7))
    after = replay(log)
    assert set(after["p-1"].records) == {"public_security:GA-1"} and after["p-1"].golden.phones is None
    assert after["p-1"].golden.name is not None and not after["p-1"].golden.name.conflicted
    assert set(after["p-9"].records) == {"community:SQ-1"} and after["p-9"].version == 1
    assert after["p-9"].golden.name is not None and after["p-9"].golden.name.value == "张玮"


def test_undoing_a_merge_gives_back_the_original_profile_id() -> None:
    log, profiles = two_profiles_of_one_resident()
    merged = merge(profiles["p-1"], profiles["p-2"], reason="r", caused_by="m-1", occurred_at=day(6))
    log += merged
    after = replay(log)
    log += undo_merge(after["p-1"], after["p-2"], merged[0], steward="s-1", reason="not the same man",
                      caused_by="cmd-undo", occurred_at=day(8))
    restored = replay(log)
    assert restored["p-2"].is_active and set(restored["p-2"].records) == {"community:SQ-1"}
    assert set(restored["p-1"].records) == {"public_security:GA-1"}
    # Apart from version and history, both are what they were before the merge.
    for pid in ("p-1", "p-2"):
        assert restored[pid].golden == profiles[pid].golden
    assert "undoes merge" in restored["p-2"].history[-1].summary


def test_replay_of_differently_interleaved_streams_gives_the_same_checksum() -> None:
    log, profiles = two_profiles_of_one_resident()
    log += merge(profiles["p-1"], profiles["p-2"], reason="r", caused_by="m-1", occurred_at=day(6))
    log += [created("p-3"), linked("p-3", 2, record("housing", "FG-1", 3, name="王芳"))]
    expected = checksum(replay(log))
    streams = {pid: [e for e in log if e.profile_id == pid] for pid in ("p-1", "p-2", "p-3")}
    rng = random.Random(7)
    for _ in range(20):
        # Shuffle how streams interleave, keeping each stream's own order (Kafka partitions).
        cursors = {pid: list(events) for pid, events in streams.items()}
        shuffled: list[ProfileEvent] = []
        while any(cursors.values()):
            pid = rng.choice([p for p, rest in cursors.items() if rest])
            shuffled.append(cursors[pid].pop(0))
        assert checksum(replay(shuffled)) == expected
    assert checksum(list(replay(log).values())) == expected  # a list or a mapping, any order


def test_the_checksum_changes_when_any_profile_changes() -> None:
    log, profiles = two_profiles_of_one_resident()
    changed = apply(profiles["p-2"], linked("p-2", 3, record("housing", "FG-1", 6, name="张伟")))
    assert checksum(profiles) != checksum({**profiles, "p-2": changed})


def test_a_review_is_pending_until_a_steward_resolves_it() -> None:
    candidate = record("housing", "FG-7", 3, name="张伟")
    asked = ReviewRequested(profile_id="p-1", version=3, occurred_at=day(3), caused_by="src-FG-7",
                            review_id="rv-1", record=candidate, candidate_profile_ids=("p-1",), score=0.71)
    resolved = ReviewResolved(profile_id="p-1", version=4, occurred_at=day(4), caused_by="cmd-2",
                              review_id="rv-1", decision="reject", steward="s-1")
    pending = fold(created("p-1"), linked("p-1", 2, GA), asked)
    assert set(pending.pending_reviews) == {"rv-1"} and pending.golden.name is not None
    assert len(pending.records) == 1  # a review links nothing
    assert fold(created("p-1"), linked("p-1", 2, GA), asked, resolved).pending_reviews == {}


def test_a_death_date_surviving_for_the_first_time_derives_resident_deceased() -> None:
    before = fold(created("p-1"), linked("p-1", 2, GA))
    notice = linked("p-1", 3, record("civil_affairs", "MZ-1", 9, deceased_on=date(2025, 1, 8)))
    after = apply(before, notice)
    [event] = life_events(before, after, caused_by=notice.event_id, occurred_at=day(9))
    assert isinstance(event, ResidentDeceased) and event.version == 4 and event.deceased_on == date(2025, 1, 8)
    assert apply(after, event).history[-1].summary.startswith("deceased on 2025-01-08")
    assert life_events(after, after, caused_by="x", occurred_at=day(9)) == []


def test_household_members_are_the_active_profiles_sharing_a_household_number() -> None:
    spouse = record("public_security", "GA-2", 0, name="王芳", household_id="320106001")
    log, profiles = two_profiles_of_one_resident()
    log += [created("p-3"), linked("p-3", 2, spouse)]
    assert household_members(replay(log).values()) == {"320106001": ("p-1", "p-3")}


def test_a_profile_read_back_from_json_has_the_same_checksum() -> None:
    # The projection stores profiles as JSON; a rebuilt store must fingerprint like the fold.
    log, profiles = two_profiles_of_one_resident()
    log += merge(profiles["p-1"], profiles["p-2"], reason="r", caused_by="m-1", occurred_at=day(6))
    folded = replay(log)
    read_back = {pid: Profile.model_validate_json(p.model_dump_json()) for pid, p in folded.items()}
    assert read_back == folded and checksum(read_back) == checksum(folded)
