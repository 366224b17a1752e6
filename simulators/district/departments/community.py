"""Community workers' door-to-door visit records (社区入户走访登记表).

What a worker writes standing in a doorway: the name as heard (homophones), an age instead of a
birth date, whichever phone the family gives, the flat in the community's own shorthand, the
head of household's name, the relation in plain words (妻子, 儿子), and notes (独居老人, 低保户,
租户, 已故). No ID numbers. Only visited households appear, and any field may be blank.

A door check (入户核实, :func:`render_door_check`) is a visit the hub asked for: written the same
way, with 核实方式 入户核实, and always the flat the worker finds the resident in.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Final

from simulators.district.codes import SEX
from simulators.district.config import NoiseConfig
from simulators.district.departments._common import (
    NativeRow,
    community_address,
    contact_phone,
    independent_fraction,
    opaque_number,
    pick_address,
    stable_fraction,
)
from simulators.district.model import Address, Resident
from simulators.district.noise import dot_variant, homophone, mistype_digit, typo_name

__all__ = ["COLUMNS", "DOOR_CHECK_COLUMNS", "RECORD_ID_COLUMN", "render_community", "render_door_check"]

RECORD_ID_COLUMN: Final = "走访编号"
COLUMNS: Final = ("走访编号", "街道", "社区", "网格", "姓名", "性别", "年龄", "联系电话", "居住地址", "户主姓名",
                  "与户主关系", "人员类型", "走访日期", "备注")  # fmt: skip
_SPOKEN_RELATION: Final = {
    "02": "本人", "11": "丈夫", "12": "妻子", "21": "儿子", "22": "儿子", "23": "儿子", "24": "儿子",
    "31": "女儿", "32": "女儿", "33": "女儿", "34": "女儿", "28": "女婿", "38": "儿媳", "41": "孙子",
    "42": "孙女", "43": "外孙", "44": "外孙女", "51": "父亲", "52": "母亲", "53": "公公", "54": "婆婆",
    "55": "岳父", "56": "岳母", "71": "哥哥", "73": "弟弟", "75": "姐姐", "77": "妹妹", "99": "合租",
}  # fmt: skip
_KIND: Final = {"registered": "户籍", "migrant": "流动", "foreign": "境外"}
DOOR_CHECK_COLUMNS: Final = (*COLUMNS, "核实方式")
AT_DOOR: Final = "入户核实"


def render_community(
    resident: Resident, rng: random.Random, noise: NoiseConfig, household: tuple[Resident, ...] = ()
) -> NativeRow | None:
    """The visit record, or ``None`` if the household was not visited (or the person left).

    ``household`` (the resident's household members, head first) lets the worker write the
    head's name; without it ``户主姓名`` stays blank.
    """
    if resident.left_on is not None:
        return None
    if stable_fraction(f"visit:{resident.household_id}") >= noise.cm_household_coverage:
        return None
    visited_on = noise.observed_on - timedelta(days=int(stable_fraction(f"day:{resident.household_id}") * 365))
    if visited_on < resident.registered_on:
        return None
    dead = resident.death_date is not None and resident.death_date <= visited_on
    address = pick_address(resident, rng, noise.cm_stale_address_rate)
    if resident.moved_on is not None and visited_on < resident.moved_on and resident.previous_address is not None:
        address = resident.previous_address
    record_id = f"ZF{opaque_number(resident.number, 10**8, 55_440_077, 14_142_135):08d}"
    return _visit_row(resident, rng, noise, household, record_id, address, visited_on, dead)


def render_door_check(
    resident: Resident, rng: random.Random, noise: NoiseConfig, household: tuple[Resident, ...] = (), *,
    visited_on: date, round_number: int = 1, seed: int = 0,
) -> NativeRow | None:
    """The answer to a door check (入户核实) the hub asked for on ``visited_on``, or ``None`` when there
    is none: nobody to find (the resident left the district or died), or nobody at home, which
    happens as often as a visit round misses a household (``1 - cm_household_coverage``).

    The worker writes the flat she finds the resident in (never a roster's stale one: she is at the
    door), with the same noise as every visit (name as heard, phone typos, the community's
    shorthand, blank fields), 核实方式 入户核实, and a 走访编号 of its own: a new visit, one per round.
    """
    if not resident.present or visited_on < resident.registered_on:
        return None
    # drawn afresh for each visit (seed, round, household): nobody is out on every round
    if independent_fraction(f"door:{seed}:{round_number}:{resident.household_id}") >= noise.cm_household_coverage:
        return None
    number = opaque_number(resident.number, 10**8, 37_573_169, 27_182_818)
    row = _visit_row(resident, rng, noise, household, f"HS{round_number}-{number:08d}", resident.address,
                     visited_on, dead=False)
    row["核实方式"] = AT_DOOR
    return row


def _visit_row(resident: Resident, rng: random.Random, noise: NoiseConfig, household: tuple[Resident, ...],
               record_id: str, address: Address, visited_on: date, dead: bool) -> NativeRow:
    age = resident.age_on(visited_on)
    if rng.random() < noise.cm_age_off_by_one_rate:
        age += rng.choice((-1, 1))
    phone = contact_phone(resident, rng, prefer_landline=age >= 65)
    if phone is not None and rng.random() < noise.cm_phone_typo_rate:
        phone = mistype_digit(phone, rng)
    head = next((m for m in household if m.relation == "02"), None)
    head_name = ""
    if head is not None:
        head_name = (head.chinese_name or head.name) if head.category == "foreign" else head.name
    row: NativeRow = {
        "走访编号": record_id,
        "街道": address.street,
        "社区": address.community,
        "网格": address.grid,
        "姓名": _heard_name(resident, rng, noise),
        "性别": SEX[resident.sex],
        "年龄": str(max(age, 0)),
        "联系电话": phone or "",
        "居住地址": community_address(address, rng),
        "户主姓名": head_name,
        "与户主关系": _SPOKEN_RELATION.get(resident.relation, ""),
        "人员类型": _KIND[resident.category],
        "走访日期": visited_on.isoformat(),
        "备注": "；".join(_notes(resident, household, visited_on, dead)),
    }
    for column in ("性别", "年龄", "联系电话", "户主姓名", "与户主关系"):
        if rng.random() < noise.cm_missing_field_rate:
            row[column] = ""
    return row


def _heard_name(resident: Resident, rng: random.Random, noise: NoiseConfig) -> str:
    if resident.category == "foreign":
        if resident.chinese_name is not None and rng.random() < 0.6:
            return resident.chinese_name
        return resident.name
    if "·" in resident.name:
        return dot_variant(resident.name, rng) if rng.random() < 0.5 else resident.name
    roll = rng.random()
    if resident.surname and roll < noise.cm_name_homophone_rate:
        return resident.surname + homophone(resident.given_name, rng)
    if resident.surname and roll < noise.cm_name_homophone_rate + noise.cm_name_typo_rate:
        return typo_name(resident.surname, resident.given_name, rng)
    return resident.name


def _notes(resident: Resident, household: tuple[Resident, ...], visited_on: date, dead: bool) -> list[str]:
    notes = []
    if dead and resident.death_date is not None:
        notes.append(f"已故（{resident.death_date.year}年{resident.death_date.month}月）")
    age = resident.age_on(visited_on)
    living = [m for m in household if m.death_date is None or m.death_date > visited_on]
    if age >= 65 and len(living) == 1:
        notes.append("独居老人")
    elif age >= 80:
        notes.append("高龄老人")
    if "城市低保" in resident.assistance:
        notes.append("低保户")
    if "特困供养" in resident.assistance:
        notes.append("特困人员")
    if resident.disability_grade is not None:
        notes.append(f"残疾人（{resident.disability_grade}级）")
    if resident.tenure == "tenant" and resident.relation == "02":
        notes.append("租户")
    if "twin" in resident.hard_cases:
        notes.append("双胞胎")
    if resident.category == "registered" and not resident.hukou_address.endswith(resident.address.locality):
        notes.append("人户分离")
    return notes
