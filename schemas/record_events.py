"""What the standardise stage publishes on the ``records`` topic: one event per source-record version."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from schemas.codec import register
from schemas.resident import ResidentRecord
from schemas.source_record import RecordChange


class RecordStandardised(BaseModel):
    """A source-record version in canonical form (or its end), ready to resolve."""

    model_config = ConfigDict(frozen=True)

    event_id: str  # the source record's event id (a redelivered raw message gives the same id)
    source: str
    record_id: str
    change: RecordChange
    content_hash: str
    observed_at: datetime
    record: ResidentRecord | None = None  # None for an end event
    # A re-standardisation after a mapping fix (``onceonly restandardise``): the source-record
    # version it reads again. Its own ``event_id`` is derived from that version and the new
    # standardised form, and its ``content_hash`` from both hashes, so the resolver takes it as a
    # new version of the record (``core.standardise.stage.restandardise_envelope``).
    source_event_id: str | None = None

    @property
    def cause(self) -> str:
        """The source-record version this event standardises."""
        return self.source_event_id or self.event_id

    @property
    def key(self) -> str:
        return f"{self.source}:{self.record_id}"


register(RecordStandardised)


class MatcherSwitched(BaseModel):
    """A control record on the ``records`` topic: from here on, resolve with the matcher parameters
    ``version``. The switch's place in the log is the resolver's (not a clock's), so resolving the
    same records again switches at the same record and makes the same events. Announced by
    ``onceonly train`` when it stores a version, by a worker when it starts, and by the resolve
    agent when it finds a newer version stored; a repeated announcement changes nothing."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    version: str
    announced_at: datetime

    @classmethod
    def to(cls, version: str, at: datetime) -> MatcherSwitched:
        return cls(event_id=f"matcher-switch:{version}", version=version, announced_at=at)


register(MatcherSwitched)
