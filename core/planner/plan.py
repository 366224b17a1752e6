"""The collection planner (采集计划): ask community workers only for what the hub does not know.

Given the profiles of some residents and a form template (a list of canonical fields), it returns
per resident the fields already known (value, source, when observed) and the fields truly
missing, and the share of requested fields the form need not ask again ("re-collection avoided").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.planner.fields import KnownValue, check_field, read_field
from core.profile.model import Profile

__all__ = ["CollectionPlan", "FormTemplate", "ResidentPlan", "plan_collection"]


@dataclass(frozen=True)
class FormTemplate:
    """A department form as canonical fields, e.g. an elderly survey (老年人入户调查表)."""

    name: str
    title: str
    fields: tuple[str, ...]
    labels: Mapping[str, str] = field(default_factory=dict)  # field → the form's own column heading

    def __post_init__(self) -> None:
        if not self.fields:
            raise ValueError(f"form {self.name!r} asks for no field")
        for name in self.fields:
            check_field(name)
        if len(set(self.fields)) != len(self.fields):
            raise ValueError(f"form {self.name!r} lists a field twice")

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> FormTemplate:
        """From a form file's content: ``title`` and ``fields`` (names, or ``{field: label}``)."""
        names: list[str] = []
        labels: dict[str, str] = {}
        for entry in data.get("fields") or ():
            if isinstance(entry, Mapping):
                for key, label in entry.items():
                    names.append(str(key))
                    labels[str(key)] = str(label)
            else:
                names.append(str(entry))
        return cls(name=name, title=str(data.get("title", name)), fields=tuple(names), labels=labels)

    def label(self, field_name: str) -> str:
        return self.labels.get(field_name, field_name)


@dataclass(frozen=True)
class ResidentPlan:
    """One resident's form: what is already known and what the worker must still ask."""

    profile_id: str
    name: str | None
    known: Mapping[str, KnownValue]
    missing: tuple[str, ...]


@dataclass(frozen=True)
class CollectionPlan:
    form: FormTemplate
    residents: tuple[ResidentPlan, ...]

    @property
    def requested(self) -> int:
        return len(self.residents) * len(self.form.fields)

    @property
    def known(self) -> int:
        return sum(len(r.known) for r in self.residents)

    @property
    def share_known(self) -> float:
        """Requested fields already known: the re-collection avoided (0.0 for an empty plan)."""
        return self.known / self.requested if self.requested else 0.0


def plan_collection(profiles: Iterable[Profile], form: FormTemplate) -> CollectionPlan:
    """Plan ``form`` for the active ``profiles`` (redirects of merged profiles are skipped)."""
    residents = []
    for profile in sorted((p for p in profiles if p.is_active), key=lambda p: p.profile_id):
        known: dict[str, KnownValue] = {}
        missing: list[str] = []
        for name in form.fields:
            value = read_field(profile.golden, name)
            if value is None:
                missing.append(name)
            else:
                known[name] = value
        residents.append(ResidentPlan(profile_id=profile.profile_id,
                                      name=profile.golden.name.value if profile.golden.name else None,
                                      known=known, missing=tuple(missing)))
    return CollectionPlan(form=form, residents=tuple(residents))
