"""The resident profile (居民画像): the fold of one profile's events.

A profile holds the linked source records (latest version of each), the surviving value of every
canonical field with its provenance and the values that disagree (:class:`GoldenFields`), the
pending reviews and a short history. It is plain data: ``core.profile.fold`` builds it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from schemas.profile_events import LinkedRecord, PendingReview
from schemas.resident import Address, Sex

V = TypeVar("V")

ACTIVE = "active"
MERGED_INTO = "merged_into:"


class Provenance(BaseModel):
    """Where a value came from: which record of which source, observed when."""

    model_config = ConfigDict(frozen=True)

    source: str
    record_id: str
    observed_at: datetime


class Observation(BaseModel, Generic[V]):
    """One record's value for one field."""

    model_config = ConfigDict(frozen=True)

    value: V
    provenance: Provenance


class Golden(BaseModel, Generic[V]):
    """The surviving value of a field, and the other sources' values that disagree with it."""

    model_config = ConfigDict(frozen=True)

    value: V
    provenance: Provenance
    conflicts: tuple[Observation[V], ...] = ()
    conflicted: bool = False  # set with ``conflicts`` so readers (and SQL) can filter on it


class GoldenFields(BaseModel):
    """The surviving value of each canonical field (一数一源). Absent fields are ``None``.

    Registered (户籍, from public security) and residential (现住) addresses are separate fields
    and never stand in for each other.
    """

    model_config = ConfigDict(frozen=True)

    name: Golden[str] | None = None
    id_number: Golden[str] | None = None
    sex: Golden[Sex] | None = None
    birth_date: Golden[date] | None = None
    birth_month: Golden[str] | None = None
    phones: Golden[tuple[str, ...]] | None = None
    registered_address: Golden[Address] | None = None
    residential_address: Golden[Address] | None = None
    property_address: Golden[Address] | None = None
    household_id: Golden[str] | None = None
    relation_to_head: Golden[str] | None = None
    ethnicity: Golden[str] | None = None
    marital_status: Golden[str] | None = None
    nationality: Golden[str] | None = None
    deceased_on: Golden[date] | None = None
    moved_out_on: Golden[date] | None = None
    attributes: dict[str, Golden[str]] = Field(default_factory=dict)

    @property
    def conflicted_fields(self) -> tuple[str, ...]:
        """Names of the fields whose sources disagree (``attributes.<key>`` for attributes)."""
        names = [name for name in type(self).model_fields if name != "attributes"
                 and (golden := getattr(self, name)) is not None and golden.conflicted]
        names += [f"attributes.{key}" for key, golden in sorted(self.attributes.items()) if golden.conflicted]
        return tuple(names)


class HistoryEntry(BaseModel):
    """One event, summarised for stewards; no ID numbers appear in a summary."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    event_type: str
    version: int
    occurred_at: datetime
    caused_by: str
    summary: str


class Profile(BaseModel):
    """One resident: the fold of the events of one profile stream.

    ``status`` is ``"active"`` or ``"merged_into:<survivor id>"``: a merged-away profile stays as
    a redirect so that readers holding its id are sent on.
    """

    model_config = ConfigDict(frozen=True)

    profile_id: str
    version: int = Field(ge=1)
    status: str = Field(default=ACTIVE, pattern=r"^(active|merged_into:.+)$")
    created_at: datetime
    updated_at: datetime
    records: dict[str, LinkedRecord] = Field(default_factory=dict)  # "source:record_id" → record
    golden: GoldenFields = Field(default_factory=GoldenFields)
    pending_reviews: dict[str, PendingReview] = Field(default_factory=dict)  # review id → review
    history: tuple[HistoryEntry, ...] = ()

    @property
    def merged_into(self) -> str | None:
        return self.status.removeprefix(MERGED_INTO) if self.status.startswith(MERGED_INTO) else None

    @property
    def is_active(self) -> bool:
        return self.status == ACTIVE

    @property
    def live_records(self) -> dict[str, LinkedRecord]:
        """The linked records the source has not deleted: the ones survivorship reads."""
        return {key: linked for key, linked in self.records.items() if not linked.ended}

    @property
    def household_id(self) -> str | None:
        """The surviving household number (户号); members come from ``household_members``."""
        return self.golden.household_id.value if self.golden.household_id else None
