"""The canonical resident record: a source record standardised into the hub's fields.

Field names are the hub's own; each department's mapping file says which native column feeds
which field. Everything here is plain data: the standardiser (``core.standardise``) fills it,
the matcher and the profile fold read it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Sex = Literal["male", "female", "unknown"]
NameScript = Literal["han", "latin", "mixed", "empty"]
IdKind = Literal["ric", "passport", "hk_macao_permit", "taiwan_permit", "foreigner_permit", "other"]
AddressKind = Literal["registered", "residential", "property"]


class Address(BaseModel):
    """A parsed address (地址): district 区 / sub-district 街道 / community 社区 / road 路 /
    number 号 / building 栋 / unit 单元 / room 室. Missing parts stay ``None``.

    ``number_suffix`` is a 附号 ("19号之一", "19-1号", "19号附1" → number "19", suffix "1");
    ``floor`` is a floor written apart from the room ("3楼301", "5层").
    """

    model_config = ConfigDict(frozen=True)

    raw: str
    city: str | None = None
    district: str | None = None
    subdistrict: str | None = None
    community: str | None = None
    road: str | None = None
    number: str | None = None
    compound: str | None = None
    building: str | None = None
    unit: str | None = None
    room: str | None = None
    number_suffix: str | None = None
    floor: str | None = None

    @property
    def dwelling_key(self) -> str | None:
        """A key for "the same flat": road+number or compound, then building/unit/room."""
        door = f"{self.number}-{self.number_suffix}" if self.number and self.number_suffix else self.number
        place = self.compound or (f"{self.road or ''}{door or ''}" or None)
        if not place or not self.room:
            return None
        return "|".join(p or "" for p in (place, self.building, self.unit, self.room))


class OtherId(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: IdKind
    value: str


class ResidentRecord(BaseModel):
    """One source record in canonical form (标准化居民记录)."""

    model_config = ConfigDict(frozen=True)

    source: str
    record_id: str
    observed_at: datetime

    name: str | None = None  # standardised: simplified, half-width, no stray spaces
    name_raw: str | None = None
    name_script: NameScript = "empty"
    name_pinyin: str | None = None  # space-separated syllables; Latin names lower-cased tokens

    id_number: str | None = None  # a valid 18-digit citizen ID number (公民身份号码)
    id_number_invalid: str | None = None  # kept as evidence only, never as identity
    other_ids: tuple[OtherId, ...] = ()

    sex: Sex = "unknown"
    birth_date: date | None = None
    birth_month: str | None = None  # "YYYY-MM" when only the month is known

    phones: tuple[str, ...] = ()  # E.164, mobiles and landlines
    addresses: dict[AddressKind, Address] = Field(default_factory=dict)

    household_id: str | None = None  # 户号
    relation_to_head: str | None = None  # GB/T 4761 code
    ethnicity: str | None = None  # GB 3304 code
    marital_status: str | None = None  # GB/T 2261.2 code
    nationality: str | None = None  # ISO 3166 alpha-3

    deceased_on: date | None = None
    moved_out_on: date | None = None
    # When the record's dwelling was last known to be current (core.places.derive): the day a
    # register last changed the row itself (not a batch job's re-stamp), or the day a worker saw
    # the resident at the door (a visit's form is often pre-filled from the roster).
    changed_on: date | None = None
    seen_on: date | None = None
    attributes: dict[str, str] = Field(default_factory=dict)  # e.g. assistance status (sensitive)
    warnings: tuple[str, ...] = ()  # what the standardiser doubted, e.g. "birth date disagrees with ID"
