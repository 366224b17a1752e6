"""The collection planner (采集计划): ask community workers only for what the hub does not know.

Given the profiles of some residents and a form template (a list of canonical fields), it returns
per resident the fields already known (value, source, when observed) and the fields truly
missing, and the share of requested fields the form need not ask again ("re-collection avoided").

A resident whose department records place them in different communities (住址有冲突, the store's
``place_contested``, ``core.places``) is asked for a door check (入户核实): where they live
(现住地址), how it was verified (核实方式, 入户核实) and on what day (走访日期). The form gains those
columns for such residents only; the addresses the records disagree on are not shown, the worker
writes the one found at the door.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from core.door_check import SETTLED_FIELD, VERIFICATION_FIELD, VISITED_ON_FIELD
from core.planner.fields import KnownValue, check_field, read_field
from core.profile.model import Profile

__all__ = ["DOOR_CHECK", "CollectionPlan", "FormTemplate", "ResidentPlan", "plan_collection"]

# A door check (入户核实): the fields asked of a resident whose place is contested, with the headings
# a form gains for them. The community mapping reads 核实方式 入户核实 as ``at_door`` and 走访日期 as the
# day the worker was at the door: the visit that settles 住址有冲突 (core.door_check, core.places).
DOOR_CHECK: Mapping[str, str] = {SETTLED_FIELD: "现住地址（入户核实）", VERIFICATION_FIELD: "核实方式",
                                 VISITED_ON_FIELD: "走访日期"}


@dataclass(frozen=True)
class FormTemplate:
    """A department form as canonical fields, e.g. an elderly survey (老年人入户调查表)."""

    name: str
    title: str
    fields: tuple[str, ...]
    labels: Mapping[str, str] = field(default_factory=dict)  # field → the form's own column heading
    min_age: int | None = None  # who the form is for (an elderly survey: 60); unknown ages are kept
    # Fields the form gained for door checks (of DOOR_CHECK): asked only of residents whose place is contested.
    door_check: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.fields:
            raise ValueError(f"form {self.name!r} asks for no field")
        if set(self.door_check) - (set(DOOR_CHECK) & set(self.fields)):
            raise ValueError(f"form {self.name!r}: door-check columns must be among its fields and of "
                             f"{', '.join(DOOR_CHECK)}")
        if self.min_age is not None and not 0 <= self.min_age <= 130:
            raise ValueError(f"form {self.name!r}: min_age {self.min_age} is not an age")
        for name in self.fields:
            check_field(name)
        if len(set(self.fields)) != len(self.fields):
            raise ValueError(f"form {self.name!r} lists a field twice")

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> FormTemplate:
        """From a form file's content: ``title``, ``fields`` (names, or ``{field: label}``) and
        optionally ``for: {min_age: N}``."""
        names: list[str] = []
        labels: dict[str, str] = {}
        for entry in data.get("fields") or ():
            if isinstance(entry, Mapping):
                for key, label in entry.items():
                    names.append(str(key))
                    labels[str(key)] = str(label)
            else:
                names.append(str(entry))
        who = data.get("for") or {}
        if not isinstance(who, Mapping) or set(who) - {"min_age"}:
            raise ValueError(f"form {name!r}: `for` takes only min_age")
        min_age = who.get("min_age")
        if min_age is not None and (isinstance(min_age, bool) or not isinstance(min_age, int)):
            raise ValueError(f"form {name!r}: min_age must be a whole number of years")
        return cls(name=name, title=str(data.get("title", name)), fields=tuple(names), labels=labels,
                   min_age=min_age)

    def label(self, field_name: str) -> str:
        return self.labels.get(field_name, field_name)

    def with_door_check(self) -> FormTemplate:
        """The form with the door-check columns it lacks (现住地址（入户核实）, 核实方式, 走访日期)."""
        added = tuple(f for f in DOOR_CHECK if f not in self.fields)
        if not added:
            return self
        return replace(self, fields=(*self.fields, *added), labels={**{f: DOOR_CHECK[f] for f in added}, **self.labels},
                       door_check=(*self.door_check, *added))


@dataclass(frozen=True)
class ResidentPlan:
    """One resident's form: what is already known and what the worker must still ask."""

    profile_id: str
    name: str | None
    known: Mapping[str, KnownValue]
    missing: tuple[str, ...]
    disputed: tuple[str, ...] = ()  # missing because an open objection says the held value is wrong
    door_check: bool = False  # 住址有冲突: the DOOR_CHECK fields are among the missing, whatever the hub holds


@dataclass(frozen=True)
class CollectionPlan:
    form: FormTemplate
    residents: tuple[ResidentPlan, ...]
    # residents left out, by reason: "deceased" (nobody to visit), "under_min_age" (not who the form is for)
    left_out: Mapping[str, int] = field(default_factory=dict)

    @property
    def requested(self) -> int:
        """Fields asked of or known for the residents (a door-check column counts only where it is asked)."""
        return sum(len(r.known) + len(r.missing) for r in self.residents)

    @property
    def known(self) -> int:
        return sum(len(r.known) for r in self.residents)

    @property
    def share_known(self) -> float:
        """Requested fields already known: the re-collection avoided (0.0 for an empty plan)."""
        return self.known / self.requested if self.requested else 0.0


def plan_collection(profiles: Iterable[Profile], form: FormTemplate, *, today: date | None = None,
                    disputed: Mapping[str, Collection[str]] | None = None,
                    contested: Collection[str] = ()) -> CollectionPlan:
    """Plan ``form`` for the active ``profiles`` (redirects of merged profiles are skipped).

    A field under an open objection (``disputed``: profile id → fields, 有异议) counts as a gap to
    check at the door, not as known: the worker asks it again until the source settles it.

    A resident whose place is contested (``contested``: profile ids, 住址有冲突) is asked for a door
    check: the plan's form gains the :data:`DOOR_CHECK` columns, and for that resident they are gaps
    (a held residential address is not shown: the records disagree on it). Other residents are
    neither asked nor counted for the columns the form gained.

    Residents the hub knows to have died are left out (a worker must not knock for them), and so
    are those younger than the form's ``min_age``; a resident of unknown age stays in (the form
    asks for the birth date)."""
    today = today or date.today()
    left_out: Counter[str] = Counter()
    chosen: list[Profile] = []
    for profile in sorted((p for p in profiles if p.is_active), key=lambda p: p.profile_id):
        reason = _left_out(profile, form, today)
        if reason is not None:
            left_out[reason] += 1
        else:
            chosen.append(profile)
    checked = {p.profile_id for p in chosen} & set(contested)
    if checked:
        form = form.with_door_check()
    residents = []
    for profile in chosen:
        door_check = profile.profile_id in checked
        known: dict[str, KnownValue] = {}
        missing: list[str] = []
        doubted = set((disputed or {}).get(profile.profile_id, ()))
        for name in form.fields:
            if door_check and name in DOOR_CHECK:
                missing.append(name)
                continue
            if name in form.door_check:
                continue  # a column for the residents asked for a door check, not this one
            value = None if name in doubted else read_field(profile.golden, name)
            if value is None:
                missing.append(name)
            else:
                known[name] = value
        residents.append(ResidentPlan(profile_id=profile.profile_id,
                                      name=profile.golden.name.value if profile.golden.name else None,
                                      known=known, missing=tuple(missing),
                                      disputed=tuple(n for n in form.fields if n in doubted), door_check=door_check))
    return CollectionPlan(form=form, residents=tuple(residents), left_out=dict(left_out))


def _left_out(profile: Profile, form: FormTemplate, today: date) -> str | None:
    golden = profile.golden
    if golden.deceased_on is not None:
        return "deceased"
    if form.min_age is None:
        return None
    born = golden.birth_date.value if golden.birth_date else None
    if born is None:
        return None
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return "under_min_age" if age < form.min_age else None
