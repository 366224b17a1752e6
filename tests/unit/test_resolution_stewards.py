"""Steward commands into profile events: confirm and reject a review, split a profile, undo a merge."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.matching import Matcher, default_matcher
from core.profile import new_profile_id
from core.resolution import (
    CommandRefused,
    ResolverMemory,
    UnknownReview,
    confirm_review,
    reject_review,
    split_profile,
    undo_merge,
)
from schemas.profile_events import (
    ConfirmMatch,
    ProfilesMerged,
    ProfileSplit,
    RejectMatch,
    ReviewRequested,
    ReviewResolved,
    SplitProfile,
    UndoMerge,
)
from tests.unit.test_resolution_records import FG, GA, MZ, SB_BRIDGE, T0, arrived, clusters, run

STEWARD = "steward-7"
AT = T0 + timedelta(days=40)
ZHANG = new_profile_id("evt-public_security-GA-1-v1")  # the register's profile, opened first
HOUSING = new_profile_id("evt-housing-FG-1-v1")  # housing's provisional profile


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return default_matcher()


def reviewed(matcher: Matcher) -> tuple[ResolverMemory, ReviewRequested]:
    """Zhang's register record, then housing's record of him: name and birth month only, so a review."""
    memory = ResolverMemory()
    events = run(memory, matcher, arrived(GA), arrived(FG))
    [review] = [e for e in events if isinstance(e, ReviewRequested)]
    return memory, review


def test_confirming_a_review_merges_the_provisional_profile_into_the_older_candidate(matcher: Matcher) -> None:
    memory, review = reviewed(matcher)
    command = ConfirmMatch(command_id="cmd-1", steward=STEWARD, issued_at=AT, review_id=review.review_id,
                           profile_id=ZHANG, note="same passport on file")
    events = memory.handle(command)
    assert [(type(e), e.profile_id, e.version) for e in events] == [
        (ReviewResolved, HOUSING, 4), (ProfilesMerged, ZHANG, 3), (ProfilesMerged, HOUSING, 5),
    ]
    resolved, merge = events[0], events[1]
    assert isinstance(resolved, ReviewResolved) and resolved.decision == "confirm"
    assert resolved.linked_profile_id == ZHANG
    assert isinstance(merge, ProfilesMerged) and merge.decided_by == STEWARD and merge.reviews == ()
    assert all(e.caused_by == "cmd-1" and e.occurred_at == AT for e in events)
    assert clusters(memory) == {frozenset({"public_security:GA-1", "housing:FG-1"})}
    assert memory.review_holder(review.review_id) is None


def test_rejecting_a_review_leaves_the_profiles_apart_and_closes_it(matcher: Matcher) -> None:
    memory, review = reviewed(matcher)
    events = memory.handle(RejectMatch(command_id="cmd-2", steward=STEWARD, issued_at=AT, review_id=review.review_id))
    [resolved] = events
    assert isinstance(resolved, ReviewResolved) and resolved.decision == "reject"
    assert resolved.profile_id == HOUSING and resolved.linked_profile_id is None
    assert clusters(memory) == {frozenset({"public_security:GA-1"}), frozenset({"housing:FG-1"})}
    state = memory.profile(HOUSING)
    assert state is not None and state.profile.pending_reviews == {}
    with pytest.raises(UnknownReview):  # decided already
        reject_review(RejectMatch(command_id="cmd-3", steward=STEWARD, issued_at=AT, review_id=review.review_id),
                      memory)


def test_a_confirm_naming_a_profile_the_review_did_not_propose_is_refused(matcher: Matcher) -> None:
    memory, review = reviewed(matcher)
    with pytest.raises(CommandRefused):
        confirm_review(ConfirmMatch(steward=STEWARD, issued_at=AT, review_id=review.review_id, profile_id="p-other"),
                       memory)


def test_a_confirm_after_later_evidence_joined_them_only_closes_the_review(matcher: Matcher) -> None:
    memory, review = reviewed(matcher)
    run(memory, matcher, arrived(SB_BRIDGE))  # the bridge merged housing's profile into Zhang's
    [resolved] = confirm_review(ConfirmMatch(steward=STEWARD, issued_at=AT, review_id=review.review_id,
                                             profile_id=ZHANG), memory)
    assert isinstance(resolved, ReviewResolved) and resolved.profile_id == ZHANG


def test_undoing_a_merge_brings_back_the_merged_away_profile_and_its_records(matcher: Matcher) -> None:
    memory, _ = reviewed(matcher)
    before = memory.profile(HOUSING)
    assert before is not None
    merge_events = [e for e in run(memory, matcher, arrived(SB_BRIDGE)) if isinstance(e, ProfilesMerged)]
    assert len(clusters(memory)) == 1
    command = UndoMerge(command_id="cmd-undo", steward=STEWARD, issued_at=AT, merge_event_id=merge_events[0].event_id,
                        survivor=ZHANG, merged_away=HOUSING, reason="two people: the passport was mistyped")
    events = memory.handle(command)
    assert [(type(e), e.profile_id) for e in events] == [(ProfileSplit, ZHANG), (ProfileSplit, HOUSING)]
    assert all(isinstance(e, ProfileSplit) and e.undoes == merge_events[0].event_id for e in events)
    assert clusters(memory) == {frozenset({"public_security:GA-1", "social_security:SB-2"}),
                                frozenset({"housing:FG-1"})}
    after = memory.profile(HOUSING)
    assert after is not None and after.profile.is_active
    assert after.profile.records == before.profile.records
    assert after.created_seq == before.created_seq  # the same profile back, not a new one
    # The same undo again no longer fits: the merged-away profile is active.
    with pytest.raises(CommandRefused):
        undo_merge(command, memory)


def test_splitting_moves_records_into_a_new_profile_named_after_the_command(matcher: Matcher) -> None:
    memory = ResolverMemory()
    run(memory, matcher, arrived(GA), arrived(MZ))
    command = SplitProfile(command_id="cmd-split", steward=STEWARD, issued_at=AT, profile_id=ZHANG,
                           record_keys=("civil_affairs:MZ-1",), reason="a namesake: civil affairs confirmed")
    with pytest.raises(CommandRefused, match="not linked"):
        split_profile(command.model_copy(update={"record_keys": ("housing:nope",)}), memory)
    events = memory.handle(command)
    new = new_profile_id("cmd-split")
    assert [(type(e), e.profile_id, e.version) for e in events] == [(ProfileSplit, ZHANG, 4), (ProfileSplit, new, 1)]
    assert clusters(memory) == {frozenset({"public_security:GA-1"}), frozenset({"civil_affairs:MZ-1"})}
    with pytest.raises(CommandRefused, match="empty"):
        split_profile(command.model_copy(update={"record_keys": ("public_security:GA-1",)}), memory)


def test_the_same_command_on_the_same_state_gives_the_same_events(matcher: Matcher) -> None:
    (one, review), (two, _) = reviewed(matcher), reviewed(matcher)
    command = ConfirmMatch(steward=STEWARD, issued_at=AT, review_id=review.review_id, profile_id=ZHANG)
    assert confirm_review(command, one) == confirm_review(command, two)
