"""The ground truth of a synthetic district: residents, households, dwellings and changes.

These are what really is, before any department writes it down. Department rows
(``simulators.district.departments``) are renderings of these values with each department's
own columns and noise; benchmarks compare what the hub resolved against ``resident_id`` here.
Everything is frozen so that a generated district cannot drift while it is being rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

__all__ = [
    "Address",
    "Category",
    "Change",
    "ChangeKind",
    "HardCase",
    "Household",
    "HouseholdKind",
    "Resident",
    "Sex",
    "Tenure",
]

Sex = Literal["1", "2"]
"""GB/T 2261.1 sex code: "1" male, "2" female (the digit parity inside the ID number agrees)."""

Category = Literal["registered", "migrant", "foreign"]
"""户籍人口 (hukou here), 流动人口 (hukou elsewhere, living here), 境外人员 (foreign national)."""

HouseholdKind = Literal["family", "shared", "foreign"]
"""A family household, a shared rental of unrelated people (群租), or a foreign household."""

Tenure = Literal["owner", "tenant"]

HardCase = Literal["twin", "common_name", "shared_phone", "moved", "deceased"]
"""Why a resident is hard to resolve, kept so that benchmarks can score the hard cases apart."""

ChangeKind = Literal["arrived", "born", "moved", "left", "phone_changed", "died", "corrected"]


@dataclass(frozen=True, slots=True)
class Address:
    """One dwelling: 街道 / 社区 / 网格 / road and door number / 小区 / 幢 / 单元 / 室.

    A courtyard house on an old-town lane has a road and number but no compound, building,
    unit or room. ``dwelling_id`` is the stable truth key of the flat, never shown to departments.
    """

    dwelling_id: str
    street: str
    street_code: str
    community: str
    community_code: str
    grid: str
    road: str
    number: int
    compound: str | None = None
    building: int | None = None
    unit: int | None = None
    room: str | None = None

    @property
    def locality(self) -> str:
        """Road and door number plus the flat, without any division prefix: "瑞金路12号3幢2单元301室"."""
        text = f"{self.road}{self.number}号"
        if self.compound is not None:
            text += f"{self.compound}{self.building}幢{self.unit}单元{self.room}室"
        return text

    def full_text(self) -> str:
        """The complete official form, as a household register prints it."""
        return f"江苏省南京市秦淮区{self.street}{self.community}{self.locality}"


@dataclass(frozen=True, slots=True)
class Resident:
    """One person who lives (or lived, or died) in the district, with every fact true.

    ``resident_id`` ("R000001") is the truth key that benchmarks score against; it never
    appears in a department row. Chinese citizens have ``id_number`` (18 digits, valid check
    digit); foreign residents have ``passport_number`` and no ``id_number``.
    """

    resident_id: str
    household_id: str
    relation: str
    """GB/T 4761 code of the relation to the household head ("02" 户主, "12" 妻, "22" 长子 ...)."""
    category: Category
    name: str
    """As written on the ID card or passport: "张伟", "阿不都·热合曼", "John Smith", "Kim Min-jun"."""
    surname: str
    """Family name; "" for names without one (Uyghur, Tibetan)."""
    given_name: str
    sex: Sex
    birth_date: date
    ethnicity: str | None
    """GB 3304 code ("01" 汉族); ``None`` for foreign nationals."""
    nationality: str
    """ISO 3166-1 alpha-3 ("CHN", "USA", "KOR" ...)."""
    id_number: str | None
    passport_number: str | None
    birthplace_code: str | None
    """GB/T 2260 county-level code that opens the ID number."""
    hukou_number: str | None
    """户号 of the household register here; ``None`` for migrants and foreigners."""
    hukou_address: str
    """户籍地址: where the hukou is registered (a hometown elsewhere for migrants)."""
    address: Address
    previous_address: Address | None
    moved_on: date | None
    mobile: str | None
    previous_mobile: str | None
    home_phone: str | None
    marital_status: str
    """GB/T 2261.2 code ("10" 未婚, "20" 已婚, "30" 丧偶, "40" 离婚)."""
    spouse_id: str | None
    employer: str | None
    disability_grade: int | None
    assistance: tuple[str, ...]
    """Civil-affairs programmes the person is entitled to (城市低保, 特困供养, 高龄津贴, 残疾人两项补贴)."""
    tenure: Tenure
    death_date: date | None
    registered_on: date
    """When the district first knew the person (birth, hukou registration or arrival)."""
    last_changed: date
    chinese_name: str | None = None
    """A foreigner's Chinese name as community workers write it ("约翰·史密斯", "金敏俊")."""
    left_on: date | None = None
    """When the person moved out of the district (迁出); the departments keep their old rows."""
    former_names: tuple[str, ...] = ()
    """曾用名, after a correction or a change of name."""
    hard_cases: tuple[HardCase, ...] = ()
    peer_id: str | None = None
    """The resident this one is easily confused with: the twin, or the namesake born the same day."""

    @property
    def number(self) -> int:
        """The running number inside ``resident_id`` ("R000042" → 42); department record ids derive from it."""
        return int(self.resident_id[1:])

    @property
    def alive(self) -> bool:
        return self.death_date is None

    @property
    def present(self) -> bool:
        """Alive and still living in the district."""
        return self.death_date is None and self.left_on is None

    def age_on(self, day: date) -> int:
        """Completed years of age on ``day``."""
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years


@dataclass(frozen=True, slots=True)
class Household:
    """A household (户): the people who share one register entry or one rented flat."""

    household_id: str
    kind: HouseholdKind
    category: Category
    hukou_number: str | None
    address: Address
    tenure: Tenure
    home_phone: str | None
    head_id: str
    member_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Change:
    """One thing that happened to a resident between two snapshots of the district.

    ``resident`` is the state after the change; ``previous`` is the state before (``None`` for
    arrivals and births). Re-rendering ``resident`` gives each department's updated row under
    the same record id.
    """

    kind: ChangeKind
    effective_on: date
    resident: Resident
    previous: Resident | None
