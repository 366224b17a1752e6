"""Building the events of a decision, so both streams of a merge or split say the same thing.

These helpers take current profiles and return events with the next versions and derived ids;
the caller (the resolver, a steward command handler) publishes them. They decide nothing about
*whether* to merge: that is the matcher's and the steward's job.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from core.profile.errors import ProfileError, UnknownRecord
from core.profile.model import Golden, Profile
from core.profile.survivorship import value_identity
from schemas.profile_events import (
    FieldEvidence,
    ProfileEvent,
    ProfilesMerged,
    ProfileSplit,
    ResidentDeceased,
    ResidentMoved,
)
from schemas.resident import Address

__all__ = ["life_events", "merge", "new_profile_id", "split", "undo_merge"]


def new_profile_id(seed: str) -> str:
    """A profile id derived from what caused the profile (a record event id, a command id).

    >>> new_profile_id("evt-1") == new_profile_id("evt-1")
    True
    """
    return "p-" + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:20]


def merge(
    survivor: Profile,
    merged_away: Profile,
    *,
    reason: str,
    caused_by: str,
    occurred_at: datetime,
    evidence: Iterable[FieldEvidence] = (),
    decided_by: str = "resolver",
) -> tuple[ProfilesMerged, ProfilesMerged]:
    """The merge as recorded in the survivor's stream and in the merged-away profile's stream."""
    for profile in (survivor, merged_away):
        if not profile.is_active:
            raise ProfileError(f"{profile.profile_id} is not active ({profile.status})")
    common = dict(
        survivor=survivor.profile_id, merged_away=merged_away.profile_id, reason=reason,
        evidence=tuple(evidence), decided_by=decided_by, records=tuple(merged_away.records.values()),
        reviews=tuple(merged_away.pending_reviews.values()), caused_by=caused_by, occurred_at=occurred_at,
    )
    return (
        ProfilesMerged.model_validate({**common, "profile_id": survivor.profile_id, "version": survivor.version + 1}),
        ProfilesMerged.model_validate(
            {**common, "profile_id": merged_away.profile_id, "version": merged_away.version + 1}
        ),
    )


def split(
    profile: Profile,
    record_keys: Iterable[str],
    *,
    to_profile_id: str,
    target: Profile | None,
    steward: str,
    reason: str,
    caused_by: str,
    occurred_at: datetime,
    undoes: str | None = None,
) -> tuple[ProfileSplit, ProfileSplit]:
    """Move ``record_keys`` from ``profile`` to ``to_profile_id`` (``target`` is its current state,
    ``None`` for a new profile): the event of the from stream, then that of the to stream."""
    keys = list(dict.fromkeys(record_keys))
    missing = [key for key in keys if key not in profile.records]
    if missing:
        raise UnknownRecord(f"{', '.join(missing)} not linked to {profile.profile_id}")
    common = dict(
        from_profile=profile.profile_id, to_profile=to_profile_id,
        records=tuple(profile.records[key] for key in keys), steward=steward, reason=reason, undoes=undoes,
        caused_by=caused_by, occurred_at=occurred_at,
    )
    return (
        ProfileSplit.model_validate({**common, "profile_id": profile.profile_id, "version": profile.version + 1}),
        ProfileSplit.model_validate(
            {**common, "profile_id": to_profile_id, "version": (target.version + 1) if target else 1}
        ),
    )


def undo_merge(
    survivor: Profile,
    merged_away: Profile,
    merge_event: ProfilesMerged,
    *,
    steward: str,
    reason: str,
    caused_by: str,
    occurred_at: datetime,
) -> tuple[ProfileSplit, ProfileSplit]:
    """Reverse a wrong merge: the records it brought (in their latest versions) go back to the
    merged-away profile, whose original id comes back active."""
    if merged_away.merged_into != survivor.profile_id or merge_event.merged_away != merged_away.profile_id:
        raise ProfileError(f"{merged_away.profile_id} is not merged into {survivor.profile_id} by that merge")
    keys = [linked.key for linked in merge_event.records if linked.key in survivor.records]
    return split(survivor, keys, to_profile_id=merged_away.profile_id, target=merged_away, steward=steward,
                 reason=reason, caused_by=caused_by, occurred_at=occurred_at, undoes=merge_event.event_id)


def life_events(before: Profile | None, after: Profile, *, caused_by: str, occurred_at: datetime) -> list[ProfileEvent]:
    """Derived events when the golden fields now say the resident died or moved.

    Versions follow ``after.version``; ``caused_by`` is usually the event that produced ``after``.
    """
    old = before.golden if before is not None else None
    new = after.golden
    events: list[ProfileEvent] = []
    version = after.version

    def envelope() -> dict[str, object]:
        return {"profile_id": after.profile_id, "version": version + len(events) + 1,
                "caused_by": caused_by, "occurred_at": occurred_at}

    if new.deceased_on is not None and (old is None or old.deceased_on is None):
        source = new.deceased_on.provenance
        events.append(ResidentDeceased.model_validate({**envelope(), "deceased_on": new.deceased_on.value,
                                                       "source": source.source, "record_id": source.record_id}))
    moved_on = new.moved_out_on if old is None or old.moved_out_on is None else None
    registered = _changed(old.registered_address if old else None, new.registered_address)
    provenance = moved_on.provenance if moved_on else registered[1].provenance if registered else None
    if provenance is not None:
        events.append(ResidentMoved.model_validate({
            **envelope(), "address_kind": "registered",
            "from_address": old.registered_address.value if old and old.registered_address else None,
            "to_address": registered[1].value if registered else None,
            "moved_on": moved_on.value if moved_on else None,
            "source": provenance.source, "record_id": provenance.record_id,
        }))
    residential = _changed(old.residential_address if old else None, new.residential_address)
    if residential is not None:
        was, now = residential
        events.append(ResidentMoved.model_validate({
            **envelope(), "address_kind": "residential", "from_address": was.value, "to_address": now.value,
            "source": now.provenance.source, "record_id": now.provenance.record_id,
        }))
    return events


def _changed(
    old: Golden[Address] | None, new: Golden[Address] | None
) -> tuple[Golden[Address], Golden[Address]] | None:
    # A first address is not a move; a different dwelling (or raw text, when unparsed) is.
    if old is None or new is None or value_identity(old.value) == value_identity(new.value):
        return None
    return old, new
