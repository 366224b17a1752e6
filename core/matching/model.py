"""The Fellegi–Sunter model: m and u per level, the prior, and the score of a record pair.

For each comparison level, m = P(level | same resident) and u = P(level | different residents);
the level's evidence is log2(m / u) bits (its Bayes factor in bits), and the match weight of a
pair is the prior's log2 odds plus the evidence of every non-null field. Two refinements:

* **Term frequency.** An exact name is weighed against the name's own frequency in the district
  (u = share of records carrying it), so 张伟 = 张伟 says less than 欧阳修 = 欧阳修.
* **Household context.** When the pair shares a home or a phone (see ``household_context`` in
  ``matching.yaml``), the personal fields use ``u_shared``: how often *another member of the
  same household* agrees. A twin agrees on surname, birth date, address and phone, so those
  agreements must not be counted as if a stranger had made them. Conditioning the
  non-match distribution on the context keeps the weights additive and explainable.

Parameters are a versioned, JSON-serialisable :class:`MatchModelParameters`; a
:class:`Matcher` compiles settings and parameters into lookup tables. A worker can build a new
``Matcher`` from a new parameter version and swap it in without a restart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.resident import ResidentRecord

from core.matching.blocking import DEV_ID_HASH_KEY, Blocker
from core.matching.comparisons import NULL, CompiledComparisons, compile_comparisons
from core.matching.features import MatchFeatures, match_features
from core.matching.rules import CapRules
from core.matching.settings import MatchSettings, default_settings

__all__ = [
    "ComparisonParameters",
    "FieldEvidence",
    "LevelParameters",
    "MatchModelParameters",
    "Matcher",
    "Score",
    "TermFrequencies",
    "TrainingSummary",
    "default_matcher",
    "default_parameters",
    "score",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")
_MIN_PROBABILITY = 1e-12


class LevelParameters(BaseModel):
    model_config = _FROZEN

    label: str
    m: float = Field(gt=0, le=1)
    u: float = Field(gt=0, le=1)
    u_shared: float | None = Field(default=None, gt=0, le=1)


class ComparisonParameters(BaseModel):
    model_config = _FROZEN

    name: str
    levels: tuple[LevelParameters, ...]


class TermFrequencies(BaseModel):
    """How many training records carry each exact name (rarer names: ``min_count`` is assumed)."""

    model_config = _FROZEN

    comparison: str
    level: str
    total_records: int = Field(ge=1)
    min_count: int = Field(ge=1)
    counts: dict[str, int]

    def frequency(self, value: str) -> float:
        return max(self.counts.get(value, 0), self.min_count) / self.total_records


class TrainingSummary(BaseModel):
    """What a parameter set was estimated from, for the steward and the audit trail."""

    model_config = _FROZEN

    seed: int
    records: int
    record_pairs: int
    candidate_pairs: int
    candidate_pairs_used: int
    labelled_matches: int  # pairs with the same valid ID number
    labelled_non_matches: int  # pairs with two different valid ID numbers
    random_pairs: int
    iterations: int
    converged: bool
    expected_matches: float
    # m estimated from the labelled matches alone, to compare with the EM estimate.
    m_from_labels: dict[str, dict[str, float]] = Field(default_factory=dict)


class MatchModelParameters(BaseModel):
    """A versioned parameter set: what ``Matcher`` needs besides the settings.

    ``settings_version`` names the settings whose comparisons and levels these parameters
    belong to; :class:`Matcher` refuses parameters whose levels do not line up.
    """

    model_config = _FROZEN

    version: str
    settings_version: str
    trained_at: datetime | None = None
    prior: float = Field(gt=0, lt=1)
    comparisons: tuple[ComparisonParameters, ...]
    term_frequencies: TermFrequencies | None = None
    training: TrainingSummary | None = None

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> MatchModelParameters:
        return cls.model_validate_json(text)

    def comparison(self, name: str) -> ComparisonParameters:
        for comparison in self.comparisons:
            if comparison.name == name:
                return comparison
        raise KeyError(name)


def default_parameters(settings: MatchSettings | None = None) -> MatchModelParameters:
    """The untrained parameters: the starting m and u written in the settings file."""
    settings = settings or default_settings()
    context = settings.household_context.comparison
    return MatchModelParameters(
        version=f"{settings.version}+defaults",
        settings_version=settings.version,
        prior=settings.prior,
        comparisons=tuple(
            ComparisonParameters(
                name=spec.name,
                levels=tuple(
                    LevelParameters(
                        label=level.label, m=level.m, u=level.u,
                        u_shared=None if spec.name == context else level.u_shared,
                    )
                    for level in spec.levels
                ),
            )
            for spec in settings.comparisons
        ),
    )  # fmt: skip


class FieldEvidence(BaseModel):
    """One field's part in a score: its level, the two (masked) values, and its weight in bits.

    ``baseline`` says whom the agreement was weighed against: any resident of the district, or
    another member of the same household (when the pair shares a home or a phone).
    """

    model_config = _FROZEN

    field: str
    level: str
    left: str | None = None
    right: str | None = None
    weight: float
    bayes_factor: float
    baseline: Literal["any_resident", "household_member"] = "any_resident"


class Score(BaseModel):
    """The match weight (log2 odds, prior included) and probability of one record pair."""

    model_config = _FROZEN

    weight: float
    probability: float
    prior_weight: float
    shares_home: bool
    evidence: tuple[FieldEvidence, ...]

    def field(self, name: str) -> FieldEvidence:
        for evidence in self.evidence:
            if evidence.field == name:
                return evidence
        raise KeyError(name)


def _log2(p: float) -> float:
    return math.log2(max(p, _MIN_PROBABILITY))


def probability_of(weight: float) -> float:
    """The match probability of a match weight (log2 odds)."""
    if weight > 60:
        return 1.0
    if weight < -60:
        return 0.0
    return 1.0 / (1.0 + math.exp2(-weight))


class Matcher:
    """Settings and parameters compiled into lookup tables: cheap pair scores.

    >>> matcher = Matcher()
    >>> round(matcher.threshold_weight("link"), 1)
    10.0
    """

    def __init__(
        self,
        parameters: MatchModelParameters | None = None,
        settings: MatchSettings | None = None,
        *,
        id_hash_key: bytes | str = DEV_ID_HASH_KEY,
    ) -> None:
        self.settings = settings or default_settings()
        self.parameters = parameters or default_parameters(self.settings)
        self.comparisons: CompiledComparisons = compile_comparisons(self.settings)
        self.id_hash_key = id_hash_key
        self._check_alignment()
        self.prior_weight = _log2(self.parameters.prior) - _log2(1 - self.parameters.prior)
        context = self.comparisons.context_index
        apart: list[tuple[float, ...]] = []
        shared: list[tuple[float, ...]] = []
        for index, comparison in enumerate(self.parameters.comparisons):
            apart.append(tuple(_log2(lv.m) - _log2(lv.u) for lv in comparison.levels))
            if index == context:
                shared.append(apart[-1])
            else:
                shared.append(tuple(_log2(lv.m) - _log2(lv.u_shared or lv.u) for lv in comparison.levels))
        self._apart = tuple(apart)
        self._shared = tuple(shared)
        self._tf_index, self._tf_level, self._tf_m = -1, -1, 1.0
        self._tf: TermFrequencies | None = self.parameters.term_frequencies
        if self._tf is not None:
            self._tf_index = self.comparisons.index(self._tf.comparison)
            self._tf_level = self.comparisons.comparisons[self._tf_index].labels.index(self._tf.level)
            self._tf_m = self.parameters.comparisons[self._tf_index].levels[self._tf_level].m
        self._tf_weights: dict[str, float] = {}
        self.caps = CapRules(self.settings, self.comparisons)
        self.blocker = Blocker(self.settings, id_hash_key)

    def _check_alignment(self) -> None:
        mine = [(c.name, c.labels) for c in self.comparisons.comparisons]
        theirs = [(c.name, tuple(lv.label for lv in c.levels)) for c in self.parameters.comparisons]
        if mine != theirs:
            raise ValueError(
                f"parameters {self.parameters.version!r} do not fit settings {self.settings.version!r}: "
                "comparisons or levels differ"
            )

    # Thresholds -------------------------------------------------------------------------------

    def threshold_weight(self, which: Literal["link", "review"]) -> float:
        """A probability threshold of the settings as a match weight (log2 odds)."""
        t = self.settings.thresholds
        p = t.link_probability if which == "link" else t.review_probability
        return math.log2(p / (1 - p))

    # Pair scores ------------------------------------------------------------------------------

    def features(self, record: ResidentRecord | MatchFeatures) -> MatchFeatures:
        return match_features(record)

    def comparison_vector(self, a: ResidentRecord | MatchFeatures, b: ResidentRecord | MatchFeatures) -> tuple[int, ...]:
        return self.comparisons.vector(match_features(a), match_features(b))

    def _tf_weight(self, value: str | None) -> float:
        if value is None or self._tf is None:
            return 0.0
        weight = self._tf_weights.get(value)
        if weight is None:
            weight = _log2(self._tf_m) - _log2(self._tf.frequency(value))
            if len(self._tf_weights) < 500_000:
                self._tf_weights[value] = weight
        return weight

    def level_weight(self, comparison: int, level: int, shares_home: bool, a: MatchFeatures | None = None) -> float:
        """The evidence in bits of one comparison level (term frequency applied when ``a`` is given)."""
        if level == NULL:
            return 0.0
        if not shares_home and comparison == self._tf_index and level == self._tf_level and a is not None:
            return self._tf_weight(a.name)
        table = self._shared if shares_home else self._apart
        return table[comparison][level]

    def pair_weight(self, a: MatchFeatures, b: MatchFeatures) -> tuple[float, tuple[int, ...]]:
        """The match weight (prior included) and comparison vector of a pair: the fast path."""
        vector = self.comparisons.vector(a, b)
        shares = vector[self.comparisons.context_index] in self.comparisons.shared_levels
        table = self._shared if shares else self._apart
        weight = self.prior_weight
        for index, level in enumerate(vector):
            if level != NULL:
                weight += table[index][level]
        if not shares and self._tf_index >= 0 and vector[self._tf_index] == self._tf_level:
            weight += self._tf_weight(a.name) - table[self._tf_index][self._tf_level]
        return weight, vector

    def cap_reason(self, vector: tuple[int, ...]) -> str | None:
        """Why a pair may be reviewed but never linked unseen (a hard-negative rule), or ``None``."""
        return self.caps.reason(vector)

    def score(self, a: ResidentRecord | MatchFeatures, b: ResidentRecord | MatchFeatures) -> Score:
        """The score of a pair with each field's evidence (values masked)."""
        fa, fb = match_features(a), match_features(b)
        weight, vector = self.pair_weight(fa, fb)
        return self.explain(fa, fb, weight, vector)

    def explain(
        self,
        a: MatchFeatures,
        b: MatchFeatures | Sequence[MatchFeatures],
        weight: float,
        vector: tuple[int, ...],
        sources: tuple[int, ...] | None = None,
    ) -> Score:
        """The evidence behind a weight: each field's level, masked values and bits.

        ``b`` is one record, or a profile's records with ``sources`` naming, per comparison,
        the record whose level was taken (see :meth:`profile_weight`).
        """
        others = [b] if isinstance(b, MatchFeatures) else list(b)
        shares = self.comparisons.shares_home(vector)
        context = self.comparisons.context_index
        evidence = []
        for index, (comparison, level) in enumerate(zip(self.comparisons.comparisons, vector, strict=True)):
            field_weight = self.level_weight(index, level, shares, a)
            source = sources[index] if sources is not None else 0
            if 0 <= source < len(others):
                right = others[source].display(comparison.name)
            else:
                shown = dict.fromkeys(v for o in others if (v := o.display(comparison.name)) is not None)
                right = "; ".join(shown) or None
            evidence.append(
                FieldEvidence(
                    field=comparison.name,
                    level=comparison.level_label(level),
                    left=a.display(comparison.name),
                    right=right,
                    weight=round(field_weight, 4),
                    bayes_factor=math.exp2(field_weight),
                    baseline="household_member" if shares and index != context and level != NULL else "any_resident",
                )
            )
        return Score(
            weight=weight,
            probability=probability_of(weight),
            prior_weight=self.prior_weight,
            shares_home=shares,
            evidence=tuple(evidence),
        )

    # Profile scores ---------------------------------------------------------------------------

    @staticmethod
    def pool_residence(records: Sequence[MatchFeatures]) -> MatchFeatures:
        """One record's features with the households, addresses and phones of all ``records``."""
        first = records[0]
        if len(records) == 1:
            return first
        return replace(
            first,
            households=frozenset().union(*(r.households for r in records)),
            dwellings=frozenset().union(*(r.dwellings for r in records)),
            flats=frozenset().union(*(r.flats for r in records)),
            number_flats=frozenset().union(*(r.number_flats for r in records)),
            places=frozenset().union(*(r.places for r in records)),
            phones=frozenset().union(*(r.phones for r in records)),
        )

    def profile_weight(
        self, a: MatchFeatures, records: Sequence[MatchFeatures]
    ) -> tuple[float, tuple[int, ...], tuple[int, ...]]:
        """The match weight of a record against a profile's records, pooled field by field.

        The residence comparison sees the profile's households, addresses and phones pooled
        (a phone from one department, the flat from another); every other comparison takes its
        best level over the profile's records (a typo in one record does not hide the clean
        spelling in another). Returns the weight, the pooled comparison vector and, per
        comparison, the index of the record its level came from (-1 for pooled or null).
        With a single record this is exactly :meth:`pair_weight`.
        """
        comparisons = self.comparisons
        context = comparisons.context_index
        context_level = comparisons.comparisons[context].compare(a, self.pool_residence(records))
        shares = context_level in comparisons.shared_levels
        weight = self.prior_weight + self.level_weight(context, context_level, shares)
        vector = [NULL] * len(comparisons.comparisons)
        sources = [-1] * len(vector)
        vector[context] = context_level
        for index, comparison in enumerate(comparisons.comparisons):
            if index == context:
                continue
            best: float | None = None
            for position, other in enumerate(records):
                level = comparison.compare(a, other)
                if level == NULL:
                    continue
                w = self.level_weight(index, level, shares, a)
                if best is None or w > best:
                    best, vector[index], sources[index] = w, level, position
            if best is not None:
                weight += best
        return weight, tuple(vector), tuple(sources)

    def blocking_keys(self, record: ResidentRecord | MatchFeatures) -> frozenset[str]:
        return self.blocker.keys(record)


@cache
def default_matcher() -> Matcher:
    """A matcher with the default settings and their untrained starting parameters."""
    return Matcher()


def score(
    a: ResidentRecord | MatchFeatures, b: ResidentRecord | MatchFeatures, *, matcher: Matcher | None = None
) -> Score:
    """The score of a record pair (see :meth:`Matcher.score`)."""
    return (matcher or default_matcher()).score(a, b)


def level_table(matcher: Matcher) -> Mapping[str, Mapping[str, float]]:
    """Each level's weight in bits against any resident: a steward's summary of a parameter set."""
    out: dict[str, dict[str, float]] = {}
    for index, comparison in enumerate(matcher.comparisons.comparisons):
        out[comparison.name] = {label: round(matcher.level_weight(index, level, False), 2)
                                for level, label in enumerate(comparison.labels)}  # fmt: skip
    return out
