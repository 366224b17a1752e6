"""The matcher's settings: comparisons, blocking rules, rules and thresholds as data.

The YAML file next to this module (``matching.yaml``) is the default; a steward can read it
to see what the matcher does, and tests load variants of it. Nothing here computes anything:
:mod:`core.matching.comparisons` and :mod:`core.matching.blocking` compile it into functions.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "BLOCKING_KEYS",
    "COMPARISON_TESTS",
    "BlockingRuleSpec",
    "CapRule",
    "ComparisonKind",
    "ComparisonSpec",
    "ConditionSpec",
    "Conditioning",
    "EstimationSettings",
    "STRATA",
    "Stratum",
    "LevelSpec",
    "MatchSettings",
    "RuleSettings",
    "Thresholds",
    "default_settings",
    "load_settings",
]

ComparisonKind = Literal["name", "birth_date", "sex", "id_number", "other_ids", "residence"]

# The tests each kind of comparison understands; ``else`` (always true) ends every list.
COMPARISON_TESTS: dict[str, frozenset[str]] = {
    "name": frozenset({
        "exact", "same_pinyin", "same_tokens_reordered", "jaro_winkler", "one_character_differs",
        "token_subset", "words_jaro_winkler", "one_word_missing", "same_given_name", "same_surname", "else",
    }),
    "birth_date": frozenset({"exact", "one_digit_or_swap", "same_month_when_day_unknown", "same_year", "else"}),
    "sex": frozenset({"exact", "else"}),
    "id_number": frozenset({"same_valid", "different_valid", "within_edits", "else"}),
    "other_ids": frozenset({"exact", "within_edits", "else"}),
    "residence": frozenset({
        "home_and_phone", "home", "phone", "same_flat", "flat_only", "same_place", "similar_text",
        "similar_text_other_door", "same_numbers", "words_found", "else",
    }),
}  # fmt: skip

# The blocking keys :mod:`core.matching.blocking` knows how to build.
BLOCKING_KEYS = frozenset({
    "id_number", "id_number_one_edit", "other_id", "other_id_one_edit", "household_id", "dwelling", "phone",
    "birth_date", "pinyin_birth_year", "sorted_tokens_birth_year", "surname_birth_month", "latin_sorted_tokens",
    "latin_name_word", "name_flat",
})  # fmt: skip

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class LevelSpec(BaseModel):
    """One level of a comparison: a label, the test that selects it, and starting m and u.

    ``u_shared`` is the starting u among pairs that share a home and ``u_same_day`` among
    pairs born the same day (see :class:`Conditioning`; ``u`` when not given); both are
    ignored for the residence comparison itself. ``u_from_candidates`` marks a level
    that implies a shared blocking key (the same phone, the same passport…): every pair at
    this level is a candidate, so its u is counted exactly over the candidate pairs instead of
    sampled from random pairs, where it is too rare to be seen often.
    """

    model_config = _FROZEN

    label: str
    test: str
    threshold: float | None = Field(default=None, gt=0, le=1)
    max_edits: int | None = Field(default=None, ge=0)
    script: Literal["han", "latin"] | None = None  # name tests: only when both names are in this script
    m: float = Field(gt=0, le=1)
    u: float = Field(gt=0, le=1)
    u_shared: float | None = Field(default=None, gt=0, le=1)
    u_same_day: float | None = Field(default=None, gt=0, le=1)
    u_from_candidates: bool = False
    description: str = ""


class ComparisonSpec(BaseModel):
    """One field comparison with ordered levels; the first level whose test holds is taken."""

    model_config = _FROZEN

    name: str
    kind: ComparisonKind
    description: str = ""
    levels: tuple[LevelSpec, ...]
    term_frequency_level: str | None = None

    @model_validator(mode="after")
    def _levels_are_well_formed(self) -> ComparisonSpec:
        known = COMPARISON_TESTS[self.kind]
        labels = [level.label for level in self.levels]
        if len(set(labels)) != len(labels):
            raise ValueError(f"{self.name}: level labels repeat")
        if not self.levels or self.levels[-1].test != "else":
            raise ValueError(f"{self.name}: the last level must be `test: else`")
        for level in self.levels:
            if level.test not in known:
                raise ValueError(f"{self.name}: {level.test!r} is not a {self.kind} test ({sorted(known)})")
            if level.test in ("jaro_winkler", "words_jaro_winkler", "one_word_missing", "similar_text",
                              "similar_text_other_door", "words_found") \
                    and level.threshold is None:
                raise ValueError(f"{self.name}.{level.label}: {level.test} needs a threshold")
            if level.test == "within_edits" and level.max_edits is None:
                raise ValueError(f"{self.name}.{level.label}: within_edits needs max_edits")
        if self.term_frequency_level is not None:
            if self.kind != "name":
                raise ValueError(f"{self.name}: term frequencies are kept for names only")
            if self.term_frequency_level not in labels:
                raise ValueError(f"{self.name}: no level {self.term_frequency_level!r}")
        return self

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(level.label for level in self.levels)


class ConditionSpec(BaseModel):
    """Levels of one comparison that put a pair into a stratum."""

    model_config = _FROZEN

    comparison: str
    levels: tuple[str, ...]


class Conditioning(BaseModel):
    """Where non-matches are not independent across fields, and u is estimated per stratum.

    * ``household``: the pair shares a home or a phone. A twin, a spouse or a parent agrees
      with a resident on surname, address and phone far more often than a stranger does, so
      every personal comparison (and the birth date) has its own u among household members.
    * ``born_same_day``: the pair has the same birth date. Namesakes born the same day (张伟
      and 张伟, both 1985-03-07) are the hard case here, so the name, sex and document
      comparisons have their own u among people born the same day.

    The four strata are: any resident, born the same day, household member, household member
    born the same day (twins). u of each is estimated from data (see ``estimate``).
    """

    model_config = _FROZEN

    household: ConditionSpec
    born_same_day: ConditionSpec


Stratum = Literal["any_resident", "born_same_day", "household_member", "household_member_born_same_day"]
STRATA: tuple[Stratum, ...] = ("any_resident", "born_same_day", "household_member", "household_member_born_same_day")
"""Stratum names, indexed ``2 * household + born_same_day``."""


class BlockingRuleSpec(BaseModel):
    """A blocking key: records sharing a key become candidate pairs, unless the key is too common."""

    model_config = _FROZEN

    name: str
    key: str
    max_block_size: int = Field(ge=2)
    description: str = ""

    @model_validator(mode="after")
    def _known_key(self) -> BlockingRuleSpec:
        if self.key not in BLOCKING_KEYS:
            raise ValueError(f"blocking rule {self.name}: unknown key {self.key!r} ({sorted(BLOCKING_KEYS)})")
        return self


class CapRule(BaseModel):
    """A pair whose ``comparison`` falls into ``levels`` is never linked unseen: at most reviewed.

    ``when`` (all must hold) narrows the rule to some pairs, ``unless`` (any) lifts it.
    """

    model_config = _FROZEN

    comparison: str
    levels: tuple[str, ...]
    when: tuple[ConditionSpec, ...] = ()
    unless: tuple[ConditionSpec, ...] = ()
    reason: str


class RuleSettings(BaseModel):
    model_config = _FROZEN

    same_valid_id: Literal["link"] = "link"
    different_valid_ids: Literal["never_link"] = "never_link"
    at_most_review: tuple[CapRule, ...] = ()


class Thresholds(BaseModel):
    """Link at or above ``link_probability``, review from ``review_probability``, else new."""

    model_config = _FROZEN

    link_probability: float = Field(gt=0, lt=1)
    review_probability: float = Field(gt=0, lt=1)
    ambiguity_margin_bits: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.review_probability > self.link_probability:
            raise ValueError("review_probability must not exceed link_probability")
        return self


class EstimationSettings(BaseModel):
    """How :func:`core.matching.estimate.estimate_parameters` trains."""

    model_config = _FROZEN

    random_pairs: int = Field(default=1_000_000, ge=1000)
    max_candidate_pairs: int = Field(default=3_000_000, ge=1000)
    max_iterations: int = Field(default=60, ge=1)
    tolerance: float = Field(default=1e-5, gt=0)
    pseudo_count: float = Field(default=1.0, ge=0)
    stratum_pseudo_count: float = Field(default=20.0, ge=0)
    term_frequency_min_count: int = Field(default=2, ge=1)


class MatchSettings(BaseModel):
    """Everything the matcher does, as data (see ``matching.yaml``)."""

    model_config = _FROZEN

    version: str
    prior: float = Field(gt=0, lt=1)
    conditioning: Conditioning
    comparisons: tuple[ComparisonSpec, ...]
    blocking_rules: tuple[BlockingRuleSpec, ...]
    rules: RuleSettings = RuleSettings()
    thresholds: Thresholds
    estimation: EstimationSettings = EstimationSettings()

    @model_validator(mode="after")
    def _references_resolve(self) -> MatchSettings:
        by_name = {c.name: c for c in self.comparisons}
        if len(by_name) != len(self.comparisons):
            raise ValueError("comparison names repeat")
        kinds = [c.kind for c in self.comparisons]
        for kind in ("id_number", "residence"):
            if kinds.count(kind) > 1:
                raise ValueError(f"at most one {kind} comparison")
        context = by_name.get(self.conditioning.household.comparison)
        if context is None or context.kind != "residence":
            raise ValueError("conditioning.household must name the residence comparison")
        self._check_levels(context, self.conditioning.household.levels)
        birth = by_name.get(self.conditioning.born_same_day.comparison)
        if birth is None or birth.kind != "birth_date":
            raise ValueError("conditioning.born_same_day must name the birth date comparison")
        self._check_levels(birth, self.conditioning.born_same_day.levels)
        for comparison, condition in ((context, self.conditioning.household), (birth, self.conditioning.born_same_day)):
            for level in comparison.levels:
                if level.label in condition.levels and not level.u_from_candidates:
                    raise ValueError(
                        f"{comparison.name}.{level.label} defines a stratum, so it needs u_from_candidates: true"
                    )
        for comparison in self.comparisons:
            if comparison is context:
                continue
            for level in comparison.levels:
                if level.u_shared is None:
                    raise ValueError(f"{comparison.name}.{level.label}: u_shared is missing")
        names = [r.name for r in self.blocking_rules]
        if len(set(names)) != len(names):
            raise ValueError("blocking rule names repeat")
        for cap in self.rules.at_most_review:
            for condition in (ConditionSpec(comparison=cap.comparison, levels=cap.levels), *cap.unless):
                target = by_name.get(condition.comparison)
                if target is None:
                    raise ValueError(f"rule refers to an unknown comparison {condition.comparison!r}")
                self._check_levels(target, condition.levels)
        return self

    @staticmethod
    def _check_levels(comparison: ComparisonSpec, labels: tuple[str, ...]) -> None:
        unknown = set(labels) - set(comparison.labels)
        if unknown:
            raise ValueError(f"{comparison.name} has no level(s) {sorted(unknown)}")

    def comparison(self, name: str) -> ComparisonSpec:
        for comparison in self.comparisons:
            if comparison.name == name:
                return comparison
        raise KeyError(name)


def load_settings(path: str | Path) -> MatchSettings:
    """Read and validate a matching settings file."""
    return MatchSettings.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


@cache
def default_settings() -> MatchSettings:
    """The settings shipped beside this module (``core/matching/matching.yaml``)."""
    text = resources.files("core.matching").joinpath("matching.yaml").read_text(encoding="utf-8")
    return MatchSettings.model_validate(yaml.safe_load(text))
