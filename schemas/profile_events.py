"""Profile events (画像事件) and steward commands: the profile-events topic's vocabulary.

Every event belongs to exactly one profile's stream (``profile_id`` + ``version``, a per-profile
sequence starting at 1), so a profile is the fold of its own stream alone. A fact that touches two
profiles (a merge, a split) is recorded once in *each* stream, with the same payload; what moves
between profiles travels inside the event, so neither fold needs to read the other stream.

``event_id`` is derived, when not given, from the causing event (``caused_by``: a source record's
event id, a command id, or another profile event's id), the event type and the profile id. Handling
the same input twice therefore yields the same ids, and a consumer can drop what it has seen.

Events are past tense (``RecordLinked``); commands are imperative (``ConfirmMatch``).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.codec import register
from schemas.resident import Address, ResidentRecord

LinkRule = Literal["id_number", "probabilistic", "steward"]
ReviewDecision = Literal["confirm", "reject"]
MoveKind = Literal["registered", "residential"]


def record_key(source: str, record_id: str) -> str:
    """The stable identity of a source record, ``source:record_id`` (no ID numbers inside)."""
    return f"{source}:{record_id}"


def derive_event_id(caused_by: str, event_type: str, profile_id: str, *parts: str) -> str:
    """A deterministic event id: the same cause, type and profile always give the same id.

    >>> derive_event_id("src-1", "RecordLinked", "p-1") == derive_event_id("src-1", "RecordLinked", "p-1")
    True
    """
    text = "\x1f".join((caused_by, event_type, profile_id, *parts))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class FieldEvidence(BaseModel):
    """How one field compared when a record was matched: the level reached and its weight.

    ``left``/``right`` are what was compared, masked by the matcher for ID numbers.
    """

    model_config = ConfigDict(frozen=True)

    field: str
    level: str  # e.g. "exact", "fuzzy", "different", "missing"
    weight: float
    left: str | None = None
    right: str | None = None


class LinkedRecord(BaseModel):
    """A source record linked to a profile: its latest version and why it was linked."""

    model_config = ConfigDict(frozen=True)

    record: ResidentRecord
    rule: LinkRule
    score: float
    evidence: tuple[FieldEvidence, ...] = ()
    linked_at: datetime
    ended_at: datetime | None = None  # the source deleted it: kept for history, out of survivorship

    @property
    def key(self) -> str:
        return record_key(self.record.source, self.record.record_id)

    @property
    def ended(self) -> bool:
        return self.ended_at is not None


class PendingReview(BaseModel):
    """A record the matcher could not decide on, waiting for a steward (待人工复核)."""

    model_config = ConfigDict(frozen=True)

    review_id: str
    record: ResidentRecord
    candidate_profile_ids: tuple[str, ...]
    score: float
    evidence: tuple[FieldEvidence, ...] = ()
    requested_at: datetime


class ProfileEvent(BaseModel):
    """The envelope shared by every profile event."""

    model_config = ConfigDict(frozen=True)

    # Payload fields added to the derived id when one cause can emit this type twice per profile.
    id_parts: ClassVar[tuple[str, ...]] = ()

    event_id: str = ""  # empty: derived from caused_by, the type and the profile (see above)
    profile_id: str
    version: int = Field(ge=1)
    occurred_at: datetime
    caused_by: str

    @model_validator(mode="before")
    @classmethod
    def _derive_event_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("event_id") and "caused_by" in data and "profile_id" in data:
            parts = tuple(str(data.get(name)) for name in cls.id_parts)
            data = {**data, "event_id": derive_event_id(str(data["caused_by"]), cls.__name__,
                                                        str(data["profile_id"]), *parts)}
        return data


class ProfileCreated(ProfileEvent):
    """A new resident profile (居民画像) was opened; records are linked by the events that follow."""


class RecordLinked(ProfileEvent):
    """A source record was linked to the profile, with the score and per-field evidence."""

    record: ResidentRecord
    rule: LinkRule
    score: float
    evidence: tuple[FieldEvidence, ...] = ()


class RecordUpdated(ProfileEvent):
    """A new version of a record already linked to the profile (the source changed the row)."""

    record: ResidentRecord


class RecordEnded(ProfileEvent):
    """The source deleted a linked record; its values stop counting in survivorship."""

    source: str
    record_id: str


class ProfilesMerged(ProfileEvent):
    """Two profiles were found to be one resident.

    Recorded in both streams: the survivor takes ``records`` and ``reviews``; the merged-away
    profile becomes a redirect (``merged_into:<survivor>``).
    """

    survivor: str
    merged_away: str
    reason: str
    evidence: tuple[FieldEvidence, ...] = ()
    decided_by: str = "resolver"  # or the steward's id
    records: tuple[LinkedRecord, ...] = ()  # the merged-away profile's records, as they were
    reviews: tuple[PendingReview, ...] = ()

    @model_validator(mode="after")
    def _involves_profile(self) -> ProfilesMerged:
        if self.survivor == self.merged_away:
            raise ValueError("a profile cannot merge into itself")
        if self.profile_id not in (self.survivor, self.merged_away):
            raise ValueError("a merge event belongs to the survivor's or the merged-away profile's stream")
        return self


class ProfileSplit(ProfileEvent):
    """A steward moved records out of one profile into another (拆分).

    Recorded in both streams. ``to_profile`` may be new, or a merged-away profile whose id comes
    back: undoing a wrong merge is a split with ``undoes`` naming the merge event.
    """

    from_profile: str
    to_profile: str
    records: tuple[LinkedRecord, ...] = Field(min_length=1)
    steward: str
    reason: str
    undoes: str | None = None  # the ProfilesMerged event id this split reverses

    @model_validator(mode="after")
    def _involves_profile(self) -> ProfileSplit:
        if self.from_profile == self.to_profile:
            raise ValueError("a profile cannot split into itself")
        if self.profile_id not in (self.from_profile, self.to_profile):
            raise ValueError("a split event belongs to the from or the to profile's stream")
        return self


class ReviewRequested(ProfileEvent):
    """The matcher asks a steward whether ``record`` belongs to one of ``candidate_profile_ids``.

    Recorded once, in the stream of the provisional profile that holds ``record`` until a steward
    decides (confirm merges it into the chosen candidate; reject keeps it apart). The candidates'
    own streams are untouched until the decision.
    """

    review_id: str
    record: ResidentRecord
    candidate_profile_ids: tuple[str, ...] = Field(min_length=1)
    score: float
    evidence: tuple[FieldEvidence, ...] = ()


class ReviewResolved(ProfileEvent):
    """A steward decided a review; ``linked_profile_id`` is where the record went on confirm."""

    review_id: str
    decision: ReviewDecision
    steward: str
    note: str = ""
    linked_profile_id: str | None = None


class ResidentDeceased(ProfileEvent):
    """Derived: the profile's surviving death date (死亡注销) appeared."""

    deceased_on: date
    source: str
    record_id: str


class ResidentMoved(ProfileEvent):
    """Derived: the resident moved out (迁出) or their registered/residential address changed."""

    id_parts: ClassVar[tuple[str, ...]] = ("address_kind",)

    address_kind: MoveKind
    from_address: Address | None = None
    to_address: Address | None = None
    moved_on: date | None = None
    source: str
    record_id: str


class StewardCommand(BaseModel):
    """What a steward asks for; the resolver turns it into events (or refuses it)."""

    model_config = ConfigDict(frozen=True)

    command_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    steward: str
    issued_at: datetime


class ConfirmMatch(StewardCommand):
    """Link the reviewed record to ``profile_id`` (one of the review's candidates)."""

    review_id: str
    profile_id: str
    note: str = ""


class RejectMatch(StewardCommand):
    """The reviewed record is none of the candidates: it gets a profile of its own."""

    review_id: str
    note: str = ""


class SplitProfile(StewardCommand):
    """Move ``record_keys`` (``source:record_id``) out of ``profile_id`` into a new profile."""

    profile_id: str
    record_keys: tuple[str, ...] = Field(min_length=1)
    new_profile_id: str | None = None  # None: the resolver derives one from the command id
    reason: str


class UndoMerge(StewardCommand):
    """Reverse the merge ``merge_event_id``: the merged-away profile's id and records come back."""

    merge_event_id: str
    survivor: str
    merged_away: str
    reason: str


PROFILE_EVENT_TYPES: tuple[type[ProfileEvent], ...] = (
    ProfileCreated,
    RecordLinked,
    RecordUpdated,
    RecordEnded,
    ProfilesMerged,
    ProfileSplit,
    ReviewRequested,
    ReviewResolved,
    ResidentDeceased,
    ResidentMoved,
)
STEWARD_COMMAND_TYPES: tuple[type[StewardCommand], ...] = (ConfirmMatch, RejectMatch, SplitProfile, UndoMerge)

register(*PROFILE_EVENT_TYPES, *STEWARD_COMMAND_TYPES)
