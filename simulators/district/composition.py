"""Household structures: who lives together, their ages, sexes and relations to the head.

A household is first drafted (mutable ``MemberDraft`` values: roles, ages, relations, kinship
links) so that names, ID numbers and hard cases can be decided with the whole family in view;
``generator`` then freezes the drafts into ``Resident`` values.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Final, Literal

from simulators.district.codes import DAUGHTER_ORDER, SON_ORDER
from simulators.district.model import HardCase, Sex

__all__ = ["MemberDraft", "Role", "draft_chinese_household", "draft_foreign_household"]

Role = Literal["head", "spouse", "child", "parent", "child_spouse", "grandchild", "sibling", "lodger"]


@dataclass(slots=True)
class MemberDraft:
    """One person while the household is being put together."""

    role: Role
    sex: Sex
    birth_date: date
    relation: str = "02"
    marital_status: str = "10"
    spouse: int | None = None
    """Index of the spouse inside the household."""
    father: int | None = None
    mother: int | None = None
    twin: int | None = None
    surname: str = ""
    given_name: str = ""
    name: str = ""
    ethnicity: str | None = "01"
    nationality: str = "CHN"
    birthplace_code: str | None = None
    id_number: str | None = None
    chinese_name: str | None = None
    mobile: str | None = None
    employer: str | None = None
    disability_grade: int | None = None
    death_date: date | None = None
    hard_cases: list[HardCase] = field(default_factory=list)
    peer_id: str | None = None
    resident_id: str = ""
    surname_inherited: bool = False
    """Someone else in the household carries this person's surname (their children)."""

    def age_on(self, day: date) -> int:
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years


_REGISTERED_SHAPES: Final = (
    ("single_elderly", 9.0), ("elderly_couple", 14.0), ("single_adult", 10.0), ("couple", 10.0),
    ("couple_child", 27.0), ("couple_two_children", 9.0), ("three_generation", 9.0),
    ("single_parent", 5.0), ("elder_with_child_family", 5.0), ("siblings", 2.0),
)  # fmt: skip
_MIGRANT_SHAPES: Final = (
    ("single_adult", 45.0), ("couple", 22.0), ("couple_child", 18.0), ("couple_two_children", 5.0), ("shared", 10.0),
)  # fmt: skip
_FOREIGN_SHAPES: Final = (("single_adult", 60.0), ("couple", 25.0), ("couple_child", 15.0))


def birth_date_for_age(rng: random.Random, as_of: date, age: int) -> date:
    """A birth date that makes the person ``age`` (completed years) on ``as_of``."""
    latest = as_of.replace(year=as_of.year - age) if not (as_of.month == 2 and as_of.day == 29) else as_of - timedelta(
        days=365 * age
    )
    return latest - timedelta(days=rng.randrange(365))


def _age(rng: random.Random, low: int, high: int, mode: float | None = None) -> int:
    return int(rng.triangular(low, high + 0.999, mode if mode is not None else (low + high) / 2))


class _Family:
    """Helper that appends members and wires their relations."""

    def __init__(self, rng: random.Random, as_of: date) -> None:
        self.rng = rng
        self.as_of = as_of
        self.members: list[MemberDraft] = []

    def add(self, role: Role, sex: Sex, age: int, relation: str) -> int:
        self.members.append(
            MemberDraft(role=role, sex=sex, birth_date=birth_date_for_age(self.rng, self.as_of, age), relation=relation)
        )
        return len(self.members) - 1

    def age(self, index: int) -> int:
        return self.members[index].age_on(self.as_of)

    def marry(self, a: int, b: int) -> None:
        self.members[a].spouse = b
        self.members[b].spouse = a
        self.members[a].marital_status = self.members[b].marital_status = "20"

    def couple(self, head_age: int, head_male: bool = True) -> tuple[int, int]:
        rng = self.rng
        head_sex: Sex = "1" if head_male else "2"
        head = self.add("head", head_sex, head_age, "02")
        gap = int(rng.gauss(2.5, 2.5)) if head_male else -int(rng.gauss(2.5, 2.5))
        spouse_age = max(20, head_age - gap)
        spouse = self.add("spouse", "2" if head_male else "1", spouse_age, "12" if head_male else "11")
        self.marry(head, spouse)
        return head, spouse

    def children(self, father: int | None, mother: int | None, count: int, twins: bool, via_head: bool = True) -> list[int]:
        """``count`` children of the given parents; mothers are 22-38 at each birth."""
        rng = self.rng
        parent = mother if mother is not None else father
        assert parent is not None
        parent_age = self.age(parent)
        ages: list[int] = []
        for _ in range(count):
            at_birth = rng.randint(22, 38) if mother is not None else rng.randint(24, 42)
            ages.append(max(0, min(parent_age - at_birth, rng.randint(18, 34))))
        # Siblings (other than twins) are born at least two years apart.
        ages.sort(reverse=True)
        for i in range(1, len(ages)):
            if ages[i - 1] - ages[i] < 2:
                ages[i] = ages[i - 1] - 2 - rng.randint(0, 3)
        if ages and ages[-1] < 0:
            ages = [a - ages[-1] for a in ages]
        if twins and count >= 2:
            ages[1] = ages[0]
        indices: list[int] = []
        for i, age in enumerate(ages):
            sex: Sex = "1" if rng.random() < 0.52 else "2"
            index = self.add("child", sex, age, "20" if sex == "1" else "30")
            if twins and i == 1:
                first = indices[0]
                self.members[index].birth_date = self.members[first].birth_date
                self.members[index].twin = first
                self.members[first].twin = index
                if rng.random() < 0.6:
                    self.members[index].sex = self.members[first].sex
            self.members[index].father = father
            self.members[index].mother = mother
            indices.append(index)
        if via_head:
            self.order_children(indices)
        return indices

    def order_children(self, indices: list[int]) -> None:
        """GB/T 4761: 独生子/独生女 for an only child, else 长子, 次子 ... by birth order within a sex."""
        by_age = sorted(indices, key=lambda i: (self.members[i].birth_date, i))
        if len(by_age) == 1:
            only = self.members[by_age[0]]
            only.relation = "21" if only.sex == "1" else "31"
            return
        sons = [i for i in by_age if self.members[i].sex == "1"]
        daughters = [i for i in by_age if self.members[i].sex == "2"]
        for order, i in enumerate(sons):
            self.members[i].relation = SON_ORDER[min(order, 2)]
        for order, i in enumerate(daughters):
            self.members[i].relation = DAUGHTER_ORDER[min(order, 2)]


def _pick(rng: random.Random, shapes: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([s for s, _ in shapes], weights=[w for _, w in shapes])[0]


def _single_status(rng: random.Random, age: int) -> str:
    if age < 30:
        return "10" if rng.random() < 0.92 else "40"
    if age < 60:
        return rng.choices(("10", "40", "30"), weights=(0.45, 0.45, 0.1))[0]
    return rng.choices(("30", "40", "10"), weights=(0.75, 0.2, 0.05))[0]


def draft_chinese_household(
    rng: random.Random, as_of: date, migrant: bool, twin_rate: float
) -> tuple[str, list[MemberDraft]]:
    """(shape name, members) of a registered or migrant Chinese household; index 0 is the head."""
    shape = _pick(rng, _MIGRANT_SHAPES if migrant else _REGISTERED_SHAPES)
    family = _Family(rng, as_of)
    twins = rng.random() < twin_rate
    male_head = rng.random() < 0.8
    if shape == "single_elderly":
        head = family.add("head", "2" if rng.random() < 0.65 else "1", _age(rng, 65, 97, 74), "02")
        family.members[head].marital_status = rng.choices(("30", "40", "10"), weights=(0.85, 0.12, 0.03))[0]
    elif shape == "elderly_couple":
        family.couple(_age(rng, 60, 92, 68), male_head)
    elif shape == "single_adult":
        age = _age(rng, 18, 55, 28) if migrant else _age(rng, 20, 64, 32)
        head = family.add("head", "1" if rng.random() < (0.6 if migrant else 0.5) else "2", age, "02")
        family.members[head].marital_status = _single_status(rng, age)
    elif shape == "couple":
        family.couple(_age(rng, 22, 45, 28) if migrant else _age(rng, 24, 60, 30), male_head)
    elif shape in {"couple_child", "couple_two_children"}:
        count = 2 if shape == "couple_two_children" or twins else 1
        head_age = _age(rng, 25, 48, 34) if migrant else _age(rng, 27, 58, 38)
        head, spouse = family.couple(head_age, male_head)
        father, mother = (head, spouse) if family.members[head].sex == "1" else (spouse, head)
        family.children(father, mother, count, twins)
    elif shape == "three_generation":
        head, spouse = family.couple(_age(rng, 30, 50, 37), male_head)
        father, mother = (head, spouse) if family.members[head].sex == "1" else (spouse, head)
        family.children(father, mother, 2 if twins or rng.random() < 0.25 else 1, twins)
        _add_parents(family, head, spouse)
    elif shape == "single_parent":
        head_sex: Sex = "2" if rng.random() < 0.7 else "1"
        head = family.add("head", head_sex, _age(rng, 28, 55, 40), "02")
        family.members[head].marital_status = rng.choices(("40", "30"), weights=(0.8, 0.2))[0]
        lone_father, lone_mother = (head, None) if head_sex == "1" else (None, head)
        family.children(lone_father, lone_mother, 2 if twins else 1, twins)
    elif shape == "elder_with_child_family":
        _draft_elder_with_child_family(family, male_head)
    elif shape == "siblings":
        head = family.add("head", "1" if rng.random() < 0.5 else "2", _age(rng, 40, 80), "02")
        sibling_age = max(30, family.age(head) + rng.randint(-8, 8))
        sex: Sex = "1" if rng.random() < 0.5 else "2"
        older = sibling_age > family.age(head)
        relation = {("1", True): "71", ("1", False): "73", ("2", True): "75", ("2", False): "77"}[(sex, older)]
        sibling = family.add("sibling", sex, sibling_age, relation)
        for i in (head, sibling):
            family.members[i].marital_status = _single_status(rng, family.age(i))
    else:  # shared rental: unrelated adults, the one who signed the lease is the head
        for i in range(rng.randint(2, 4)):
            age = _age(rng, 19, 42, 26)
            index = family.add("head" if i == 0 else "lodger", "1" if rng.random() < 0.6 else "2", age, "02" if i == 0 else "99")
            family.members[index].marital_status = _single_status(rng, age)
    return shape, family.members


def _add_parents(family: _Family, head: int, spouse: int) -> None:
    """One or both parents of the head or of the spouse (公公/婆婆 or 岳父/岳母 for the spouse's)."""
    rng = family.rng
    of_head = rng.random() < 0.6
    child = head if of_head else spouse
    child_age = family.age(child)
    head_male = family.members[head].sex == "1"
    if of_head:
        codes = ("51", "52")
    else:
        codes = ("55", "56") if head_male else ("53", "54")
    both = rng.random() < 0.55
    father_age = min(99, child_age + rng.randint(24, 36))
    mother_age = min(99, max(child_age + 22, father_age - rng.randint(0, 5)))
    indices = []
    if both or rng.random() < 0.35:
        indices.append(family.add("parent", "1", father_age, codes[0]))
    if both or not indices:
        indices.append(family.add("parent", "2", mother_age, codes[1]))
    if len(indices) == 2:
        family.marry(indices[0], indices[1])
    else:
        family.members[indices[0]].marital_status = "30"
    member = family.members[child]
    if indices and family.members[indices[0]].sex == "1":
        member.father = indices[0]
    for i in indices:
        if family.members[i].sex == "2":
            member.mother = i


def _draft_elder_with_child_family(family: _Family, male_head: bool) -> None:
    """An older couple (or widow/er) with a married child, the child's spouse and a grandchild."""
    rng = family.rng
    head_age = _age(rng, 55, 82, 62)
    father: int | None
    mother: int | None
    if rng.random() < 0.8:
        head, spouse = family.couple(head_age, male_head)
        father, mother = (head, spouse) if family.members[head].sex == "1" else (spouse, head)
    else:
        head = family.add("head", "2" if rng.random() < 0.6 else "1", head_age, "02")
        family.members[head].marital_status = "30"
        father, mother = (head, None) if family.members[head].sex == "1" else (None, head)
    (child,) = family.children(father, mother, 1, False)
    child_member = family.members[child]
    child_age = max(26, family.age(child))
    child_member.birth_date = birth_date_for_age(rng, family.as_of, min(child_age, family.age(head) - 22))
    if rng.random() < 0.7:
        in_law_sex: Sex = "2" if child_member.sex == "1" else "1"
        in_law = family.add("child_spouse", in_law_sex, max(22, family.age(child) + rng.randint(-4, 4)),
                            "38" if in_law_sex == "2" else "28")  # fmt: skip
        family.marry(child, in_law)
        if rng.random() < 0.75:
            child_father, child_mother = (child, in_law) if child_member.sex == "1" else (in_law, child)
            (grandchild,) = family.children(child_father, child_mother, 1, False, via_head=False)
            grand = family.members[grandchild]
            via_son = child_member.sex == "1"
            grand.role = "grandchild"
            grand.relation = ("41" if grand.sex == "1" else "42") if via_son else ("43" if grand.sex == "1" else "44")


def draft_foreign_household(rng: random.Random, as_of: date) -> tuple[str, list[MemberDraft]]:
    """A foreign household: mostly single professionals and students, some couples and families."""
    shape = _pick(rng, _FOREIGN_SHAPES)
    family = _Family(rng, as_of)
    if shape == "single_adult":
        age = _age(rng, 20, 62, 30)
        head = family.add("head", "1" if rng.random() < 0.55 else "2", age, "02")
        family.members[head].marital_status = _single_status(rng, age)
    else:
        head, spouse = family.couple(_age(rng, 26, 60, 36), True)
        if shape == "couple_child":
            family.children(head, spouse, 1 + (rng.random() < 0.3), False)
    for member in family.members:
        member.ethnicity = None
    return shape, family.members
