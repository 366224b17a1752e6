"""Public security (公安) household-register rows: the most authoritative source, little noise.

One row per person known to the police station: registered residents (户籍人口), migrants with a
residence registration (流动人口), foreigners with an accommodation registration (境外人员).
Old rows of people born before 1980 sometimes still hold the 15-digit ID number.
"""

from __future__ import annotations

import random
from typing import Final

from simulators.district.codes import ETHNICITY, NATIONALITY, RELATION, SEX
from simulators.district.config import NoiseConfig
from simulators.district.departments._common import (
    NativeRow,
    contact_phone,
    iso_day,
    opaque_number,
    passport_name,
    pick_address,
    stamp,
)
from simulators.district.id_numbers import to_legacy_15
from simulators.district.model import Resident
from simulators.district.noise import typo_name

__all__ = ["COLUMNS", "RECORD_ID_COLUMN", "render_public_security"]

RECORD_ID_COLUMN: Final = "人员编号"
COLUMNS: Final = (
    "人员编号", "户号", "姓名", "曾用名", "性别", "民族", "出生日期", "公民身份号码", "护照号码", "国籍",
    "与户主关系", "户籍地址", "现住址", "人员类别", "人员状态", "注销日期", "联系电话", "updated_at",
)  # fmt: skip
_CATEGORY: Final = {"registered": "户籍人口", "migrant": "流动人口", "foreign": "境外人员"}


def render_public_security(
    resident: Resident, rng: random.Random, noise: NoiseConfig, household: tuple[Resident, ...] = ()
) -> NativeRow | None:
    """The police station's row for ``resident`` (everyone living here is registered somewhere)."""
    foreign = resident.category == "foreign"
    id_number = resident.id_number or ""
    if id_number and resident.birth_date.year < 1980 and rng.random() < noise.ps_legacy_id_rate:
        id_number = to_legacy_15(id_number)
    name = passport_name(resident) if foreign else resident.name
    if not foreign and resident.surname and rng.random() < noise.ps_name_typo_rate:
        name = typo_name(resident.surname, resident.given_name, rng)
    address = pick_address(resident, rng, noise.ps_stale_address_rate)
    phone = contact_phone(resident, rng) if rng.random() < noise.ps_phone_rate else None
    if resident.death_date is not None:
        status, ended = "死亡注销", resident.death_date
    elif resident.left_on is not None:
        status, ended = "迁出注销", resident.left_on
    else:
        status, ended = "正常", None
    return {
        "人员编号": f"GA{opaque_number(resident.number, 10**10, 6_700_417, 1_234_567_891):010d}",
        "户号": resident.hukou_number or "",
        "姓名": name,
        "曾用名": "、".join(resident.former_names),
        "性别": SEX[resident.sex],
        "民族": ETHNICITY[resident.ethnicity] if resident.ethnicity else "",
        "出生日期": resident.birth_date.isoformat(),
        "公民身份号码": id_number,
        "护照号码": resident.passport_number or "",
        "国籍": NATIONALITY.get(resident.nationality, resident.nationality),
        "与户主关系": RELATION[resident.relation] if resident.category == "registered" else "",
        "户籍地址": resident.hukou_address,
        "现住址": address.full_text(),
        "人员类别": _CATEGORY[resident.category],
        "人员状态": status,
        "注销日期": iso_day(ended),
        "联系电话": phone or "",
        "updated_at": stamp(resident, 1, missed_move=address is resident.previous_address).strftime("%Y-%m-%d %H:%M:%S"),
    }
