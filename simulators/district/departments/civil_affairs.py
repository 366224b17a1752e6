"""Civil affairs (民政) assistance ledger (救助台账) rows, as typed into Excel by sub-district clerks.

Only residents entitled to a programme appear (城市低保, 特困供养, 高龄津贴, 残疾人两项补贴), one
row each with the programmes joined by "、". Hand-typed: some rows in traditional characters,
ID numbers with full-width digits, spaces or a lower-case x, addresses with or without the
city/district prefix. ``序号`` is the row's position in the exported ledger (filled in by
``render_district``); ``档案编号`` is the stable record id.
"""

from __future__ import annotations

import random
from typing import Final

from simulators.district.codes import SEX
from simulators.district.config import NoiseConfig
from simulators.district.departments._common import NativeRow, contact_phone, opaque_number, pick_address
from simulators.district.model import Resident
from simulators.district.noise import (
    dot_variant,
    fullwidth,
    homophone,
    space_id,
    to_traditional,
    typo_name,
)

__all__ = ["COLUMNS", "RECORD_ID_COLUMN", "monthly_amount", "render_civil_affairs"]

RECORD_ID_COLUMN: Final = "档案编号"
COLUMNS: Final = ("序号", "档案编号", "姓名", "性别", "身份证号", "救助类别", "家庭住址", "联系电话", "发放金额",
                  "发放月份", "所属街道", "所属社区", "备注")  # fmt: skip


def monthly_amount(resident: Resident, age: int) -> float:
    """Yuan per month across the person's programmes (Nanjing-like levels, not official figures)."""
    total = 0.0
    for programme in resident.assistance:
        if programme == "城市低保":
            total += 1100.0
        elif programme == "特困供养":
            total += 1430.0
        elif programme == "高龄津贴":
            total += 100.0 if age < 90 else 300.0 if age < 100 else 600.0
        elif programme == "残疾人两项补贴":
            total += 200.0 if (resident.disability_grade or 4) <= 2 else 150.0
    return total


def render_civil_affairs(
    resident: Resident, rng: random.Random, noise: NoiseConfig, household: tuple[Resident, ...] = ()
) -> NativeRow | None:
    """The ledger row of an entitled resident, or ``None``."""
    if not resident.assistance or resident.left_on is not None:
        return None
    if rng.random() >= noise.ca_coverage:
        return None
    if resident.death_date is not None and rng.random() >= noise.ca_keeps_deceased_rate:
        return None
    traditional = rng.random() < noise.ca_traditional_rate
    name = _name(resident, rng, noise)
    address = pick_address(resident, rng, noise.ca_stale_address_rate)
    address_text = address.locality if rng.random() < noise.ca_short_address_rate else address.full_text()
    if rng.random() < 0.3:
        address_text = address_text.removesuffix("室")
    if traditional:
        name, address_text = to_traditional(name), to_traditional(address_text)
    phone = contact_phone(resident, rng, prefer_landline=True)
    if rng.random() < noise.ca_missing_phone_rate:
        phone = None
    observed = noise.observed_on
    return {
        "序号": "",
        "档案编号": f"QHMZ{opaque_number(resident.number, 10**8, 19_260_817, 33_550_336):08d}",
        "姓名": name,
        "性别": SEX[resident.sex],
        "身份证号": _id_as_typed(resident.id_number or "", rng, noise),
        "救助类别": "、".join(resident.assistance),
        "家庭住址": address_text,
        "联系电话": phone or "",
        "发放金额": f"{monthly_amount(resident, resident.age_on(observed)):.2f}",
        "发放月份": f"{observed:%Y-%m}",
        "所属街道": address.street,
        "所属社区": address.community,
        "备注": "",
    }


def _name(resident: Resident, rng: random.Random, noise: NoiseConfig) -> str:
    if "·" in resident.name:
        return dot_variant(resident.name, rng) if rng.random() < 0.6 else resident.name
    roll = rng.random()
    if resident.surname and roll < noise.ca_name_typo_rate:
        return typo_name(resident.surname, resident.given_name, rng)
    if resident.surname and roll < noise.ca_name_typo_rate + noise.ca_name_homophone_rate:
        return resident.surname + homophone(resident.given_name, rng)
    return resident.name


def _id_as_typed(id_number: str, rng: random.Random, noise: NoiseConfig) -> str:
    text = id_number
    if text.endswith("X") and rng.random() < noise.ca_lowercase_x_rate:
        text = text[:-1] + "x"
    roll = rng.random()
    if roll < noise.ca_fullwidth_id_rate:
        text = fullwidth(text)
    elif roll < noise.ca_fullwidth_id_rate + noise.ca_spaced_id_rate:
        text = space_id(text, rng)
    return text
