"""The ports the stream agents write through, as abstract bases (#16).

The agents (``streams.app``) call them; the SQL adapters (``store.ledger.SourceRecordLedger``,
``store.profile_projection.ProfileProjection``, ``store.place_projection.PlaceProjection``) subclass them, and so do the unit tests' in-memory
fakes (``tests.fakes``); one contract suite (``tests/contract``) runs against both. Pure: what they
take is plain data (a message's place in its Kafka log beside what it said), so the adapters depend
on this module (entry points → adapters → core) and never on the agents.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from core.places import Assignment
from core.profile import Profile
from schemas.profile_events import ProfileEvent
from schemas.source_record import SourceRecord

__all__ = ["Delivered", "DeliveredEvent", "DeliveredPlaceEvent", "Gazetteer", "Ledger", "Projection"]


@dataclass(frozen=True)
class Delivered:
    """A record as Kafka delivered it: where it sat in the log, and what it said."""

    topic: str
    partition: int
    offset: int
    record: SourceRecord


@dataclass(frozen=True)
class DeliveredEvent:
    """A profile event as Kafka delivered it."""

    topic: str
    partition: int
    offset: int
    event: ProfileEvent


@dataclass(frozen=True)
class DeliveredPlaceEvent:
    """A places-topic message as Kafka delivered it: a standard-address row of the grid centre
    (``schemas.record_events.RecordStandardised``) or a steward's correction
    (``schemas.place_events.PlaceAssignmentCorrected``); anything else is passed over."""

    topic: str
    partition: int
    offset: int
    event: BaseModel


class Ledger(ABC):
    """The source-record ledger (来源记录台账): every version of every department record, landed
    from the raw topics as a projection with tracked positions.

    The contract every implementation keeps (``tests/contract/test_ledger.py``):

    - a version is kept once, by source, record id, content hash and change (an end is a version
      of its own), or by event id: a re-sent row at a new offset adds nothing;
    - the versions of one record read back in the order they were applied;
    - per topic and partition the highest offset applied is tracked beside the versions; a message
      at or below it counts as applied already (redelivery changes nothing, not even the position).
    """

    @abstractmethod
    def apply(self, batch: Sequence[Delivered]) -> int:
        """Keep the batch's new versions and advance the positions, all or nothing; returns how
        many versions were new."""

    @abstractmethod
    def count(self, source: str | None = None) -> int:
        """How many versions are kept (of ``source``, or of all sources)."""

    @abstractmethod
    def versions(self, source: str, record_id: str) -> list[SourceRecord]:
        """The versions kept of one record, oldest first, as kept: without their ``scope`` (the
        ledger does not keep it), ``observed_at`` in UTC."""

    @abstractmethod
    def position(self, topic: str, partition: int) -> int | None:
        """The highest offset applied from ``topic``'s ``partition`` (``None``: nothing yet)."""


class Projection(ABC):
    """The profile store (档案库) as a projection of the profile-events topic, with tracked positions.

    The contract every implementation keeps (``tests/contract/test_projection.py``):

    - the profiles read back are the fold of the events applied (``core.profile.apply_all``);
    - an event takes effect once: a message at or below its partition's position, or an event at a
      version its profile has reached, changes nothing (redelivery, even after later batches);
    - :meth:`skip` marks messages handled without applying them (the poison path), and never
      moves a position back.
    """

    @abstractmethod
    def apply(self, batch: Sequence[DeliveredEvent]) -> int:
        """Fold the batch's new events into the profiles and advance the positions, all or nothing;
        returns how many events took effect."""

    @abstractmethod
    def healthy(self) -> bool:
        """Whether the store answers (raises or returns ``False`` when it does not): with a batch
        failing, a healthy store means a message is to blame."""

    @abstractmethod
    def skip(self, delivered: Sequence[Any]) -> None:
        """Record ``delivered`` (anything with topic, partition, offset) as handled, unapplied."""

    @abstractmethod
    def profiles(self) -> Iterator[Profile]:
        """Every profile stored, folded (merged-away ones too), in no particular order."""


class Gazetteer(ABC):
    """The gazetteer (标准地址库) as a projection of the places topic, with tracked positions: the
    facts each message states about place keys, and each key's assignment (``core.places.assign``
    of its facts).

    The contract every implementation keeps (``tests/contract/test_place_projection.py``):

    - a standard-address row's facts (``core.places.record_facts``, origin ``standard_address``)
      replace those its record stated before; its end withdraws them;
    - a steward's correction replaces the key's earlier one, and wins; one without a community
      withdraws it;
    - a message at or below its partition's position changes nothing, not even the position
      (redelivery); the positions of the partitions are independent;
    - :meth:`skip` marks messages handled without applying them, and never moves a position back.
    """

    @abstractmethod
    def apply(self, batch: Sequence[DeliveredPlaceEvent]) -> int:
        """Apply the batch's new messages and advance the positions, all or nothing (profiles
        whose place an assignment that moved can change are re-derived where the store holds
        them); returns how many messages were new."""

    @abstractmethod
    def healthy(self) -> bool:
        """Whether the store answers (raises or returns ``False`` when it does not)."""

    @abstractmethod
    def skip(self, delivered: Sequence[Any]) -> None:
        """Record ``delivered`` (anything with topic, partition, offset) as handled, unapplied."""

    @abstractmethod
    def assignments(self, keys: Iterable[str]) -> dict[str, Assignment]:
        """The assignment of each of ``keys`` that has one (a key no fact speaks of is absent)."""
