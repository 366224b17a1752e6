"""Steward commands (复核, 拆分, 撤销合并) turned into profile events, or refused.

Each function reads the resolver's state through the view and returns the events to publish;
it decides nothing the steward did not. Event ids derive from the command id, ``occurred_at``
is the command's ``issued_at``: handling a command twice gives the same events.

* :func:`confirm_review` — the reviewed record is the candidate: the profile holding the
  review is merged with the candidate (the older survives), the review resolved.
* :func:`reject_review` — the record is none of the candidates: it keeps its own profile,
  the review resolved.
* :func:`split_profile` — records move out of a profile into a new (or named) one.
* :func:`undo_merge` — a wrong merge reversed: the merged-away profile's id and records come back.
"""

from __future__ import annotations

from core.profile import merge, new_profile_id, split
from core.profile import undo_merge as undo_merge_events
from core.profile.errors import ProfileError
from core.resolution.errors import CommandRefused, UnknownReview
from core.resolution.resolve import Emitter, active_profile
from core.resolution.view import ProfileState, ResolverView
from schemas.profile_events import (
    ConfirmMatch,
    PendingReview,
    ProfileEvent,
    RejectMatch,
    ReviewDecision,
    ReviewResolved,
    SplitProfile,
    StewardCommand,
    UndoMerge,
)

__all__ = ["command_events", "confirm_review", "reject_review", "split_profile", "undo_merge"]


def command_events(command: StewardCommand, view: ResolverView) -> list[ProfileEvent]:
    """The events of any steward command (dispatch on its type)."""
    if isinstance(command, ConfirmMatch):
        return confirm_review(command, view)
    if isinstance(command, RejectMatch):
        return reject_review(command, view)
    if isinstance(command, SplitProfile):
        return split_profile(command, view)
    if isinstance(command, UndoMerge):
        return undo_merge(command, view)
    raise CommandRefused(f"no handler for {type(command).__name__}")


def confirm_review(command: ConfirmMatch, view: ResolverView) -> list[ProfileEvent]:
    """The steward confirms that the reviewed record is ``command.profile_id``: a merge."""
    holder, review = _pending(view, command.review_id)
    if command.profile_id not in review.candidate_profile_ids:
        raise CommandRefused(f"review {command.review_id} did not propose {command.profile_id}")
    candidate = active_profile(view, command.profile_id)
    out = _emitter(view, command)
    if candidate.profile.profile_id == holder.profile.profile_id:
        # Later evidence has joined them already: only the review is left to close.
        out.emit(_resolved(out, holder.profile.profile_id, command, "confirm", holder.profile.profile_id))
        return out.events
    survivor, merged_away = sorted((holder, candidate), key=lambda s: (s.created_seq, s.profile.profile_id))
    # Close the review first, so the merge does not carry it over as still pending.
    out.emit(_resolved(out, holder.profile.profile_id, command, "confirm", survivor.profile.profile_id))
    survivor_now, away_now = out.current(survivor.profile.profile_id), out.current(merged_away.profile.profile_id)
    assert survivor_now is not None and away_now is not None
    reason = f"steward {command.steward} confirmed review {command.review_id}"
    reason += f": {command.note}" if command.note else ""
    out.emit_merge(merge(survivor_now, away_now, reason=reason, caused_by=command.command_id,
                         occurred_at=command.issued_at, evidence=review.evidence, decided_by=command.steward))
    return out.events


def reject_review(command: RejectMatch, view: ResolverView) -> list[ProfileEvent]:
    """The steward rejects every candidate: the record stays in the profile it has."""
    holder, _ = _pending(view, command.review_id)
    out = _emitter(view, command)
    out.emit(_resolved(out, holder.profile.profile_id, command, "reject", None))
    return out.events


def split_profile(command: SplitProfile, view: ResolverView) -> list[ProfileEvent]:
    """Move ``command.record_keys`` out of ``command.profile_id`` into a new profile (or the one named)."""
    source = view.profile(command.profile_id)
    if source is None or not source.profile.is_active:
        raise CommandRefused(f"profile {command.profile_id} is unknown or not active")
    to_profile_id = command.new_profile_id or new_profile_id(command.command_id)
    target = view.profile(to_profile_id)
    keys = tuple(dict.fromkeys(command.record_keys))
    if len(keys) == len(source.profile.records):
        raise CommandRefused(f"splitting every record out of {command.profile_id} would leave it empty")
    out = _emitter(view, command)
    try:
        pair = split(source.profile, keys, to_profile_id=to_profile_id,
                     target=target.profile if target is not None else None, steward=command.steward,
                     reason=command.reason, caused_by=command.command_id, occurred_at=command.issued_at)
    except ProfileError as exc:
        raise CommandRefused(str(exc)) from exc
    for event in pair:
        out.emit(event)
    return out.events


def undo_merge(command: UndoMerge, view: ResolverView) -> list[ProfileEvent]:
    """Reverse the merge ``command.merge_event_id``: its records go back under the merged-away id."""
    merge_event = view.merge_event(command.merge_event_id)
    if merge_event is None:
        raise CommandRefused(f"no merge {command.merge_event_id}")
    if (merge_event.survivor, merge_event.merged_away) != (command.survivor, command.merged_away):
        raise CommandRefused(f"merge {command.merge_event_id} joined {merge_event.merged_away} into "
                             f"{merge_event.survivor}, not {command.merged_away} into {command.survivor}")
    survivor, merged_away = view.profile(command.survivor), view.profile(command.merged_away)
    if survivor is None or merged_away is None:
        raise CommandRefused(f"profile {command.survivor} or {command.merged_away} is unknown")
    out = _emitter(view, command)
    try:
        pair = undo_merge_events(survivor.profile, merged_away.profile, merge_event, steward=command.steward,
                                 reason=command.reason, caused_by=command.command_id, occurred_at=command.issued_at)
    except ProfileError as exc:
        raise CommandRefused(str(exc)) from exc
    if not pair[0].records:
        raise CommandRefused(f"none of the records merge {command.merge_event_id} brought is still in "
                             f"{command.survivor}")
    for event in pair:
        out.emit(event)
    return out.events


def _emitter(view: ResolverView, command: StewardCommand) -> Emitter:
    return Emitter(view, caused_by=command.command_id, occurred_at=command.issued_at)


def _pending(view: ResolverView, review_id: str) -> tuple[ProfileState, PendingReview]:
    holder_id = view.review_holder(review_id)
    holder = view.profile(holder_id) if holder_id is not None else None
    review = holder.profile.pending_reviews.get(review_id) if holder is not None else None
    if holder is None or review is None:
        raise UnknownReview(f"no profile has review {review_id} pending")
    return holder, review


def _resolved(out: Emitter, profile_id: str, command: ConfirmMatch | RejectMatch, decision: ReviewDecision,
              linked_profile_id: str | None) -> ReviewResolved:
    return ReviewResolved.model_validate({
        **out.envelope(profile_id), "review_id": command.review_id, "decision": decision,
        "steward": command.steward, "note": command.note, "linked_profile_id": linked_profile_id,
    })
