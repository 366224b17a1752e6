"""Housing (住建/房管) rows: property registrations (产权登记) and lease filings (租赁备案).

One row per household head whose flat is registered: owners under ``产权人``, tenants under
``承租人`` (the other column empty), the spouse as ``共有人`` on property rows. ID numbers are
often missing, foreigners give a passport, names get padded with spaces, and the flat is written
in short forms ("12-3-2-301", "某某小区3幢2单元301"). ``备案编号`` is the record id (a property
certificate number or a lease filing number).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Final

from simulators.district.config import NoiseConfig
from simulators.district.departments._common import (
    NativeRow,
    abbreviated_address,
    opaque_number,
    pick_address,
)
from simulators.district.model import Address, Resident
from simulators.district.noise import format_mobile, space_name

__all__ = ["COLUMNS", "RECORD_ID_COLUMN", "render_housing"]

RECORD_ID_COLUMN: Final = "备案编号"
_LATEST: Final = date(2024, 6, 30)
"""Registrations of people already here are dated before the default snapshot day."""
COLUMNS: Final = ("备案编号", "业务类型", "产权人", "承租人", "共有人", "证件类型", "证件号码", "联系电话", "房屋坐落",
                  "建筑面积", "登记日期")  # fmt: skip


def render_housing(
    resident: Resident, rng: random.Random, noise: NoiseConfig, household: tuple[Resident, ...] = ()
) -> NativeRow | None:
    """The head's property or lease row, or ``None`` (not a head, or never registered)."""
    if resident.relation != "02":
        return None
    owner = resident.tenure == "owner"
    if rng.random() >= (noise.hs_owner_coverage if owner else noise.hs_lease_filing_rate):
        return None
    address = pick_address(resident, rng, noise.hs_stale_address_rate)
    foreign = resident.category == "foreign"
    name = resident.name
    if foreign:
        name = resident.name if rng.random() < 0.6 else f"{resident.surname.upper()} {resident.given_name.upper()}"
    elif rng.random() < noise.hs_spaced_name_rate:
        name = space_name(name, rng)
    document = resident.passport_number if foreign else resident.id_number
    document_kind = "护照" if foreign else "身份证"
    if rng.random() < noise.hs_missing_id_rate:
        document = None
        document_kind = "" if rng.random() < 0.5 else document_kind
    phone = None if resident.mobile is None or rng.random() < noise.hs_missing_phone_rate else format_mobile(resident.mobile, rng)
    spouse = next((m for m in household if m.resident_id == resident.spouse_id), None)
    registered = _registered_on(resident, address, owner)
    number = opaque_number(resident.number, 10**7, 7_368_787, 1_618_033)
    year = registered.year
    record_id = f"苏({year})宁秦不动产权第{number:07d}号" if owner else f"宁秦租备字({year})第{number:07d}号"
    return {
        "备案编号": record_id,
        "业务类型": "产权登记" if owner else "租赁备案",
        "产权人": name if owner else "",
        "承租人": "" if owner else name,
        "共有人": spouse.name if owner and spouse is not None and rng.random() < 0.7 else "",
        "证件类型": document_kind,
        "证件号码": document or "",
        "联系电话": phone or "",
        "房屋坐落": abbreviated_address(address, rng),
        "建筑面积": f"{_floor_area(address):.2f}",
        "登记日期": registered.isoformat(),
    }


def _floor_area(address: Address) -> float:
    """A flat's area in m², fixed by the flat itself (two registrations of one flat agree)."""
    digits = int("".join(c for c in address.dwelling_id if c.isdigit()))
    return 38.0 + (digits * 7919 % 9000) / 100.0


def _registered_on(resident: Resident, address: Address, owner: bool) -> date:
    """Owners registered when they bought (on moving in, for a recent move); leases after arrival.

    Drawn from its own stream, fixed by the person and the flat, because the date is part of
    the record id: a new phone number or a later export must not make a new certificate.
    """
    rng = random.Random(f"housing:{resident.number}:{address.dwelling_id}")
    current = address == resident.address
    if current and resident.moved_on is not None:
        return resident.moved_on
    if owner:
        start = max(resident.registered_on, date(1998, 1, 1), resident.birth_date + timedelta(days=22 * 365))
    else:
        start = max(resident.registered_on, date(2015, 1, 1))
    end = min(start + timedelta(days=3650), _LATEST)
    if not current and resident.moved_on is not None:
        end = min(end, resident.moved_on)
    end = max(start, end)
    return start + timedelta(days=rng.randrange((end - start).days + 1))
