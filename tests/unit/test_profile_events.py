"""Profile events and steward commands: frozen, deterministic ids, through the one codec unchanged."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import BaseModel, ValidationError

from schemas.codec import decode, encode
from schemas.profile_events import (
    PROFILE_EVENT_TYPES,
    STEWARD_COMMAND_TYPES,
    ConfirmMatch,
    FieldEvidence,
    LinkedRecord,
    PendingReview,
    ProfileCreated,
    ProfilesMerged,
    ProfileSplit,
    RecordEnded,
    RecordLinked,
    RecordUpdated,
    RejectMatch,
    ResidentDeceased,
    ResidentMoved,
    ReviewRequested,
    ReviewResolved,
    SplitProfile,
    UndoMerge,
)
from schemas.resident import Address, ResidentRecord

AT = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
RECORD = ResidentRecord(source="social_security", record_id="SB-1", observed_at=AT, name="张伟",
                        birth_month="1985-03", phones=("+8613800138000",),
                        addresses={"residential": Address(raw="珠江路8号", road="珠江路", number="8号")})
EVIDENCE = (FieldEvidence(field="name", level="exact", weight=4.2, left="张伟", right="张伟"),)
LINK = LinkedRecord(record=RECORD, rule="probabilistic", score=0.93, evidence=EVIDENCE, linked_at=AT)
REVIEW = PendingReview(review_id="rv", record=RECORD, candidate_profile_ids=("p-2",), score=0.7, requested_at=AT)
ENVELOPE = {"profile_id": "p-1", "version": 2, "occurred_at": AT, "caused_by": "src-9"}

ONE_OF_EACH: list[BaseModel] = [
    ProfileCreated(**{**ENVELOPE, "version": 1}),
    RecordLinked(**ENVELOPE, record=RECORD, rule="probabilistic", score=0.93, evidence=EVIDENCE),
    RecordUpdated(**ENVELOPE, record=RECORD),
    RecordEnded(**ENVELOPE, source="social_security", record_id="SB-1"),
    ProfilesMerged(**ENVELOPE, survivor="p-1", merged_away="p-2", reason="same ID number", evidence=EVIDENCE,
                   records=(LINK,), reviews=(REVIEW,)),
    ProfileSplit(**ENVELOPE, from_profile="p-1", to_profile="p-2", records=(LINK,), steward="s-1", reason="twins",
                 undoes="e-merge"),
    ReviewRequested(**ENVELOPE, review_id="rv", record=RECORD, candidate_profile_ids=("p-1", "p-4"), score=0.7),
    ReviewResolved(**ENVELOPE, review_id="rv", decision="confirm", steward="s-1", linked_profile_id="p-1"),
    ResidentDeceased(**ENVELOPE, deceased_on=date(2025, 2, 27), source="civil_affairs", record_id="MZ-1"),
    ResidentMoved(**ENVELOPE, address_kind="residential", to_address=Address(raw="中山路12号"),
                  source="community", record_id="SQ-1"),
    ConfirmMatch(steward="s-1", issued_at=AT, review_id="rv", profile_id="p-1"),
    RejectMatch(steward="s-1", issued_at=AT, review_id="rv", note="different mother"),
    SplitProfile(steward="s-1", issued_at=AT, profile_id="p-1", record_keys=("community:SQ-1",), reason="twins"),
    UndoMerge(steward="s-1", issued_at=AT, merge_event_id="e-merge", survivor="p-1", merged_away="p-2",
              reason="wrong merge"),
]


def test_there_is_one_example_of_every_event_and_command() -> None:
    assert {type(m) for m in ONE_OF_EACH} == {*PROFILE_EVENT_TYPES, *STEWARD_COMMAND_TYPES}


@pytest.mark.parametrize("message", ONE_OF_EACH, ids=lambda m: type(m).__name__)
def test_every_event_and_command_round_trips_through_the_codec(message: BaseModel) -> None:
    assert decode(encode(message)) == message


def test_the_same_cause_gives_the_same_event_id_so_reprocessing_is_recognised() -> None:
    again = RecordLinked(**ENVELOPE, record=RECORD, rule="probabilistic", score=0.93)
    first = ONE_OF_EACH[1]
    assert isinstance(first, RecordLinked) and again.event_id == first.event_id
    other_cause = RecordLinked(**{**ENVELOPE, "caused_by": "src-10"}, record=RECORD, rule="id_number", score=1)
    other_profile = RecordLinked(**{**ENVELOPE, "profile_id": "p-2"}, record=RECORD, rule="id_number", score=1)
    assert len({first.event_id, other_cause.event_id, other_profile.event_id}) == 3


def test_one_cause_moving_both_addresses_gives_two_event_ids() -> None:
    moves = [ResidentMoved(**ENVELOPE, address_kind=kind, source="s", record_id="r")
             for kind in ("registered", "residential")]
    assert moves[0].event_id != moves[1].event_id


def test_an_explicit_event_id_is_kept() -> None:
    assert ProfileCreated(**{**ENVELOPE, "version": 1}, event_id="given").event_id == "given"


def test_events_are_frozen() -> None:
    with pytest.raises(ValidationError):
        ONE_OF_EACH[0].version = 9  # type: ignore[attr-defined]


def test_a_merge_event_must_belong_to_one_of_the_two_profiles() -> None:
    with pytest.raises(ValidationError, match="survivor"):
        ProfilesMerged(**{**ENVELOPE, "profile_id": "p-3"}, survivor="p-1", merged_away="p-2", reason="r")
    with pytest.raises(ValidationError, match="itself"):
        ProfilesMerged(**ENVELOPE, survivor="p-1", merged_away="p-1", reason="r")


def test_a_split_moves_at_least_one_record() -> None:
    with pytest.raises(ValidationError):
        ProfileSplit(**ENVELOPE, from_profile="p-1", to_profile="p-2", records=(), steward="s", reason="r")
