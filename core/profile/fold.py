"""The profile fold: a profile is its events folded, one pure function per event type.

``apply`` is the mutator (eventsourcing style: ``functools.singledispatch`` on the event type);
``replay`` folds a log of many profiles; ``as_of`` folds one profile up to a moment; ``checksum``
fingerprints a set of profiles so a rebuilt store can be proven identical to the log's fold.

Each event belongs to one profile's stream and carries what it moves, so the fold of a profile
reads its own stream only: interleaving streams differently gives the same profiles.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from core.privacy import redact
from core.profile.errors import (
    ProfileError,
    ProfileIsMerged,
    UnknownEvent,
    UnknownProfile,
    UnknownRecord,
    VersionGap,
    WrongProfile,
)
from core.profile.model import ACTIVE, MERGED_INTO, HistoryEntry, Profile
from core.profile.survivorship import SurvivorshipRules, survive
from schemas.profile_events import (
    LinkedRecord,
    PendingReview,
    ProfileCreated,
    ProfileEvent,
    ProfilesMerged,
    ProfileSplit,
    RecordEnded,
    RecordLinked,
    RecordUpdated,
    ResidentDeceased,
    ResidentMoved,
    ReviewRequested,
    ReviewResolved,
    record_key,
)

__all__ = ["apply", "apply_all", "as_of", "checksum", "follow", "replay"]


def apply(profile: Profile | None, event: ProfileEvent, rules: SurvivorshipRules | None = None) -> Profile:
    """The profile after ``event``; ``profile`` is ``None`` before the stream's first event.

    An event at or below the profile's version was applied already and changes nothing, so a
    redelivered event is harmless. Golden fields are recomputed whenever the records change.
    """
    return _apply(profile, event, rules, golden=True)


def apply_all(profile: Profile | None, events: Iterable[ProfileEvent], rules: SurvivorshipRules | None = None
              ) -> Profile | None:
    """``apply`` of each event in turn, with the golden fields computed once at the end: the
    same profile (they depend on the records only), at the cost of one survivorship for a batch
    of one profile's events instead of one per event."""
    records_changed = False
    for event in events:
        before = profile
        profile = _apply(profile, event, rules, golden=False)
        records_changed |= before is None or profile.records is not before.records
    if profile is not None and records_changed:
        profile = profile.model_copy(update={"golden": survive(profile.records.values(), rules)})
    return profile


def _apply(profile: Profile | None, event: ProfileEvent, rules: SurvivorshipRules | None, *, golden: bool) -> Profile:
    if profile is not None:
        if event.profile_id != profile.profile_id:
            raise WrongProfile(f"event {event.event_id} is for {event.profile_id}, not {profile.profile_id}")
        if event.version <= profile.version:
            return profile
        if event.version != profile.version + 1:
            raise VersionGap(f"{profile.profile_id}: version {event.version} after {profile.version}")
        if profile.merged_into is not None and not _allowed_on_merged(event):
            raise ProfileIsMerged(f"{profile.profile_id} is merged into {profile.merged_into}; "
                                  f"{type(event).__name__} {event.event_id} refused")
    elif event.version != 1:
        raise VersionGap(f"{event.profile_id}: version {event.version} with no earlier events")

    changed, summary = _mutate(event, profile)
    records_changed = profile is None or changed.records is not profile.records
    entry = HistoryEntry(event_id=event.event_id, event_type=type(event).__name__, version=event.version,
                         occurred_at=event.occurred_at, caused_by=event.caused_by, summary=summary)
    update: dict[str, object] = {
        "version": event.version,
        "updated_at": event.occurred_at,
        "history": (*changed.history, entry),
    }
    if records_changed and golden:
        update["golden"] = survive(changed.records.values(), rules)
    return changed.model_copy(update=update)


def replay(events: Iterable[ProfileEvent], rules: SurvivorshipRules | None = None) -> dict[str, Profile]:
    """Fold a log of many profiles' events (each stream in its own order) into profiles by id."""
    profiles: dict[str, Profile] = {}
    for event in events:
        profiles[event.profile_id] = apply(profiles.get(event.profile_id), event, rules)
    return profiles


def as_of(
    events: Iterable[ProfileEvent], profile_id: str, at: datetime, rules: SurvivorshipRules | None = None
) -> Profile | None:
    """The profile as it stood at ``at``: its stream folded while ``occurred_at <= at``.

    The fold stops at the stream's first later event, so a late event stamped earlier never
    lands on a state it did not follow. ``None`` when the profile did not exist yet.
    """
    profile: Profile | None = None
    limit = _utc(at)
    for event in events:
        if event.profile_id != profile_id:
            continue
        if _utc(event.occurred_at) > limit:
            break
        profile = apply(profile, event, rules)
    return profile


def follow(profiles: Mapping[str, Profile], profile_id: str) -> Profile | None:
    """The active profile that ``profile_id`` is, or was merged into (following redirects)."""
    seen: set[str] = set()
    profile = profiles.get(profile_id)
    while profile is not None and profile.merged_into is not None:
        if profile.profile_id in seen:
            raise ProfileError(f"merge redirects loop at {profile.profile_id}")
        seen.add(profile.profile_id)
        profile = profiles.get(profile.merged_into)
    return profile


def checksum(profiles: Mapping[str, Profile] | Iterable[Profile]) -> str:
    """SHA-256 of the canonical JSON of all profiles, independent of their order.

    >>> checksum({}) == checksum([])
    True
    """
    items = profiles.values() if isinstance(profiles, Mapping) else profiles
    canonical = json.dumps(
        [profile.model_dump(mode="json") for profile in sorted(items, key=lambda p: p.profile_id)],
        ensure_ascii=False, sort_keys=True, separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _allowed_on_merged(event: ProfileEvent) -> bool:
    # A merged-away profile only comes back (undo) or sees a late review decision.
    return (isinstance(event, ProfileSplit) and event.to_profile == event.profile_id) or isinstance(
        event, ReviewResolved
    )


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _existing(profile: Profile | None, event: ProfileEvent) -> Profile:
    if profile is None:
        raise UnknownProfile(f"{type(event).__name__} {event.event_id} for {event.profile_id}, "
                             "which has no events yet")
    return profile


def _linked(profile: Profile, source: str, record_id: str) -> LinkedRecord:
    key = record_key(source, record_id)
    try:
        return profile.records[key]
    except KeyError:
        raise UnknownRecord(f"{key} is not linked to {profile.profile_id}") from None


def _with_records(profile: Profile, records: dict[str, LinkedRecord]) -> Profile:
    return profile.model_copy(update={"records": records})


def _safe(text: str) -> str:
    return redact(text)


@functools.singledispatch
def _mutate(event: ProfileEvent, profile: Profile | None) -> tuple[Profile, str]:
    """The state change of one event and its one-line summary (the envelope is handled by ``apply``)."""
    raise UnknownEvent(f"no fold rule for {type(event).__name__}")


@_mutate.register
def _created(event: ProfileCreated, profile: Profile | None) -> tuple[Profile, str]:
    if profile is not None:
        raise ProfileError(f"{event.profile_id} exists already")
    return _opened(event), "profile opened"


def _opened(event: ProfileEvent) -> Profile:
    return Profile(profile_id=event.profile_id, version=event.version, created_at=event.occurred_at,
                   updated_at=event.occurred_at)


@_mutate.register
def _record_linked(event: RecordLinked, profile: Profile | None) -> tuple[Profile, str]:
    current = _existing(profile, event)
    linked = LinkedRecord(record=event.record, rule=event.rule, score=event.score, evidence=event.evidence,
                          linked_at=event.occurred_at)
    summary = f"linked {linked.key} by {event.rule} (score {event.score:.2f})"
    return _with_records(current, {**current.records, linked.key: linked}), summary


@_mutate.register
def _record_updated(event: RecordUpdated, profile: Profile | None) -> tuple[Profile, str]:
    current = _existing(profile, event)
    linked = _linked(current, event.record.source, event.record.record_id)
    # A new version of a record the source had deleted brings it back.
    updated = linked.model_copy(update={"record": event.record, "ended_at": None})
    return _with_records(current, {**current.records, linked.key: updated}), f"{linked.key} updated at source"


@_mutate.register
def _record_ended(event: RecordEnded, profile: Profile | None) -> tuple[Profile, str]:
    current = _existing(profile, event)
    linked = _linked(current, event.source, event.record_id)
    ended = linked.model_copy(update={"ended_at": event.occurred_at})
    return _with_records(current, {**current.records, linked.key: ended}), f"{linked.key} ended at source"


@_mutate.register
def _merged(event: ProfilesMerged, profile: Profile | None) -> tuple[Profile, str]:
    current = _existing(profile, event)
    reason = _safe(event.reason)
    if current.profile_id == event.survivor:
        records = {**current.records, **{linked.key: linked for linked in event.records}}
        reviews = {**current.pending_reviews, **{review.review_id: review for review in event.reviews}}
        absorbed = _with_records(current, records).model_copy(update={"pending_reviews": reviews})
        return absorbed, f"absorbed {event.merged_away} ({len(event.records)} records) by {event.decided_by}: {reason}"
    redirect = current.model_copy(
        update={"status": MERGED_INTO + event.survivor, "records": {}, "pending_reviews": {}}
    )
    return redirect, f"merged into {event.survivor} by {event.decided_by}: {reason}"


@_mutate.register
def _split(event: ProfileSplit, profile: Profile | None) -> tuple[Profile, str]:
    keys = [linked.key for linked in event.records]
    reason = _safe(event.reason) + (f" (undoes merge {event.undoes})" if event.undoes else "")
    if event.profile_id == event.from_profile:
        current = _existing(profile, event)
        for linked in event.records:
            _linked(current, linked.record.source, linked.record.record_id)
        remaining = {key: linked for key, linked in current.records.items() if key not in keys}
        summary = f"{len(keys)} records split off to {event.to_profile} by {event.steward}: {reason}"
        return _with_records(current, remaining), summary
    target = profile if profile is not None else _opened(event)
    records = {**target.records, **{linked.key: linked for linked in event.records}}
    restored = _with_records(target, records).model_copy(update={"status": ACTIVE})
    summary = f"{len(keys)} records split in from {event.from_profile} by {event.steward}: {reason}"
    return restored, summary


@_mutate.register
def _review_requested(event: ReviewRequested, profile: Profile | None) -> tuple[Profile, str]:
    current = _existing(profile, event)
    review = PendingReview(review_id=event.review_id, record=event.record,
                           candidate_profile_ids=event.candidate_profile_ids, score=event.score,
                           evidence=event.evidence, requested_at=event.occurred_at)
    key = record_key(event.record.source, event.record.record_id)
    summary = f"review {event.review_id} requested for {key} (score {event.score:.2f})"
    reviews = {**current.pending_reviews, review.review_id: review}
    return current.model_copy(update={"pending_reviews": reviews}), summary


@_mutate.register
def _review_resolved(event: ReviewResolved, profile: Profile | None) -> tuple[Profile, str]:
    current = _existing(profile, event)
    reviews = {rid: review for rid, review in current.pending_reviews.items() if rid != event.review_id}
    target = f" → {event.linked_profile_id}" if event.linked_profile_id else ""
    summary = f"review {event.review_id}: {event.decision}{target} by {event.steward}"
    return current.model_copy(update={"pending_reviews": reviews}), summary


@_mutate.register
def _deceased(event: ResidentDeceased, profile: Profile | None) -> tuple[Profile, str]:
    current = _existing(profile, event)
    return current, f"deceased on {event.deceased_on.isoformat()} per {record_key(event.source, event.record_id)}"


@_mutate.register
def _moved(event: ResidentMoved, profile: Profile | None) -> tuple[Profile, str]:
    current = _existing(profile, event)
    when = f" on {event.moved_on.isoformat()}" if event.moved_on else ""
    return current, f"{event.address_kind} address moved{when} per {record_key(event.source, event.record_id)}"
