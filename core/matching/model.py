"""The Fellegi–Sunter model: m and u per level, the prior, and the score of a record pair.

For each comparison level, m = P(level | same resident) and u = P(level | different residents);
the level's evidence is log2(m / u) bits (its Bayes factor in bits), and the match weight of a
pair is the prior's log2 odds plus the evidence of every non-null field. Two refinements:

* **Term frequency.** An exact name is weighed against the name's own frequency in the district
  (u = share of records carrying it), so 张伟 = 张伟 says less than 欧阳修 = 欧阳修.
* **Strata.** Non-matches are not independent across fields: a twin agrees on surname, birth
  date, address and phone together; a namesake born the same day agrees on name and birth
  date together. So u of the personal fields is conditioned on whether the pair shares a
  home or a phone, and (except for the birth date itself) on whether it was born the same
  day (``conditioning`` in ``matching.yaml``; four strata, :data:`STRATA`). A twin's
  agreements are weighed against other household members, a namesake's against other people
  born that day, never as if a stranger had made them. The weights stay additive and each
  field's evidence says which baseline it was weighed against.

Parameters are a versioned, JSON-serialisable :class:`MatchModelParameters`; a
:class:`Matcher` compiles settings and parameters into lookup tables. A worker can build a new
``Matcher`` from a new parameter version and swap it in without a restart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.matching.blocking import DEV_ID_HASH_KEY, Blocker
from core.matching.comparisons import NULL, CompiledComparisons, compile_comparisons
from core.matching.features import MatchFeatures, Residence, match_features
from core.matching.rules import CapRules
from core.matching.settings import STRATA, MatchSettings, Stratum, default_settings
from schemas.resident import ResidentRecord

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
    """m and u of one level; u per stratum (the residence comparison has only ``u``)."""

    model_config = _FROZEN

    label: str
    m: float = Field(gt=0, le=1)
    u: float = Field(gt=0, le=1)  # among any residents
    u_born_same_day: float | None = Field(default=None, gt=0, le=1)
    u_household: float | None = Field(default=None, gt=0, le=1)
    u_household_born_same_day: float | None = Field(default=None, gt=0, le=1)

    def u_in(self, stratum: int) -> float:
        """u in a stratum (index into :data:`STRATA`), falling back to the nearest one given."""
        values = (self.u, self.u_born_same_day, self.u_household, self.u_household_born_same_day)
        for candidate in (stratum, stratum & 2, stratum & 1, 0):
            value = values[candidate]
            if value is not None:
                return value
        return self.u


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
    context = settings.conditioning.household.comparison
    return MatchModelParameters(
        version=f"{settings.version}+defaults",
        settings_version=settings.version,
        prior=settings.prior,
        comparisons=tuple(
            ComparisonParameters(
                name=spec.name,
                levels=tuple(
                    LevelParameters(label=level.label, m=level.m, u=level.u)
                    if spec.name == context
                    else LevelParameters(
                        label=level.label, m=level.m, u=level.u, u_born_same_day=level.u_same_day or level.u,
                        u_household=level.u_shared, u_household_born_same_day=level.u_shared,
                    )
                    for level in spec.levels
                ),
            )
            for spec in settings.comparisons
        ),
    )  # fmt: skip


class FieldEvidence(BaseModel):
    """One field's part in a score: its level, the two (masked) values, and its weight in bits.

    ``baseline`` says whom the agreement was weighed against: any resident of the district,
    people born the same day, or other members of the same household (when the pair shares a
    home or a phone).
    """

    model_config = _FROZEN

    field: str
    level: str
    left: str | None = None
    right: str | None = None
    weight: float
    bayes_factor: float
    baseline: Stratum = "any_resident"


class Score(BaseModel):
    """The match weight (log2 odds, prior included) and probability of one record pair."""

    model_config = _FROZEN

    weight: float
    probability: float
    prior_weight: float
    stratum: Stratum
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

    Build one per parameter version and swap it in; a ``Matcher`` is immutable once built
    (it only memoises name weights).

    >>> matcher = Matcher()  # the shipped settings with their starting parameters
    >>> round(matcher.threshold_weight("link"), 2)  # link at P >= 0.99: log2(0.99 / 0.01) bits
    6.63
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
        context, birth = self.comparisons.context_index, self.comparisons.birth_index

        def conditioned(index: int, stratum: int) -> int:
            # The residence comparison defines the strata and is not conditioned; the birth
            # date defines "born the same day" and is conditioned on the household only.
            return 0 if index == context else (stratum & 2 if index == birth else stratum)

        # weights[stratum][comparison][level]; each row ends with 0.0, so that NULL (-1) reads 0.
        self._tables: tuple[tuple[tuple[float, ...], ...], ...] = tuple(
            tuple(
                (*(_log2(lv.m) - _log2(lv.u_in(conditioned(index, stratum))) for lv in comparison.levels), 0.0)
                for index, comparison in enumerate(self.parameters.comparisons)
            )
            for stratum in range(len(STRATA))
        )
        self._compares = tuple(c.compare for c in self.comparisons.comparisons)
        self._threshold_weights = {which: self._threshold(which) for which in ("link", "review")}
        self._tf_index, self._tf_level, self._tf_m = -1, -1, 1.0
        self._tf_excess = (1.0, 1.0)  # how much likelier an exact name is among people born the same day
        self._tf: TermFrequencies | None = self.parameters.term_frequencies
        if self._tf is not None:
            self._tf_index = self.comparisons.index(self._tf.comparison)
            self._tf_level = self.comparisons.comparisons[self._tf_index].labels.index(self._tf.level)
            level = self.parameters.comparisons[self._tf_index].levels[self._tf_level]
            self._tf_m = level.m
            self._tf_excess = (1.0, max(level.u_in(1) / level.u_in(0), 1.0))
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
        return self._threshold_weights[which]

    def _threshold(self, which: str) -> float:
        t = self.settings.thresholds
        p = t.link_probability if which == "link" else t.review_probability
        return math.log2(p / (1 - p))

    # Pair scores ------------------------------------------------------------------------------

    def comparison_vector(self, a: ResidentRecord | MatchFeatures, b: ResidentRecord | MatchFeatures) -> tuple[int, ...]:
        return self.comparisons.vector(match_features(a), match_features(b))

    def _tf_weight(self, value: str | None, stratum: int) -> float:
        if value is None or self._tf is None:
            return 0.0
        weight = self._tf_weights.get(value)
        if weight is None:
            weight = _log2(self._tf_m) - _log2(self._tf.frequency(value))
            if len(self._tf_weights) < 500_000:
                self._tf_weights[value] = weight
        return weight - math.log2(self._tf_excess[stratum])

    def level_weight(self, comparison: int, level: int, stratum: int, a: MatchFeatures | None = None) -> float:
        """The evidence in bits of one comparison level in a stratum (term frequency applied when ``a`` is given)."""
        if level == NULL:
            return 0.0
        if stratum < 2 and comparison == self._tf_index and level == self._tf_level and a is not None:
            return self._tf_weight(a.name, stratum)
        return self._tables[stratum][comparison][level]

    def pair_weight(self, a: MatchFeatures, b: MatchFeatures) -> tuple[float, tuple[int, ...]]:
        """The match weight (prior included) and comparison vector of a pair: the fast path."""
        comparisons = self.comparisons
        vector = tuple([compare(a, b) for compare in self._compares])
        stratum = 2 * (vector[comparisons.context_index] in comparisons.shared_levels) + (
            vector[comparisons.birth_index] in comparisons.same_birth_levels
        )
        table = self._tables[stratum]
        weight = self.prior_weight + sum(map(tuple.__getitem__, table, vector))
        if stratum < 2 and self._tf_index >= 0 and vector[self._tf_index] == self._tf_level:
            weight += self._tf_weight(a.name, stratum) - table[self._tf_index][self._tf_level]
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
        stratum = self.comparisons.stratum(vector)
        context, birth = self.comparisons.context_index, self.comparisons.birth_index
        evidence = []
        for index, (comparison, level) in enumerate(zip(self.comparisons.comparisons, vector, strict=True)):
            field_weight = self.level_weight(index, level, stratum, a)
            baseline = 0 if index == context or level == NULL else (stratum & 2 if index == birth else stratum)
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
                    weight=field_weight,
                    bayes_factor=math.exp2(field_weight),
                    baseline=STRATA[baseline],
                )
            )
        return Score(
            weight=weight,
            probability=probability_of(weight),
            prior_weight=self.prior_weight,
            stratum=STRATA[stratum],
            evidence=tuple(evidence),
        )

    # Profile scores ---------------------------------------------------------------------------

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
        context, birth = comparisons.context_index, comparisons.birth_index
        if len(records) == 1:
            weight, single = self.pair_weight(a, records[0])
            return weight, single, tuple(-1 if level == NULL else 0 for level in single)
        compares = self._compares
        rows = [[compare(a, other) for compare in compares] for other in records]
        pooled = comparisons.residence(a.residence, Residence.pool([r.residence for r in records]))
        household = 2 if pooled in comparisons.shared_levels else 0
        vector = [NULL] * len(compares)
        sources = [-1] * len(compares)
        vector[context] = pooled
        weight = self.prior_weight + self._tables[0][context][pooled]
        weight += self._best(a, rows, birth, household, vector, sources)
        stratum = household + (vector[birth] in comparisons.same_birth_levels)
        for index in range(len(compares)):
            if index != context and index != birth:
                weight += self._best(a, rows, index, stratum, vector, sources)
        return weight, tuple(vector), tuple(sources)

    def _best(
        self, a: MatchFeatures, rows: list[list[int]], index: int, stratum: int, vector: list[int], sources: list[int]
    ) -> float:
        """The best weight of comparison ``index`` over a profile's records (0 when all null)."""
        best: float | None = None
        for position, row in enumerate(rows):
            level = row[index]
            if level == NULL:
                continue
            w = self.level_weight(index, level, stratum, a)
            if best is None or w > best:
                best, vector[index], sources[index] = w, level, position
        return 0.0 if best is None else best

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
