"""Social security (人社) insured-person records, as its HTTP API returns them (pinyin-initial keys).

Keys: ``grbh`` 个人编号 (the record id), ``xm`` 姓名, ``zjlx`` 证件类型 ("01" 居民身份证,
"06" 外国人护照), ``sfzhm`` 证件号码 (a passport number for foreigners, despite the key),
``xb`` 性别 (GB/T 2261.1 "1"/"2"), ``csny`` 出生年月 (YYYYMM only), ``mz`` 民族 code, ``gj``
国籍 (alpha-3), ``sjhm`` 手机号码, ``dwmc`` 单位名称, ``cbzt`` 参保状态 ("1" 参保缴费, "2" 暂停缴费,
"3" 终止参保, "4" 待遇享受/退休), ``xzlx`` 险种类型 ("110" 企业职工基本养老保险, "170" 城乡居民基本
养老保险, "390" 城乡居民基本医疗保险), ``cbrq`` 参保日期 (YYYYMMDD), ``txdz`` 通讯地址, ``gxsj``
更新时间 (ISO 8601). Missing values are ``None`` (JSON null). About 2% of ID numbers are mistyped.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Final

from simulators.district.config import NoiseConfig
from simulators.district.departments._common import NativeRow, opaque_number, pick_address, stamp
from simulators.district.model import Resident
from simulators.district.noise import dot_variant, homophone, mistype_id, typo_name

__all__ = ["COLUMNS", "RECORD_ID_COLUMN", "render_social_security"]

RECORD_ID_COLUMN: Final = "grbh"
COLUMNS: Final = ("grbh", "xm", "zjlx", "sfzhm", "xb", "csny", "mz", "gj", "sjhm", "dwmc", "cbzt", "xzlx", "cbrq",
                  "txdz", "gxsj")  # fmt: skip


def render_social_security(
    resident: Resident, rng: random.Random, noise: NoiseConfig, household: tuple[Resident, ...] = ()
) -> NativeRow | None:
    """The insured-person record, or ``None`` for someone never insured here."""
    age = resident.age_on(noise.observed_on)
    if resident.category == "foreign":
        coverage = noise.ss_foreign_coverage * (1.0 if resident.employer else 0.3)
    else:
        coverage = noise.ss_adult_coverage if age >= 18 else noise.ss_child_coverage
    if rng.random() >= coverage:
        return None
    foreign = resident.category == "foreign"
    if foreign:
        name = f"{resident.given_name} {resident.surname}".upper() if rng.random() < 0.5 else resident.name
        document = resident.passport_number
    else:
        name = _chinese_name(resident, rng, noise)
        document = resident.id_number
        if document is not None and rng.random() < noise.ss_id_typo_rate:
            document = mistype_id(document, rng)
    mobile = resident.mobile
    if resident.previous_mobile is not None and rng.random() < noise.ss_stale_mobile_rate:
        mobile = resident.previous_mobile
    if mobile is not None and rng.random() < noise.ss_missing_mobile_rate:
        mobile = None
    address = pick_address(resident, rng, noise.ss_stale_address_rate)
    status, scheme = _status(resident, rng, noise, age)
    enrolled_on = _enrolled_on(resident, rng, noise.observed_on)
    updated = stamp(resident, 2)
    if updated.date() < enrolled_on:
        updated = datetime.combine(enrolled_on, updated.time())
    return {
        "grbh": f"32{opaque_number(resident.number, 10**8, 40_503_643, 27_182_818):08d}",
        "xm": name,
        "zjlx": "06" if foreign else "01",
        "sfzhm": document,
        "xb": resident.sex,
        "csny": f"{resident.birth_date:%Y%m}",
        "mz": resident.ethnicity,
        "gj": resident.nationality,
        "sjhm": mobile,
        "dwmc": resident.employer,
        "cbzt": status,
        "xzlx": scheme,
        "cbrq": f"{enrolled_on:%Y%m%d}",
        "txdz": address.locality if rng.random() < 0.6 else f"南京市秦淮区{address.locality}",
        "gxsj": updated.isoformat(),
    }


def _chinese_name(resident: Resident, rng: random.Random, noise: NoiseConfig) -> str:
    if "·" in resident.name:
        return dot_variant(resident.name, rng) if rng.random() < 0.5 else resident.name
    roll = rng.random()
    if resident.surname and roll < noise.ss_name_homophone_rate:
        return resident.surname + homophone(resident.given_name, rng)
    if resident.surname and roll < noise.ss_name_homophone_rate + noise.ss_name_typo_rate:
        return typo_name(resident.surname, resident.given_name, rng)
    return resident.name


def _status(resident: Resident, rng: random.Random, noise: NoiseConfig, age: int) -> tuple[str, str]:
    ended = resident.death_date is not None or resident.left_on is not None
    retired = age >= (60 if resident.sex == "1" else 55)
    if resident.employer is not None:
        status, scheme = "1", "110"
    elif retired:
        status, scheme = "4", "110" if rng.random() < 0.7 else "170"
    elif age >= 18:
        status, scheme = "2" if rng.random() < 0.5 else "1", "170"
    else:
        status, scheme = "1", "390"
    if ended and rng.random() >= noise.ss_dead_still_active_rate:
        status = "3"
    return status, scheme


def _enrolled_on(resident: Resident, rng: random.Random, observed_on: date) -> date:
    start = max(resident.registered_on, resident.birth_date + timedelta(days=18 * 365))
    if resident.age_on(observed_on) < 18:
        start = resident.birth_date + timedelta(days=rng.randint(30, 200))
    start = max(start, date(1995, 1, 1))
    latest = max(start, min(observed_on, resident.death_date or observed_on))
    return start + timedelta(days=rng.randrange((latest - start).days + 1))
