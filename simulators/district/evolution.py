"""The district moving forward in time: moves, departures, deaths, new phones, births, arrivals.

``evolve`` reads a snapshot once (streaming, household by household) and yields ``Change``
values for one step of ``EvolutionConfig.step_days`` days; ``apply_changes`` folds them into
the next snapshot. Re-rendering the new snapshot with ``render_district`` gives each
department's updated rows under unchanged record ids, which is what incremental tests need.

Example::

    snapshot = list(generate_district(10_000, seed=1))
    changes = list(evolve(snapshot, seed=1, step=1))
    snapshot = list(apply_changes(snapshot, changes))
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from itertools import groupby
from typing import Final

from simulators.district.codes import DAUGHTER_ORDER, SON_ORDER
from simulators.district.config import DistrictConfig, EvolutionConfig
from simulators.district.divisions import BirthplaceTable
from simulators.district.generator import _Builder
from simulators.district.geography import DwellingAllocator
from simulators.district.id_numbers import make_id_number
from simulators.district.model import Change, HardCase, Resident, Sex
from simulators.district.names import HOMOPHONES, NamePicker
from simulators.district.phones import PhoneBook

__all__ = ["apply_changes", "evolve", "step_period"]

_PARENT_RELATIONS: Final = frozenset({"02", "11", "12"})


def step_period(step: int, config: EvolutionConfig | None = None, district: DistrictConfig | None = None) -> tuple[date, date]:
    """The days (first, last) that evolution step ``step`` (1, 2, ...) covers."""
    config = config or EvolutionConfig()
    as_of = (district or DistrictConfig()).as_of
    first = as_of + timedelta(days=(step - 1) * config.step_days + 1)
    return first, as_of + timedelta(days=step * config.step_days)


@dataclass(slots=True)
class _Birth:
    mother: Resident
    father: Resident | None
    household: tuple[Resident, ...]


def evolve(
    residents: Iterable[Resident],
    seed: int,
    step: int,
    config: EvolutionConfig | None = None,
    district: DistrictConfig | None = None,
) -> Iterator[Change]:
    """The changes of step ``step`` (1 = the first ``step_days`` after ``district.as_of``).

    Changes to one resident within a step are chained: each ``Change.previous`` is the state
    the one before left. Births and arrivals come last, with resident and household numbers
    above every existing one.
    """
    if step < 1:
        raise ValueError("steps count from 1")
    config = config or EvolutionConfig()
    district = district or DistrictConfig()
    first, last = step_period(step, config, district)
    rng = random.Random(f"evolve:{seed}:{step}")
    allocator = DwellingAllocator(rng, phase=step)
    phones = PhoneBook.for_step(step)
    names = NamePicker()
    issued: set[int] = set()
    births: list[_Birth] = []
    max_resident = 0
    max_household = 0
    households = 0

    def day() -> date:
        return first + timedelta(days=rng.randrange((last - first).days + 1))

    for _, group in groupby(residents, key=lambda r: r.household_id):
        members = tuple(group)
        households += 1
        max_household = max(max_household, int(members[0].household_id[1:]))
        for member in members:
            max_resident = max(max_resident, member.number)
            if member.id_number is not None:
                issued.add(int(member.id_number[:17]))
        present = [m for m in members if m.present]
        if not present:
            continue
        states = {m.resident_id: m for m in present}
        roll = rng.random()
        if roll < config.leave_rate:
            when = day()
            for member in present:
                after = replace(member, left_on=when, last_changed=when)
                yield Change("left", when, after, member)
            continue
        if roll < config.leave_rate + config.move_rate:
            when = day()
            new_address = allocator.allocate()
            transfer_hukou = rng.random() < 0.5
            for member in present:
                after = replace(
                    member,
                    previous_address=member.address,
                    address=new_address,
                    moved_on=when,
                    hukou_address=(
                        f"江苏省南京市秦淮区{new_address.locality}"
                        if member.category == "registered" and transfer_hukou
                        else member.hukou_address
                    ),
                    hard_cases=_with(member.hard_cases, "moved"),
                    last_changed=when,
                )
                states[member.resident_id] = after
                yield Change("moved", when, after, member)
        for member in present:
            yield from _personal_changes(states[member.resident_id], rng, config, day, phones, names, first)
        if rng.random() < config.birth_rate:
            birth = _parents(tuple(states.get(m.resident_id, m) for m in members), first)
            if birth is not None:
                births.append(birth)

    next_resident = max_resident + 1
    places = BirthplaceTable()
    for birth in births:
        baby = _newborn(birth, rng, names, places, issued, f"R{next_resident:06d}", day())
        next_resident += 1
        yield Change("born", baby.birth_date, baby, None)

    yield from _arrivals(seed, step, district, config, households, next_resident, max_household + 1, issued, first, last)


def _with(cases: tuple[HardCase, ...], case: HardCase) -> tuple[HardCase, ...]:
    return cases if case in cases else (*cases, case)


def _personal_changes(
    resident: Resident,
    rng: random.Random,
    config: EvolutionConfig,
    day: Callable[[], date],
    phones: PhoneBook,
    names: NamePicker,
    first: date,
) -> Iterator[Change]:
    age = resident.age_on(first)
    p_death = config.death_rate * (0.05 if age < 50 else 1.0 if age < 70 else 4.0 if age < 80 else 12.0)
    if rng.random() < p_death:
        when: date = day()
        after = replace(resident, death_date=when, hard_cases=_with(resident.hard_cases, "deceased"), last_changed=when)
        yield Change("died", when, after, resident)
        return
    if resident.mobile is not None and rng.random() < config.phone_change_rate:
        when = day()
        after = replace(resident, previous_mobile=resident.mobile, mobile=phones.mobile(rng), last_changed=when)
        yield Change("phone_changed", when, after, resident)
        resident = after
    chinese_name = resident.category != "foreign" and resident.surname and "·" not in resident.name
    if chinese_name and rng.random() < config.correction_rate:
        when = day()
        given = resident.given_name
        # Half are a registry typo put right (a homophone), half a real change of name (改名).
        if rng.random() < 0.5 and any(len(HOMOPHONES.get(c, "")) > 1 for c in given):
            i = next(i for i, c in enumerate(given) if len(HOMOPHONES.get(c, "")) > 1)
            new_given = given[:i] + rng.choice([c for c in HOMOPHONES[given[i]] if c != given[i]]) + given[i + 1 :]
        else:
            new_given = names.given_name(rng, resident.sex, resident.birth_date.year)
        if new_given != given:
            after = replace(
                resident,
                given_name=new_given,
                name=resident.surname + new_given,
                former_names=(*resident.former_names, resident.name),
                last_changed=when,
            )
            yield Change("corrected", when, after, resident)


def _parents(members: tuple[Resident, ...], first: date) -> _Birth | None:
    """A married woman of 22-42 living with her husband, who can have a baby in this household."""
    for mother in members:
        if mother.sex != "2" or not mother.present or mother.spouse_id is None or not 22 <= mother.age_on(first) <= 42:
            continue
        father = next((m for m in members if m.resident_id == mother.spouse_id and m.present), None)
        if father is None:
            continue
        return _Birth(mother=mother, father=father, household=members)
    return None


def _newborn(
    birth: _Birth,
    rng: random.Random,
    names: NamePicker,
    places: BirthplaceTable,
    issued: set[int],
    resident_id: str,
    born_on: date,
) -> Resident:
    mother, father = birth.mother, birth.father
    sex: Sex = "1" if rng.random() < 0.52 else "2"
    parents_are_head = mother.relation in _PARENT_RELATIONS or (father is not None and father.relation in _PARENT_RELATIONS)
    if parents_are_head:
        siblings = [m for m in birth.household if m.relation[0] in "23" and m.relation not in {"28", "38"}]
        same_sex = [m for m in siblings if m.sex == sex]
        order = SON_ORDER if sex == "1" else DAUGHTER_ORDER
        relation = ("21" if sex == "1" else "31") if not siblings else order[min(len(same_sex), 2)]
    elif mother.relation == "38" or (father is not None and father.relation[0] == "2"):
        relation = "41" if sex == "1" else "42"
    else:
        relation = "43" if sex == "1" else "44"
    surname_parent = father or mother
    surname = surname_parent.surname
    given = names.given_name(rng, sex, born_on.year)
    if "·" in (father or mother).name:
        name = f"{given}·{(father or mother).name.split('·')[0]}"
        surname, given = "", name
    else:
        name = surname + given
    if mother.category == "registered":
        division = places.draw(rng, "nanjing", born_on.year)
    else:
        code = surname_parent.birthplace_code
        division = code if code and places.valid(code, born_on.year) else places.draw(rng, "china", born_on.year)
    parity = 1 if sex == "1" else 0
    while True:
        sequence = rng.randrange(0, 500) * 2 + parity
        if sequence == 0:
            continue
        key = int(f"{division}{born_on:%Y%m%d}{sequence:03d}")
        if key not in issued:
            issued.add(key)
            break
    return Resident(
        resident_id=resident_id,
        household_id=mother.household_id,
        relation=relation,
        category=mother.category,
        name=name,
        surname=surname,
        given_name=given,
        sex=sex,
        birth_date=born_on,
        ethnicity=mother.ethnicity,
        nationality=mother.nationality,
        id_number=make_id_number(division, born_on, sequence),
        passport_number=None,
        birthplace_code=division,
        hukou_number=mother.hukou_number,
        hukou_address=mother.hukou_address,
        address=mother.address,
        previous_address=None,
        moved_on=None,
        mobile=None,
        previous_mobile=None,
        home_phone=mother.home_phone,
        marital_status="10",
        spouse_id=None,
        employer=None,
        disability_grade=None,
        assistance=("城市低保",) if "城市低保" in mother.assistance else (),
        tenure=mother.tenure,
        death_date=None,
        registered_on=born_on,
        last_changed=born_on,
    )


def _arrivals(
    seed: int,
    step: int,
    district: DistrictConfig,
    config: EvolutionConfig,
    households: int,
    first_resident: int,
    first_household: int,
    issued: set[int],
    first: date,
    last: date,
) -> Iterator[Change]:
    """New households moving in; their members arrive on one day within the step."""
    rng = random.Random(f"arrivals:{seed}:{step}")
    expected = households * config.arrival_rate
    count = int(expected) + (rng.random() < expected - int(expected))
    if count == 0:
        return
    people = max(1, round(count * 2.2))
    arrival_config = replace(district, as_of=last, moved_rate=0.0, deceased_rate=0.0)
    builder = _Builder(
        f"arrivals:{seed}:{step}:people",
        arrival_config,
        first_resident=first_resident,
        first_household=first_household,
        phase=step,
        issued=issued,
    )
    for _, members in builder.households(people):
        when = first + timedelta(days=rng.randrange((last - first).days + 1))
        for member in members:
            arrived = max(when, member.birth_date)
            after = replace(member, registered_on=arrived, last_changed=arrived)
            yield Change("arrived", arrived, after, None)


def apply_changes(residents: Iterable[Resident], changes: Iterable[Change]) -> Iterator[Resident]:
    """The next snapshot: each resident in its latest state, newborns right after their
    household, arrivals at the end. Holds only the changes in memory, not the snapshot."""
    latest: dict[str, Resident] = {}
    born: defaultdict[str, list[str]] = defaultdict(list)
    arrived: list[str] = []
    for change in changes:
        resident_id = change.resident.resident_id
        if change.previous is None and resident_id not in latest:
            (born[change.resident.household_id] if change.kind == "born" else arrived).append(resident_id)
        latest[resident_id] = change.resident
    for household_id, group in groupby(residents, key=lambda r: r.household_id):
        for resident in group:
            yield latest.get(resident.resident_id, resident)
        for resident_id in born.pop(household_id, ()):
            yield latest[resident_id]
    for ids in born.values():
        for resident_id in ids:
            yield latest[resident_id]
    for resident_id in arrived:
        yield latest[resident_id]
