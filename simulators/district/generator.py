"""Generate a synthetic 秦淮区 population, household by household, from one seed.

Everything is drawn from one ``random.Random(seed)``, so the same ``(n_residents, seed, config)``
always yields the same district. Households stream out: the generator keeps a window of the
last few dozen households (to pair namesakes across households) and the set of ID numbers it
has issued (real ID numbers are unique), nothing else that grows with the population.

Example::

    for resident in generate_district(10_000, seed=7):
        ...
"""

from __future__ import annotations

import random
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from simulators.district.composition import MemberDraft, draft_chinese_household, draft_foreign_household
from simulators.district.config import DistrictConfig
from simulators.district.divisions import ETHNIC_POOLS, MIGRANT_POOLS, REGISTERED_POOLS, BirthplaceTable
from simulators.district.geography import DwellingAllocator
from simulators.district.id_numbers import check_character
from simulators.district.model import Address, Category, HardCase, Household, HouseholdKind, Resident, Sex, Tenure
from simulators.district.names import COMMON_FULL_NAMES, NamePicker
from simulators.district.phones import PhoneBook, passport_number

__all__ = ["generate_district", "generate_households"]

_WINDOW: Final = 64
"""Households held back before they are frozen, so a later household can supply a namesake."""

_MINORITIES: Final = (
    ("03", 40.0), ("11", 8.0), ("02", 6.0), ("08", 6.0), ("05", 8.0), ("06", 5.0), ("15", 5.0),
    ("10", 5.0), ("04", 3.0), ("07", 3.0), ("09", 2.0), ("12", 2.0), ("17", 1.0), ("14", 2.0),
)  # fmt: skip
_ETHNIC_HOMELAND_ONLY: Final = frozenset({"04", "05", "17"})
"""Tibetan, Uyghur and Kazakh households in Nanjing were born in their home regions."""
_SHARED_SURNAME_NATIONS: Final = frozenset({"USA", "GBR", "DEU", "FRA", "RUS", "JPN", "IND"})

_EMPLOYER_PLACES: Final = ("秦淮", "金陵", "白下", "钟山", "石城", "紫金", "夫子庙", "中华门", "新街口", "江宁", "建邺", "苏宁")
_EMPLOYER_TRADES: Final = (
    "科技", "餐饮管理", "物业管理", "商贸", "建筑工程", "文化旅游", "医药", "信息技术", "家政服务", "汽车服务",
    "电子商务", "装饰工程", "教育咨询", "物流", "酒店管理", "广告传媒",
)  # fmt: skip
_PUBLIC_EMPLOYERS: Final = (
    "南京市秦淮区人民政府", "南京市第一医院", "江苏省中医院", "南京市秦淮区第一中心小学", "南京市第一中学",
    "南京大学", "南京师范大学", "东南大学", "南京市秦淮区城市管理局", "中国银行南京分行", "南京地铁运营有限责任公司",
    "南京新百药业有限公司", "江苏省人民医院", "南京市公共交通集团",
)  # fmt: skip
_TOWN_STEMS: Final = ("王集", "李庄", "新桥", "高塘", "双河", "三河", "柳营", "石门", "杨柳", "马店", "黄湾", "陈集",
                      "龙山", "白果", "孙圩", "古城", "汤池", "河口", "长岗", "仁和")  # fmt: skip
_VILLAGE_STEMS: Final = ("张圩", "刘庄", "前进", "红星", "新华", "东风", "胜利", "团结", "河西", "后湾", "小店", "许岗",
                         "桥头", "大营", "周湾", "南岗")  # fmt: skip


@dataclass(slots=True)
class _HouseholdDraft:
    household_id: str
    category: Category
    kind: HouseholdKind
    members: list[MemberDraft]
    address: Address
    previous_address: Address | None
    moved_on: date | None
    arrived_on: date | None
    tenure: Tenure
    home_phone: str | None
    hukou_number: str | None
    low_income: bool
    shape: str


@dataclass(slots=True)
class _Namesake:
    draft: _HouseholdDraft
    member: int


def generate_households(
    n_residents: int, seed: int, config: DistrictConfig | None = None
) -> Iterator[tuple[Household, tuple[Resident, ...]]]:
    """Households with their members, until exactly ``n_residents`` residents have been produced."""
    return _Builder(seed, config or DistrictConfig()).households(n_residents)


def generate_district(n_residents: int, seed: int, config: DistrictConfig | None = None) -> Iterator[Resident]:
    """Every resident of the district, household by household, ``resident_id`` "R000001" upwards."""
    for _, residents in generate_households(n_residents, seed, config):
        yield from residents


class _Builder:
    """The state of one generation run (nothing here outlives it)."""

    def __init__(
        self,
        seed: int | str,
        config: DistrictConfig,
        *,
        first_resident: int = 1,
        first_household: int = 1,
        phase: int | None = None,
        issued: set[int] | None = None,
    ) -> None:
        """``phase``, the counters and ``issued`` let ``evolve`` add households later without
        reusing a resident id, a household id, a flat, a phone number or an ID number."""
        self.rng = random.Random(seed)
        self.config = config
        self.as_of = config.as_of
        self.names = NamePicker()
        self.places = BirthplaceTable()
        self.dwellings = DwellingAllocator(self.rng, phase=phase)
        if phase is None:
            # Start the counters somewhere fixed by the seed, so runs differ in their numbers too.
            start = zlib.crc32(str(seed).encode()) % 10_000_000
            self.phones = PhoneBook(start, start % 1_000_000)
        else:
            self.phones = PhoneBook.for_step(phase, part=1)
        self.issued: set[int] = issued if issued is not None else set()
        self.next_resident = first_resident
        self.next_household = first_household
        self.pending: deque[_Namesake] = deque()
        self.registered_pools = (tuple(REGISTERED_POOLS), tuple(REGISTERED_POOLS.values()))
        self.migrant_pools = (tuple(MIGRANT_POOLS), tuple(MIGRANT_POOLS.values()))

    # -- the stream -----------------------------------------------------------------------------

    def households(self, n_residents: int) -> Iterator[tuple[Household, tuple[Resident, ...]]]:
        window: deque[_HouseholdDraft] = deque()
        remaining = n_residents
        while remaining > 0:
            draft = self._draft()
            if len(draft.members) > remaining:
                del draft.members[remaining:]
                self.pending = deque(w for w in self.pending if w.draft is not draft or w.member < remaining)
            for member in draft.members:
                member.resident_id = f"R{self.next_resident:06d}"
                self.next_resident += 1
            remaining -= len(draft.members)
            self._pair_namesakes(draft)
            window.append(draft)
            if len(window) > _WINDOW:
                yield self._freeze(window.popleft())
        while window:
            yield self._freeze(window.popleft())

    # -- drafting -------------------------------------------------------------------------------

    def _draft(self) -> _HouseholdDraft:
        rng, config = self.rng, self.config
        roll = rng.random()
        category: Category
        if roll < config.foreign_household_rate:
            category = "foreign"
            shape, members = draft_foreign_household(rng, self.as_of)
            kind: HouseholdKind = "foreign"
        else:
            category = "migrant" if roll < config.foreign_household_rate + config.migrant_household_rate else "registered"
            shape, members = draft_chinese_household(rng, self.as_of, category == "migrant", config.twin_rate)
            kind = "shared" if shape == "shared" else "family"
        household_id = f"H{self.next_household:06d}"
        self.next_household += 1
        address = self.dwellings.allocate()
        previous = None
        moved_on = None
        if rng.random() < config.moved_rate:
            previous = self.dwellings.allocate()
            moved_on = self.as_of - timedelta(days=rng.randint(10, 1095))
        arrived_on = None
        if category != "registered":
            arrived_on = self.as_of - timedelta(days=rng.randint(20, 3650 if category == "migrant" else 2900))
        if category == "registered":
            tenure: Tenure = "owner" if rng.random() < 0.8 else "tenant"
        else:
            tenure = "owner" if rng.random() < 0.08 else "tenant"
        head_age = members[0].age_on(self.as_of)
        landline_rate = config.landline_rate * (1.8 if head_age >= 60 else 0.6) * (0.15 if category != "registered" else 1)
        home_phone = self.phones.landline(rng) if rng.random() < landline_rate else None
        hukou_number = f"{(7_654_321 * self.next_household + 104_729) % 10**9:09d}" if category == "registered" else None
        low_income = category == "registered" and rng.random() < config.low_income_rate * (2.0 if len(members) == 1 else 1.0)
        draft = _HouseholdDraft(
            household_id=household_id, category=category, kind=kind, members=members, address=address,
            previous_address=previous, moved_on=moved_on, arrived_on=arrived_on, tenure=tenure,
            home_phone=home_phone, hukou_number=hukou_number, low_income=low_income, shape=shape,
        )  # fmt: skip
        if category == "foreign":
            self._name_foreigners(draft)
        else:
            self._name_chinese(draft)
        self._people_facts(draft)
        return draft

    def _name_chinese(self, draft: _HouseholdDraft) -> None:
        rng = self.rng
        members = draft.members
        ethnicity = "01"
        if rng.random() < self.config.minority_household_rate:
            ethnicity = rng.choices([c for c, _ in _MINORITIES], weights=[w for _, w in _MINORITIES])[0]
        given_in_use: set[str] = set()
        for index, member in enumerate(members):
            member.ethnicity = ethnicity
            if member.role == "lodger":
                member.ethnicity = "01"
            if member.name:  # named already, as the second of a pair of twins
                continue
            father_part = None
            if member.father is not None and "·" in members[member.father].name:
                father_part = members[member.father].name.split("·")[0]
            try:
                name, surname, given = self.names.minority_name(rng, member.ethnicity or "01", member.sex, father_part)
                member.name, member.surname, member.given_name = name, surname, given
                continue
            except LookupError:
                pass
            member.surname = self._inherited_surname(members, index)
            if member.twin is not None and member.twin > index:
                twin = members[member.twin]
                first, second = self.names.twin_given_names(rng, (member.sex, twin.sex), member.birth_date.year)
                twin.surname = member.surname
                twin.given_name, twin.name = second, member.surname + second
                twin.ethnicity = member.ethnicity
                given_in_use.add(second)
                member.given_name = first
            else:
                given = self.names.given_name(rng, member.sex, member.birth_date.year)
                while given in given_in_use:
                    given = self.names.given_name(rng, member.sex, member.birth_date.year)
                member.given_name = given
            given_in_use.add(member.given_name)
            member.name = member.surname + member.given_name
        if rng.random() < self.config.common_name_rate:
            self._start_namesake(draft)

    def _inherited_surname(self, members: list[MemberDraft], index: int) -> str:
        """Children take the father's surname (sometimes the mother's); a head's father and siblings share it."""
        rng = self.rng
        member = members[index]
        source: int | None = None
        if member.role in {"child", "grandchild"}:
            if member.father is not None and (member.mother is None or rng.random() < 0.93):
                source = member.father
            elif member.mother is not None and (member.father is not None or rng.random() < 0.5):
                source = member.mother
        elif member.role == "parent" and member.sex == "1":
            source = 0 if member.relation == "51" else next((i for i, m in enumerate(members) if m.role == "spouse"), None)
        elif member.role == "sibling":
            source = 0
        if source is not None and members[source].surname:
            members[source].surname_inherited = True
            member.surname_inherited = True
            return members[source].surname
        return self.names.surname(rng, member.ethnicity or "01")

    def _name_foreigners(self, draft: _HouseholdDraft) -> None:
        rng = self.rng
        nationality = self.names.foreign_nationality(rng)
        family_name: str | None = None
        for member in draft.members:
            member.nationality = nationality
            if member.role == "spouse":
                if rng.random() < 0.15:
                    member.nationality = self.names.foreign_nationality(rng)
                shared = member.nationality == nationality and nationality in _SHARED_SURNAME_NATIONS
                surname = family_name if shared and rng.random() < 0.8 else None
            elif member.role == "child":
                member.nationality = nationality
                surname = family_name
            else:
                surname = None
            foreign = self.names.foreign_name(rng, member.nationality, member.sex, surname)
            if member.role == "head":
                family_name = foreign.surname if not foreign.surname.endswith("a") or nationality != "RUS" else None
            member.surname, member.given_name, member.name = foreign.surname, foreign.given_name, foreign.display
            member.chinese_name = foreign.chinese_name

    def _people_facts(self, draft: _HouseholdDraft) -> None:
        """Mobiles, shared phones, employers, disability and deaths."""
        rng, config, as_of = self.rng, self.config, self.as_of
        for member in draft.members:
            age = member.age_on(as_of)
            if age >= 12:
                p_mobile = 0.6 if age < 16 else 0.97 if age < 70 else 0.75 if age < 80 else 0.45
                if rng.random() < p_mobile:
                    member.mobile = self.phones.mobile(rng)
            retirement = 60 if member.sex == "1" else 55
            employed = 0.9 if draft.category != "registered" else 0.78
            if 18 <= age < retirement and rng.random() < employed:
                member.employer = self._employer()
            p_disabled = config.disability_rate * (0.3 if age < 40 else 1.0 if age < 65 else 2.5)
            if rng.random() < p_disabled:
                member.disability_grade = rng.choices((1, 2, 3, 4), weights=(0.15, 0.25, 0.3, 0.3))[0]
            p_dead = config.deceased_rate * (0.05 if age < 50 else 1.0 if age < 70 else 4.0 if age < 80 else 10.0)
            if rng.random() < p_dead:
                member.death_date = as_of - timedelta(days=rng.randint(1, 1095))
                if member.death_date <= member.birth_date:
                    member.death_date = None
        head = draft.members[0]
        spouse_index = head.spouse
        if spouse_index is not None and head.mobile is not None:
            rate = config.shared_phone_rate * (2.0 if head.age_on(as_of) >= 65 else 1.0)
            if rng.random() < rate:
                spouse = draft.members[spouse_index]
                spouse.mobile = head.mobile
                head.hard_cases.append("shared_phone")
                spouse.hard_cases.append("shared_phone")

    def _employer(self) -> str:
        rng = self.rng
        if rng.random() < 0.2:
            return rng.choice(_PUBLIC_EMPLOYERS)
        suffix = "有限公司" if rng.random() < 0.8 else "有限责任公司"
        return f"南京{rng.choice(_EMPLOYER_PLACES)}{rng.choice(_EMPLOYER_TRADES)}{suffix}"

    # -- namesakes ------------------------------------------------------------------------------

    def _namesake_candidates(self, draft: _HouseholdDraft, sex: Sex | None, surname: str | None) -> list[int]:
        out = []
        for index, member in enumerate(draft.members):
            if member.ethnicity != "01" or member.twin is not None or member.nationality != "CHN":
                continue
            if "common_name" in member.hard_cases:
                continue
            if sex is not None and member.sex != sex:
                continue
            if not 20 <= member.age_on(self.as_of) <= 70:
                continue
            if surname is not None and member.surname_inherited and member.surname != surname:
                continue
            out.append(index)
        return out

    def _start_namesake(self, draft: _HouseholdDraft) -> None:
        candidates = self._namesake_candidates(draft, None, None)
        if not candidates:
            return
        index = self.rng.choice(candidates)
        member = draft.members[index]
        names = COMMON_FULL_NAMES[member.sex]
        if member.surname_inherited:
            names = tuple(n for n in names if n.startswith(member.surname))
        if not names:
            return
        full = self.rng.choice(names)
        if full in {m.name for m in draft.members}:
            return
        member.name, member.surname, member.given_name = full, full[0], full[1:]
        self.pending.append(_Namesake(draft=draft, member=index))

    def _pair_namesakes(self, draft: _HouseholdDraft) -> None:
        """Give an adult of this household the name and birthday of a waiting namesake."""
        if draft.category == "foreign":
            return
        for waiting in list(self.pending):
            if waiting.draft is draft:
                continue
            origin = waiting.draft.members[waiting.member]
            for index in self._namesake_candidates(draft, origin.sex, origin.surname):
                member = draft.members[index]
                if abs(member.birth_date.year - origin.birth_date.year) > 3:
                    continue
                if origin.name in {m.name for m in draft.members}:
                    continue
                member.name, member.surname, member.given_name = origin.name, origin.surname, origin.given_name
                member.birth_date = origin.birth_date
                member.hard_cases.append("common_name")
                origin.hard_cases.append("common_name")
                member.peer_id = origin.resident_id
                origin.peer_id = member.resident_id
                self.pending.remove(waiting)
                return

    # -- freezing -------------------------------------------------------------------------------

    def _freeze(self, draft: _HouseholdDraft) -> tuple[Household, tuple[Resident, ...]]:
        self.pending = deque(w for w in self.pending if w.draft is not draft)
        members = draft.members
        count = len(members)
        if draft.category != "foreign":
            self._birthplaces(draft)
            self._id_numbers(draft)
        hometown = self._hometown(members[0].birthplace_code) if draft.category == "migrant" else ""
        residents = []
        for index, member in enumerate(members):
            residents.append(self._resident(draft, index, member, count, hometown))
        household = Household(
            household_id=draft.household_id,
            kind=draft.kind,
            category=draft.category,
            hukou_number=draft.hukou_number,
            address=draft.address,
            tenure=draft.tenure,
            home_phone=draft.home_phone,
            head_id=residents[0].resident_id,
            member_ids=tuple(r.resident_id for r in residents),
        )
        return household, tuple(residents)

    def _birthplaces(self, draft: _HouseholdDraft) -> None:
        rng = self.rng
        members = draft.members
        migrant = draft.category == "migrant"
        pools, weights = self.migrant_pools if migrant else self.registered_pools
        household_pool = rng.choices(pools, weights=weights)[0]
        ethnicity = members[0].ethnicity or "01"
        if ethnicity in ETHNIC_POOLS and (migrant or ethnicity in _ETHNIC_HOMELAND_ONLY or rng.random() < 0.7):
            household_pool = ETHNIC_POOLS[ethnicity]
        for index, member in enumerate(members):
            year = member.birth_date.year
            if member.twin is not None and member.twin < index:
                member.birthplace_code = members[member.twin].birthplace_code
                continue
            parent = member.father if member.father is not None else member.mother
            parent_code = members[parent].birthplace_code if parent is not None and parent < index else None
            if member.role in {"child", "grandchild"} and not migrant and year >= 1983:
                pool = "nanjing"
            elif member.role in {"child", "grandchild"} and parent_code and self.places.valid(parent_code, year):
                member.birthplace_code = parent_code
                continue
            elif member.role == "lodger":
                pool = rng.choices(*self.migrant_pools)[0]
            elif index == 0 or rng.random() < 0.6 or ethnicity in _ETHNIC_HOMELAND_ONLY:
                pool = household_pool
            else:
                pool = rng.choices(pools, weights=weights)[0]
            member.birthplace_code = self.places.draw(rng, pool, year)

    def _id_numbers(self, draft: _HouseholdDraft) -> None:
        members = draft.members
        for index, member in enumerate(members):
            assert member.birthplace_code is not None
            preferred = None
            if member.twin is not None and member.twin < index:
                # Twins are registered together: consecutive sequence numbers of the right parity.
                twin = members[member.twin]
                if twin.id_number is not None and twin.birthplace_code == member.birthplace_code:
                    preferred = int(twin.id_number[14:17]) + (2 if member.sex == twin.sex else 1)
            member.id_number = self._issue(member.birthplace_code, member.birth_date, member.sex, preferred)

    def _issue(self, division: str, birth_date: date, sex: Sex, preferred: int | None) -> str:
        rng = self.rng
        parity = 1 if sex == "1" else 0
        sequence = preferred
        while True:
            if sequence is None or not 1 <= sequence <= 999 or sequence % 2 != parity:
                sequence = rng.randrange(0, 500) * 2 + parity
                if sequence == 0:
                    continue
            body = f"{division}{birth_date:%Y%m%d}{sequence:03d}"
            key = int(body)
            if key not in self.issued:
                self.issued.add(key)
                return body + check_character(body)
            sequence = None

    def _hometown(self, code: str | None) -> str:
        if code is None:
            return ""
        rng = self.rng
        division = self.places.division(code)
        city = "" if division.city == division.province else division.city
        return (
            f"{division.province}{city}{division.county}{rng.choice(_TOWN_STEMS)}镇"
            f"{rng.choice(_VILLAGE_STEMS)}村{rng.randint(1, 120)}号"
        )

    def _resident(self, draft: _HouseholdDraft, index: int, member: MemberDraft, count: int, hometown: str) -> Resident:
        rng = self.rng
        registered_on = self._registered_on(draft, member)
        hard_cases: list[HardCase] = list(member.hard_cases)
        peer_id = member.peer_id
        twin = member.twin if member.twin is not None and member.twin < count else None
        if twin is not None:
            hard_cases.append("twin")
            peer_id = draft.members[twin].resident_id
        previous_address = draft.previous_address
        moved_on = draft.moved_on
        if moved_on is not None and registered_on >= moved_on:
            previous_address, moved_on = None, None
        if moved_on is not None:
            hard_cases.append("moved")
        death_date = member.death_date
        if death_date is not None and death_date < registered_on:
            death_date = None
        if death_date is not None:
            hard_cases.append("deceased")
        if draft.category == "registered":
            old_hukou = previous_address is not None and rng.random() < 0.5
            hukou_address = f"江苏省南京市秦淮区{(previous_address if old_hukou and previous_address else draft.address).locality}"
        else:
            hukou_address = hometown
        spouse_id = draft.members[member.spouse].resident_id if member.spouse is not None and member.spouse < count else None
        last_changed = max(d for d in (registered_on, moved_on, death_date) if d is not None)
        return Resident(
            resident_id=member.resident_id,
            household_id=draft.household_id,
            relation=member.relation,
            category=draft.category,
            name=member.name,
            surname=member.surname,
            given_name=member.given_name,
            sex=member.sex,
            birth_date=member.birth_date,
            ethnicity=member.ethnicity,
            nationality=member.nationality,
            id_number=member.id_number,
            passport_number=passport_number(rng, member.nationality) if draft.category == "foreign" else None,
            birthplace_code=member.birthplace_code,
            hukou_number=draft.hukou_number,
            hukou_address=hukou_address,
            address=draft.address,
            previous_address=previous_address,
            moved_on=moved_on,
            mobile=member.mobile,
            previous_mobile=None,
            home_phone=draft.home_phone,
            marital_status=member.marital_status,
            spouse_id=spouse_id,
            employer=member.employer,
            disability_grade=member.disability_grade,
            assistance=self._assistance(draft, member),
            tenure=draft.tenure,
            death_date=death_date,
            registered_on=registered_on,
            last_changed=last_changed,
            chinese_name=member.chinese_name,
            hard_cases=tuple(dict.fromkeys(hard_cases)),
            peer_id=peer_id,
        )

    def _registered_on(self, draft: _HouseholdDraft, member: MemberDraft) -> date:
        if draft.arrived_on is not None:
            return max(draft.arrived_on, member.birth_date)
        code = member.birthplace_code or ""
        if code.startswith("3201"):
            return member.birth_date
        earliest = member.birth_date + timedelta(days=18 * 365)
        if earliest >= self.as_of:
            return member.birth_date
        return earliest + timedelta(days=self.rng.randrange((self.as_of - earliest).days + 1))

    def _assistance(self, draft: _HouseholdDraft, member: MemberDraft) -> tuple[str, ...]:
        if draft.category != "registered":
            return ()
        out = []
        age = member.age_on(self.as_of)
        if draft.low_income:
            alone = len(draft.members) == 1 and age >= 60
            out.append("特困供养" if alone else "城市低保")
        if age >= 80:
            out.append("高龄津贴")
        grade = member.disability_grade
        if grade is not None and (grade <= 2 or draft.low_income):
            out.append("残疾人两项补贴")
        return tuple(out)
