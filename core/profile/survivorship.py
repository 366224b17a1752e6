"""Survivorship (存活规则): which linked record's value becomes the profile's value of each field.

The rules are data (``survivorship.yaml`` beside this module, or a file of the same shape): per
field, an authority order of sources, then recency, then a fixed tie-break. See the YAML file for
the full description a steward reads.

A field marked ``settled_at_door`` (the residential address) first leaves out what a door check
has settled, by the rule ``core.places.derive`` places the resident by: the latest visit on which
a community worker verified the address at the door (``attributes.verification`` is ``at_door``,
入户核实, ``core.door_check``) outranks every record whose news is not dated after it (a register's
``changed_on``, or another check's ``seen_on``; undated records included). A record with news after
the check (a register that changed its row since, a later check) competes with it as usual.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from core.door_check import SETTLED_FIELD, checked_on, latest_news
from core.profile.model import Golden, GoldenFields, Observation, Provenance
from core.standardise.addresses import address_identity
from schemas.profile_events import LinkedRecord
from schemas.resident import Address, ResidentRecord

__all__ = [
    "DEFAULT_RULES_PATH", "FieldRule", "SurvivorshipRules", "default_rules", "load_rules", "survive", "value_identity",
]

DEFAULT_RULES_PATH = Path(__file__).with_name("survivorship.yaml")
_SETTLED_AT_DOOR_FIELDS = frozenset({SETTLED_FIELD})  # see core.door_check

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
    """Authority order of sources for one field; ``exclusive``: unlisted sources never count;
    ``settled_at_door``: the latest door check outranks the records with no news since (see the
    module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    authority: tuple[str, ...] = Field(min_length=1)
    exclusive: bool = False
    settled_at_door: bool = False

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
        misplaced = [name for name, rule in fields.items() if rule.settled_at_door and name not in _SETTLED_AT_DOOR_FIELDS]
        if misplaced:
            raise ValueError(f"settled_at_door on a field a door check does not verify: {', '.join(sorted(misplaced))}")
        return fields

    @field_validator("default")
    @classmethod
    def _default_not_settled(cls, default: FieldRule) -> FieldRule:
        if default.settled_at_door:
            raise ValueError("settled_at_door applies to residential_address only, not to the default rule")
        return default

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
    compiled = _compiled(rules or default_rules())
    live = [linked.record for linked in records if not linked.ended]
    if not live:
        return _NO_GOLDEN
    # The ranking's tie-breaks (recency, source, record id) and each record's provenance, once per
    # record rather than once per field: a fold computes this for every event it applies.
    tiebreak = [(-_timestamp(r.observed_at), r.source, r.record_id) for r in live]
    provenance: list[Provenance | None] = [None] * len(live)
    golden: dict[str, Any] = {}
    for field, extract in _EXTRACTORS.items():
        ranks, fallback = compiled.ranks(field)
        values = [(rank, tiebreak[i], i, value) for i, r in enumerate(live)
                  if (value := extract(r)) is not None and (rank := ranks.get(r.source, fallback)) is not None]
        if len(values) > 1 and compiled.settled_at_door(field):
            values = _unsettled(values, live)
        golden[field] = _survivor(values, live, provenance) if values else None
    attribute_keys = sorted({key for r in live for key in r.attributes})
    attributes: dict[str, Golden[Any]] = {}
    for key in attribute_keys:
        ranks, fallback = compiled.ranks(f"attributes.{key}")
        values = [(rank, tiebreak[i], i, value) for i, r in enumerate(live)
                  if (value := r.attributes.get(key)) is not None and (rank := ranks.get(r.source, fallback)) is not None]
        if values:
            attributes[key] = _survivor(values, live, provenance)
    golden["attributes"] = attributes
    # Built without validation: every value comes from a validated record, and a fold recomputes
    # this for each event (validating tens of nested models each time was most of its cost).
    return _construct(GoldenFields, golden)


class _CompiledRules:
    """A rule set's authority orders as lookups (``rule_for`` and ``rank`` per value were most
    of survivorship's cost): field → ({source: rank}, the rank of an unlisted source or None)."""

    def __init__(self, rules: SurvivorshipRules) -> None:
        self.rules = rules
        self._by_field: dict[str, tuple[dict[str, int], int | None]] = {}

    def ranks(self, field: str) -> tuple[dict[str, int], int | None]:
        found = self._by_field.get(field)
        if found is None:
            rule = self.rules.rule_for(field)
            order = {source: rank for rank, source in reversed(list(enumerate(rule.authority)))}
            found = self._by_field[field] = (order, None if rule.exclusive else len(rule.authority))
        return found

    def settled_at_door(self, field: str) -> bool:
        return field in _SETTLED_AT_DOOR_FIELDS and self.rules.rule_for(field).settled_at_door


_COMPILED: dict[int, _CompiledRules] = {}


def _compiled(rules: SurvivorshipRules) -> _CompiledRules:
    found = _COMPILED.get(id(rules))
    if found is None or found.rules is not rules:  # keyed by identity; the entry holds the rules alive
        if len(_COMPILED) > 64:
            _COMPILED.clear()
        found = _COMPILED[id(rules)] = _CompiledRules(rules)
    return found


def _survivor(values: list[tuple[int, tuple[float, str, str], int, Any]], live: list[ResidentRecord],
              provenance: list[Provenance | None]) -> Golden[Any]:
    """The top value of ``values`` ((rank, tie-break, record index, value)), with the other
    sources' values that differ from it as conflicts, in rank order."""
    if len(values) > 1:
        values.sort(key=_rank_key)
    _, _, first, value = values[0]
    conflicts: tuple[Observation[Any], ...] = ()
    if len(values) > 1:
        source = live[first].source
        same = value_identity(value)
        conflicts = tuple(_construct(Observation, {"value": other, "provenance": _provenance_of(i, live, provenance)})
                          for _, _, i, other in values[1:]
                          if live[i].source != source and value_identity(other) != same)
    return _construct(Golden, {"value": value, "provenance": _provenance_of(first, live, provenance),
                               "conflicts": conflicts, "conflicted": bool(conflicts)})


def _unsettled(values: list[tuple[int, tuple[float, str, str], int, Any]], live: list[ResidentRecord]
               ) -> list[tuple[int, tuple[float, str, str], int, Any]]:
    """``values`` without the records the latest door check among them settled: those with no
    news after it. The checks of that day stay, and so does news dated after it."""
    checked = [day for _, _, i, _ in values if (day := checked_on(live[i])) is not None]
    if not checked:
        return values
    latest = max(checked)
    kept = []
    for item in values:
        record = live[item[2]]
        news = latest_news(record.changed_on, checked_on(record))
        if news is not None and (news > latest or checked_on(record) == latest):
            kept.append(item)
    return kept


def _rank_key(item: tuple[int, tuple[float, str, str], int, Any]) -> tuple[int, tuple[float, str, str]]:
    return item[0], item[1]  # unique: one live record per source and record id


def _provenance_of(index: int, live: list[ResidentRecord], cache: list[Provenance | None]) -> Provenance:
    found = cache[index]
    if found is None:
        record = live[index]
        found = cache[index] = _construct(Provenance, {"source": record.source, "record_id": record.record_id,
                                                       "observed_at": record.observed_at})
    return found


M = TypeVar("M", bound=BaseModel)


def _construct(model: type[M], values: dict[str, Any]) -> M:
    """``model.model_construct(**values)`` for values that name every field (no defaults to fill),
    without its per-call field walk: the models are frozen plain data, built here from validated
    records only. Equal to what a validated model holds (``tests/unit`` compares the two)."""
    built = _new(model)
    _set_dict(built, values)
    _set_fields_set(built, set(values))
    _set_extra(built, None)
    _set_private(built, None)
    return built


# BaseModel's own slot and ``__dict__`` descriptors, called directly (a third of the cost of
# ``object.__setattr__`` by name; survivorship builds tens of these per fold).
_new = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


_NO_GOLDEN = _construct(GoldenFields, {**dict.fromkeys(_EXTRACTORS), "attributes": {}})


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
