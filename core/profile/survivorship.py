"""Survivorship (存活规则): which linked record's value becomes the profile's value of each field.

The rules are data (``survivorship.yaml`` beside this module, or a file of the same shape): per
field, an authority order of sources, then recency, then a fixed tie-break. See the YAML file for
the full description a steward reads.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from core.profile.model import Golden, GoldenFields, Observation, Provenance
from core.standardise.addresses import address_identity
from schemas.profile_events import LinkedRecord
from schemas.resident import Address, ResidentRecord

__all__ = [
    "DEFAULT_RULES_PATH", "FieldRule", "SurvivorshipRules", "default_rules", "load_rules", "survive", "value_identity",
]

DEFAULT_RULES_PATH = Path(__file__).with_name("survivorship.yaml")

# Golden field → the record's value for it (``None`` when the record says nothing).
_EXTRACTORS: dict[str, Callable[[ResidentRecord], object]] = {
    "name": lambda r: r.name,
    "id_number": lambda r: r.id_number,
    "sex": lambda r: None if r.sex == "unknown" else r.sex,
    "birth_date": lambda r: r.birth_date,
    "birth_month": lambda r: r.birth_month,
    "phones": lambda r: r.phones or None,
    "registered_address": lambda r: r.addresses.get("registered"),
    "residential_address": lambda r: r.addresses.get("residential"),
    "property_address": lambda r: r.addresses.get("property"),
    "household_id": lambda r: r.household_id,
    "relation_to_head": lambda r: r.relation_to_head,
    "ethnicity": lambda r: r.ethnicity,
    "marital_status": lambda r: r.marital_status,
    "nationality": lambda r: r.nationality,
    "deceased_on": lambda r: r.deceased_on,
    "moved_out_on": lambda r: r.moved_out_on,
}


class FieldRule(BaseModel):
    """Authority order of sources for one field; ``exclusive``: unlisted sources never count."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    authority: tuple[str, ...] = Field(min_length=1)
    exclusive: bool = False

    def rank(self, source: str) -> int | None:
        """Position of ``source`` in the authority order; ``None`` when it may not supply the field."""
        if source in self.authority:
            return self.authority.index(source)
        return None if self.exclusive else len(self.authority)


class SurvivorshipRules(BaseModel):
    """The survivorship configuration, as loaded from YAML."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    default: FieldRule
    fields: dict[str, FieldRule] = Field(default_factory=dict)
    _resolved: dict[str, FieldRule] = PrivateAttr(default_factory=dict)  # rule_for's answers (patterns are slow)

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, fields: dict[str, FieldRule]) -> dict[str, FieldRule]:
        unknown = [name for name in fields if name not in _EXTRACTORS and not name.startswith("attributes.")]
        if unknown:
            raise ValueError(f"unknown profile fields in survivorship rules: {', '.join(sorted(unknown))}")
        return fields

    def rule_for(self, field: str) -> FieldRule:
        """The rule of ``field``: its exact entry, else the longest matching pattern, else the default."""
        found = self._resolved.get(field)
        if found is None:
            found = self._resolved[field] = self._find_rule(field)
        return found

    def _find_rule(self, field: str) -> FieldRule:
        if field in self.fields:
            return self.fields[field]
        patterns = [name for name in self.fields if fnmatch.fnmatchcase(field, name)]
        if patterns:
            return self.fields[max(patterns, key=lambda name: (len(name), name))]
        return self.default


def load_rules(path: Path | str = DEFAULT_RULES_PATH) -> SurvivorshipRules:
    with open(path, encoding="utf-8") as handle:
        return SurvivorshipRules.model_validate(yaml.safe_load(handle))


@functools.cache
def default_rules() -> SurvivorshipRules:
    return load_rules(DEFAULT_RULES_PATH)


def survive(records: Iterable[LinkedRecord], rules: SurvivorshipRules | None = None) -> GoldenFields:
    """The golden fields of a set of linked records. Ended records are left out.

    The result depends only on the records and the rules, not on their order.
    """
    rules = rules or default_rules()
    live = [linked.record for linked in records if not linked.ended]
    golden: dict[str, Any] = {}
    for field, extract in _EXTRACTORS.items():
        golden[field] = _survivor(rules.rule_for(field), [(r, extract(r)) for r in live])
    attribute_keys = sorted({key for r in live for key in r.attributes})
    golden["attributes"] = {
        key: survivor
        for key in attribute_keys
        if (survivor := _survivor(rules.rule_for(f"attributes.{key}"), [(r, r.attributes.get(key)) for r in live]))
    }
    # Built without validation: every value comes from a validated record, and a fold recomputes
    # this for each event (validating tens of nested models each time was most of its cost).
    return GoldenFields.model_construct(**golden)


def _survivor(rule: FieldRule, values: list[tuple[ResidentRecord, object]]) -> Golden[object] | None:
    ranked = sorted(
        ((rank, record, value) for record, value in values
         if value is not None and (rank := rule.rank(record.source)) is not None),
        key=lambda item: (item[0], -_timestamp(item[1].observed_at), item[1].source, item[1].record_id),
    )
    if not ranked:
        return None
    _, winner, value = ranked[0]
    same = value_identity(value)
    conflicts: tuple[Observation[object], ...] = tuple(
        Observation.model_construct(value=other, provenance=_provenance(record))
        for _, record, other in ranked[1:]
        if record.source != winner.source and value_identity(other) != same
    )
    return Golden.model_construct(value=value, provenance=_provenance(winner), conflicts=conflicts,
                                  conflicted=bool(conflicts))


def _provenance(record: ResidentRecord) -> Provenance:
    return Provenance.model_construct(source=record.source, record_id=record.record_id, observed_at=record.observed_at)


def _timestamp(moment: datetime) -> float:
    # A naive time is read as UTC, so the ranking does not depend on the machine's time zone.
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def value_identity(value: object) -> object:
    """What "the same value" means: an address as the dwelling it names, phones as a set.

    Two spellings of one flat (with or without the 街道/社区 prefix, 栋 or 幢, with or without
    室, road and door number beside the compound or not) are one value; two flats are two.
    """
    if isinstance(value, Address):
        return address_identity(value)
    if isinstance(value, tuple):
        return frozenset(value)
    return value
