"""What the department renderers share: record-id scrambling, address spellings, phone choice."""

from __future__ import annotations

import hashlib
import random
import zlib
from datetime import date, datetime, time, timedelta
from typing import Literal, Protocol

from simulators.district.config import NoiseConfig
from simulators.district.model import Address, Resident
from simulators.district.noise import format_landline, format_mobile

__all__ = [
    "Department",
    "NativeRow",
    "Renderer",
    "abbreviated_address",
    "community_address",
    "independent_fraction",
    "opaque_number",
    "passport_name",
    "pick_address",
    "stable_fraction",
    "stamp",
]

Department = Literal["public_security", "social_security", "civil_affairs", "housing", "community"]
NativeRow = dict[str, str | None]
"""One row as the department's system holds it: its own column names, its own value spellings."""


class Renderer(Protocol):
    def __call__(
        self, resident: Resident, rng: random.Random, noise: NoiseConfig, household: tuple[Resident, ...] = ()
    ) -> NativeRow | None: ...


def opaque_number(number: int, modulus: int, multiplier: int, offset: int) -> int:
    """A department's own running number for a resident: unique (an affine bijection mod
    ``modulus``), stable across runs, and unrelated to the ID number."""
    return (multiplier * number + offset) % modulus


def stable_fraction(key: str) -> float:
    """A number in [0, 1) fixed by ``key``, for decisions shared by a whole household."""
    return zlib.crc32(key.encode("utf-8")) / 2**32


def independent_fraction(key: str) -> float:
    """Like :func:`stable_fraction`, but independent of it for another salt of the same household:
    CRC-32 is linear, so ``stable_fraction("door:…" + h)`` would be a function of
    ``stable_fraction("visit:…" + h)`` (every household a visit round missed would be at home)."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big") / 2**64


def stamp(resident: Resident, salt: int, *, missed_move: bool = False) -> datetime:
    """When the department last wrote the row: the day of the last true change, in office hours.
    A row that still shows the old address (``missed_move``) was last written before the move it
    never heard of (unless the death was recorded on it since).

    Derived from the resident, not from the random stream, so an unchanged resident keeps it.
    """
    seconds = 8 * 3600 + (resident.number * 7919 + salt * 104_729 + resident.last_changed.toordinal()) % (10 * 3600)
    day = resident.last_changed + timedelta(days=(resident.number + salt) % 4)
    if missed_move and resident.moved_on is not None and resident.death_date is None:
        before = resident.moved_on - timedelta(days=1 + (resident.number * 31 + salt) % 365)
        day = min(max(resident.registered_on, before), resident.moved_on - timedelta(days=1))
    return datetime.combine(day, time()) + timedelta(seconds=seconds)


def pick_address(resident: Resident, rng: random.Random, stale_rate: float) -> Address:
    """The current address, or for a resident who moved, sometimes the old one still on file."""
    if resident.previous_address is not None and rng.random() < stale_rate:
        return resident.previous_address
    return resident.address


def _building_word(rng: random.Random) -> str:
    return rng.choices(("幢", "栋", "号楼"), weights=(0.5, 0.4, 0.1))[0]


def community_address(address: Address, rng: random.Random) -> str:
    """How a community worker writes a flat: "瑞金北村3栋2单元301", "瑞金路12号3-2-301"."""
    if address.compound is None:
        return f"{address.road}{address.number}号"
    style = rng.random()
    if style < 0.45:
        return f"{address.compound}{address.building}{_building_word(rng)}{address.unit}单元{address.room}"
    if style < 0.75:
        return f"{address.road}{address.number}号{address.building}-{address.unit}-{address.room}"
    if style < 0.9:
        return f"{address.compound}{address.building}-{address.unit}-{address.room}室"
    return address.locality


def abbreviated_address(address: Address, rng: random.Random) -> str:
    """Housing's short spellings: "12-3-2-301" (number-building-unit-room), "某某小区3幢2单元301"."""
    if address.compound is None:
        return f"{address.road}{address.number}号"
    style = rng.random()
    if style < 0.35:
        return f"{address.road}{address.number}-{address.building}-{address.unit}-{address.room}"
    if style < 0.7:
        return f"{address.compound}{address.building}{_building_word(rng)}{address.unit}单元{address.room}"
    if style < 0.85:
        return f"{address.compound}{address.building}-{address.unit}-{address.room}"
    return f"秦淮区{address.road}{address.number}号{address.building}幢{address.unit}单元{address.room}室"


def passport_name(resident: Resident) -> str:
    """The machine-readable passport spelling: upper case, family name first, Ü → UE."""
    text = f"{resident.surname} {resident.given_name}".upper()
    for plain, ascii_form in (("Ü", "UE"), ("Ö", "OE"), ("Ä", "AE"), ("ß", "SS")):
        text = text.replace(plain, ascii_form)
    return text


def contact_phone(resident: Resident, rng: random.Random, prefer_landline: bool = False) -> str | None:
    """A phone to call the resident on, written as people write it."""
    if resident.home_phone is not None and (resident.mobile is None or (prefer_landline and rng.random() < 0.6)):
        return format_landline(resident.home_phone, rng)
    if resident.mobile is not None:
        return format_mobile(resident.mobile, rng)
    return None


def iso_day(day: date | None) -> str:
    return "" if day is None else day.isoformat()
