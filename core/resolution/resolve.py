"""The resolve stage as one pure function: a standardised record version in, profile events out.

:func:`resolve` reads the resolver's state through a :class:`~core.resolution.view.ResolverView`
and decides with the matcher (``core.matching.decide``):

* an **end** → ``RecordEnded`` on the record's profile (nothing for a record never linked, or
  one ended already);
* an upsert of a **linked** record with the same content hash → nothing: a redelivered or
  re-ingested version changes nothing; with a new hash → ``RecordUpdated``, plus the life
  events it reveals (``ResidentDeceased``, ``ResidentMoved``);
* a **new** record → the matcher over the candidate profiles its blocking keys find:
  ``link`` → ``RecordLinked`` (rule ``id_number`` for the same valid ID number, else
  ``probabilistic`` with the score and each field's masked evidence); ``merge`` (late evidence
  bridging profiles) → ``RecordLinked`` into the oldest + ``ProfilesMerged`` in both streams of
  each merged pair; ``review`` → a provisional profile of its own (``ProfileCreated`` +
  ``RecordLinked``) with ``ReviewRequested`` naming the candidates; ``new`` → ``ProfileCreated``
  + ``RecordLinked``.

Everything derives from the input: event ids from ``RecordStandardised.event_id`` (the cause),
profile ids of new profiles from it too, ``occurred_at`` from the record's ``observed_at`` and
versions from the view's profiles. Resolving the same input over the same state gives the same
events, so a replay reproduces the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from core.matching import Candidate, Decision, Matcher, decide
from core.matching import FieldEvidence as MatchEvidence
from core.profile import apply, life_events, merge, new_profile_id
from core.profile.model import Profile
from core.resolution.errors import InconsistentState, ResolutionError
from core.resolution.view import ProfileState, RecordLink, ResolverView
from schemas.profile_events import (
    FieldEvidence,
    LinkRule,
    ProfileCreated,
    ProfileEvent,
    ProfilesMerged,
    RecordEnded,
    RecordLinked,
    RecordUpdated,
    ResidentMoved,
    ReviewRequested,
    derive_event_id,
)
from schemas.record_events import RecordStandardised
from schemas.resident import ResidentRecord

__all__ = ["Emitter", "active_profile", "resolve", "resolve_folded", "review_id_for"]

_REVIEW_STATUSES = frozenset({"same_valid_id", "link", "review"})


def resolve(item: RecordStandardised, view: ResolverView, matcher: Matcher) -> list[ProfileEvent]:
    """The profile events one record version causes, given the resolver's state ``view``.

    A first record of a resident gives ``[ProfileCreated(version=1), RecordLinked(version=2)]``
    on a profile named after ``item.event_id``; the same item again, once applied, gives ``[]``.
    """
    return resolve_folded(item, view, matcher)[0]


def resolve_folded(
    item: RecordStandardised, view: ResolverView, matcher: Matcher
) -> tuple[list[ProfileEvent], dict[str, Profile]]:
    """:func:`resolve`, with the profiles its events touch folded: what a state applying the
    events would compute again (the fold is the costly part of resolving)."""
    out = Emitter(view, caused_by=item.event_id, occurred_at=item.observed_at)
    link = view.record_link(item.key)
    if item.change == "end":
        _end(item, view, link, out)
    elif item.record is None:
        raise ResolutionError(f"{item.key}: an upsert without a standardised record")
    elif link is not None:
        _update(item, item.record, view, link, out)
    else:
        _place(item, item.record, view, matcher, out)
    return out.events, out.folded()


def review_id_for(cause: str) -> str:
    """The id of the review a record version asks for (one per cause)."""
    return "rv-" + derive_event_id(cause, "ReviewRequested", "")[:24]


class Emitter:
    """Events of one decision, folded as they are made so each takes its stream's next version.

    Reads profiles from the view the first time and from its own fold afterwards; every event
    gets the same cause and moment.
    """

    def __init__(self, view: ResolverView, *, caused_by: str, occurred_at: datetime) -> None:
        self.view = view
        self.caused_by = caused_by
        self.occurred_at = occurred_at
        self.events: list[ProfileEvent] = []
        self._profiles: dict[str, Profile | None] = {}

    def current(self, profile_id: str) -> Profile | None:
        if profile_id not in self._profiles:
            state = self.view.profile(profile_id)
            self._profiles[profile_id] = state.profile if state is not None else None
        return self._profiles[profile_id]

    def envelope(self, profile_id: str) -> dict[str, Any]:
        profile = self.current(profile_id)
        return {"profile_id": profile_id, "version": profile.version + 1 if profile is not None else 1,
                "caused_by": self.caused_by, "occurred_at": self.occurred_at}

    def folded(self) -> dict[str, Profile]:
        """The profiles the events changed, as they stand after the last one."""
        touched = {event.profile_id for event in self.events}
        return {pid: profile for pid, profile in self._profiles.items() if pid in touched and profile is not None}

    def emit(self, event: ProfileEvent) -> Profile:
        profile = apply(self.current(event.profile_id), event)
        self._profiles[event.profile_id] = profile
        self.events.append(event)
        return profile

    def emit_merge(self, pair: tuple[ProfilesMerged, ProfilesMerged]) -> Profile:
        """Emit both streams' merge events, their ids told apart by the merged-away profile.

        ``ProfilesMerged`` ids derive from cause, type and stream only; one record bridging three
        profiles makes two merges in the survivor's stream from one cause, so the merged-away id
        is added as a part.
        """
        for event in pair:
            event_id = derive_event_id(event.caused_by, "ProfilesMerged", event.profile_id, event.merged_away)
            self.emit(event.model_copy(update={"event_id": event_id}))
        survivor = self.current(pair[0].survivor)
        assert survivor is not None
        return survivor

    def life_events(self, before: Profile | None, after: Profile, *, revealed_only: bool = False) -> None:
        """Emit the life events the change from ``before`` to ``after`` shows.

        ``revealed_only`` (a record newly linked or merged in) keeps the facts a record states —
        a death, a move-out (迁出) with its date — and drops address changes: another source's
        address is a value in conflict, not a move.
        """
        events = life_events(before, after, caused_by=self.caused_by, occurred_at=self.occurred_at)
        for event in events:
            if revealed_only and isinstance(event, ResidentMoved) and event.moved_on is None:
                continue
            # Versions follow the events kept, not the ones dropped.
            self.emit(event.model_copy(update={"version": self.envelope(event.profile_id)["version"]}))


def active_profile(view: ResolverView, profile_id: str) -> ProfileState:
    """The active profile ``profile_id`` is, or was merged into (following redirects)."""
    seen: list[str] = []
    state = view.profile(profile_id)
    while state is not None and state.profile.merged_into is not None:
        seen.append(state.profile.profile_id)
        if state.profile.merged_into in seen:
            raise InconsistentState(f"merge redirects loop at {state.profile.profile_id}")
        state = view.profile(state.profile.merged_into)
    if state is None:
        raise InconsistentState(f"profile {profile_id} (after {len(seen)} redirects) is unknown")
    return state


def _end(item: RecordStandardised, view: ResolverView, link: RecordLink | None, out: Emitter) -> None:
    if link is None:
        return  # never linked: a record that was never standardised, or ended before it arrived
    profile = _holder(view, link, item.key)
    if profile.records[item.key].ended:
        return
    out.emit(RecordEnded.model_validate({**out.envelope(profile.profile_id), "source": item.source,
                                         "record_id": item.record_id}))


def _update(item: RecordStandardised, record: ResidentRecord, view: ResolverView, link: RecordLink,
            out: Emitter) -> None:
    profile = _holder(view, link, item.key)
    if link.content_hash == item.content_hash and not profile.records[item.key].ended:
        return
    after = out.emit(RecordUpdated.model_validate({**out.envelope(profile.profile_id), "record": record}))
    out.life_events(profile, after)


def _holder(view: ResolverView, link: RecordLink, key: str) -> Profile:
    profile = active_profile(view, link.profile_id).profile
    if key not in profile.records:
        raise InconsistentState(f"{key} is linked to {link.profile_id}, whose profile does not hold it")
    return profile


def _place(item: RecordStandardised, record: ResidentRecord, view: ResolverView, matcher: Matcher,
           out: Emitter) -> None:
    candidates = _candidates(record, view, matcher)
    decision = decide(record, candidates, matcher=matcher)
    evidence = _evidence(decision.evidence)
    if decision.outcome in ("link", "merge") and decision.profile_id is not None:
        target = decision.profile_id
        before = out.current(target)
        rule, score = _rule(decision, target)
        after = out.emit(RecordLinked.model_validate({**out.envelope(target), "record": record, "rule": rule,
                                                      "score": score, "evidence": evidence}))
        for absorbed in decision.profile_ids_to_merge:
            merged_away = out.current(absorbed)
            assert merged_away is not None
            after = out.emit_merge(merge(after, merged_away, reason=decision.reason, caused_by=item.event_id,
                                         occurred_at=item.observed_at, evidence=evidence))
        out.life_events(before, after, revealed_only=True)
        return

    profile_id = new_profile_id(item.event_id)
    out.emit(ProfileCreated.model_validate(out.envelope(profile_id)))
    opened = out.emit(RecordLinked.model_validate({**out.envelope(profile_id), "record": record,
                                                   "rule": "probabilistic", "score": 1.0}))
    if decision.outcome == "review":
        proposed = _review_candidates(decision)
        out.emit(ReviewRequested.model_validate({
            **out.envelope(profile_id), "review_id": review_id_for(item.event_id), "record": record,
            "candidate_profile_ids": proposed, "score": decision.score.probability if decision.score else 0.0,
            "evidence": evidence,
        }))
    out.life_events(None, opened, revealed_only=True)


def _candidates(record: ResidentRecord, view: ResolverView, matcher: Matcher) -> list[Candidate]:
    """The active profiles holding a record that shares a blocking key, oldest first."""
    found = view.candidates(matcher.blocking_keys(record), matcher.blocker.cap)
    states: dict[str, ProfileState] = {}
    for candidate in found:
        if candidate.profile_id not in states:
            state = active_profile(view, candidate.profile_id)
            states.setdefault(state.profile.profile_id, state)
    ordered = sorted(states.values(), key=lambda s: (s.created_seq, s.profile.profile_id))
    # decide() picks the oldest by position when created_at is absent: the creation sequence rules.
    # Records the source ended still describe the resident: they count for matching.
    return [Candidate(s.profile.profile_id, [linked.record for linked in s.profile.records.values()])
            for s in ordered if s.profile.records]


def _rule(decision: Decision, profile_id: str) -> tuple[LinkRule, float]:
    same_id = any(c.profile_id == profile_id and c.status == "same_valid_id" for c in decision.candidates)
    if same_id:
        return "id_number", 1.0
    return "probabilistic", decision.score.probability if decision.score else 0.0


def _review_candidates(decision: Decision) -> tuple[str, ...]:
    ids = [decision.profile_id] if decision.profile_id else []
    ids += [c.profile_id for c in decision.candidates if c.status in _REVIEW_STATUSES]
    return tuple(dict.fromkeys(ids))


def _evidence(evidence: Iterable[MatchEvidence]) -> tuple[FieldEvidence, ...]:
    # The matcher masks ID numbers and phones in left/right already.
    return tuple(FieldEvidence(field=e.field, level=e.level, weight=e.weight, left=e.left, right=e.right)
                 for e in evidence)
