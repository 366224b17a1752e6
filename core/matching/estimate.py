"""Estimating m, u and the prior from the district's own records.

The estimation follows splink's recipe, adapted to what a residents' hub knows:

* **u from random pairs.** Two records drawn at random are rarely one resident, so the level
  frequencies among random pairs estimate u among strangers (pairs with the same valid ID
  number, the only known matches, are left out). Rarely is not never: where each resident has two
  or three records, one random pair in a few thousand is one resident met twice, as many as
  the strangers agreeing on a rare level (a similar address, a name typo). So each EM iteration
  counts a random pair as strangers by its non-match probability under the current model (the
  E-step run on the random pairs too). Names also get a term-frequency table.
* **m and the prior by EM over blocked candidate pairs.** The candidate pairs are every pair
  sharing a blocking key. Blocking selects pairs by their agreement, so the model is fitted
  as a model of *all* pairs seen through the candidates: u among strangers comes from the
  random pairs (blocking would bias it), the prior is the expected number of matches
  over the number of *all* pairs, and m is re-estimated from the responsibilities. Since
  being a candidate is (nearly) a function of the comparison levels, the match probability
  of a candidate is the same under this global model, and no comparison has to be switched
  off per blocking rule as splink does per training session; the price is that m describes
  the matches blocking can find — the only matches the resolver ever scores.
* **u per stratum by EM too.** Every pair sharing a home or a phone, and every pair born the
  same day, is a candidate (those are blocking keys), so u among household members and among
  people born the same day is estimated from those candidates' non-match responsibilities —
  and so are u of the stratum-defining levels themselves (sharing a home; the same birth
  date), counted exactly instead of sampled.
* **Free labels.** Two records with the same valid ID number are one resident; two with
  different valid ID numbers are two. Such pairs keep their known class throughout EM
  (semi-supervised EM), which anchors the latent classes; m estimated from the labelled
  matches alone is kept in the training summary as a sanity check.

Counts are smoothed towards the starting values in the settings with
``estimation.pseudo_count`` pseudo-pairs, and no probability is set below half a count (a
level never seen among a million random pairs is rare, not impossible). A level that would still
get no probability at all — never seen, and with no mass in what it is pulled towards (a data
set without ID numbers, phones or households, where a whole comparison is never seen on both
sides) — gets add-one (Laplace) smoothing on its level counts, ``(count + 1) / (total +
levels)``; a comparison never seen on both sides of any pair keeps its sampled, smoothed u.
So every m and u is strictly positive, whatever the data. The result is deterministic for a
given seed and record order.

Too little data (fewer than :data:`MIN_RECORDS` records, no two records sharing a blocking key,
or candidate pairs among which EM expects not one match, so that nothing says what a match looks
like) raises :class:`TooLittleData`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from core.matching.blocking import DEV_ID_HASH_KEY, Blocker
from core.matching.comparisons import NULL, CompiledComparisons, compile_comparisons
from core.matching.features import MatchFeatures, match_features
from core.matching.model import (
    ComparisonParameters,
    LevelParameters,
    MatchModelParameters,
    TermFrequencies,
    TrainingSummary,
    default_parameters,
)
from core.matching.settings import STRATA, MatchSettings, default_settings
from schemas.resident import ResidentRecord

__all__ = ["MIN_RECORDS", "TooLittleData", "candidate_pairs", "estimate_parameters"]

MIN_RECORDS = 3


class TooLittleData(ValueError):
    """The records cannot support an estimate (too few, or no candidate pairs at all)."""

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def candidate_pairs(features: Sequence[MatchFeatures], blocker: Blocker) -> IntArray:
    """Every pair (i < j) of records sharing a blocking key under its cap, sorted, as an (n, 2) array."""
    blocks: dict[str, list[int]] = {}
    for index, f in enumerate(features):
        for key in blocker.keys(f):
            blocks.setdefault(key, []).append(index)
    n = len(features)
    codes: set[int] = set()
    for key, members in blocks.items():
        if 2 <= len(members) <= blocker.cap(key):
            for x, i in enumerate(members):
                codes.update(i * n + j for j in members[x + 1 :])
    ordered = np.array(sorted(codes), dtype=np.int64)
    return np.stack([ordered // n, ordered % n], axis=1) if len(ordered) else np.zeros((0, 2), dtype=np.int64)


@dataclass
class _Pairs:
    """Comparison vectors of a set of pairs, as the arrays EM works on."""

    levels: IntArray  # (pairs, comparisons), NULL = -1
    stratum: IntArray  # index into STRATA
    label: IntArray  # 1 same valid ID, 0 different valid IDs, -1 unknown
    tf_log_frequency: FloatArray  # log2 of the exact name's frequency (0 where not applicable)


def _compare(
    features: Sequence[MatchFeatures],
    pairs: IntArray,
    compiled: CompiledComparisons,
    tf: TermFrequencies | None = None,
    tf_index: int = -1,
    tf_level: int = -1,
) -> _Pairs:
    compares = [c.compare for c in compiled.comparisons]
    flat: list[int] = []
    labels: list[int] = []
    tf_log: list[float] = []
    for i, j in pairs.tolist():
        a, b = features[i], features[j]
        row = [compare(a, b) for compare in compares]
        flat.extend(row)
        labels.append(-1 if a.valid_id is None or b.valid_id is None else int(a.valid_id == b.valid_id))
        exact_name = tf is not None and row[tf_index] == tf_level and a.name is not None
        tf_log.append(math.log2(tf.frequency(a.name)) if exact_name and tf is not None and a.name else 0.0)
    levels = np.array(flat, dtype=np.int64).reshape(len(pairs), len(compares))
    shared = np.isin(levels[:, compiled.context_index], sorted(compiled.shared_levels))
    same_birth = np.isin(levels[:, compiled.birth_index], sorted(compiled.same_birth_levels))
    stratum = 2 * shared.astype(np.int64) + same_birth.astype(np.int64)
    tf_array = np.array(tf_log, dtype=np.float64)
    tf_array[stratum >= 2] = 0.0  # household members: no term frequency
    return _Pairs(levels, stratum, np.array(labels, dtype=np.int64), tf_array)


def _random_pairs(n: int, count: int, rng: np.random.Generator) -> IntArray:
    i = rng.integers(0, n, size=count, dtype=np.int64)
    j = rng.integers(0, n - 1, size=count, dtype=np.int64)
    j = j + (j >= i)  # uniform over j != i
    return np.stack([np.minimum(i, j), np.maximum(i, j)], axis=1)


def _smoothed(counts: FloatArray, total: float, prior: FloatArray, pseudo: float, *, floor: bool = True) -> FloatArray:
    """Level probabilities from (soft) counts, pulled towards ``prior``; with ``floor``, never below half a count.

    A level left with no probability (no count and no prior mass) gets add-one smoothing:
    ``(count + 1) / (total + levels)``.
    """
    prior = np.where(np.isfinite(prior) & (prior > 0), prior, 0.0)
    mass = float(prior.sum())
    shape = prior / mass if mass > 0 else np.full(len(prior), 1.0 / len(prior))
    values = (counts + pseudo * shape) / (total + pseudo)
    if floor and total > 0:  # with no count at all the prior stands as it is
        values = np.maximum(values, 0.5 / (total + 1.0))
    values = np.where(values > 0, values, (counts + 1.0) / (total + len(values)))
    result: FloatArray = values / values.sum()
    return result


def _level_counts(levels: IntArray, weights: FloatArray, size: int) -> tuple[FloatArray, float]:
    present = levels != NULL
    counts = np.bincount(levels[present], weights=weights[present], minlength=size).astype(np.float64)
    return counts, float(weights[present].sum())


def _stranger_scope(c: int, stratum: IntArray, context: int, birth: int) -> BoolArray:
    """The pairs whose levels give comparison ``c``'s u among strangers (stratum 0)."""
    if c == context:
        return np.ones(len(stratum), dtype=np.bool_)  # the residence comparison is not conditioned
    scope: BoolArray = stratum < 2 if c == birth else stratum == 0  # birth: conditioned on the household only
    return scope


def _exact_levels(
    fixed: FloatArray,
    counted: FloatArray,
    counted_levels: BoolArray,
    pairs_in_scope: float,
) -> FloatArray:
    """u where some levels are counted over all pairs (from candidates) and the rest sampled.

    ``counted`` holds the expected non-match counts of the ``counted_levels`` among the
    candidates, ``pairs_in_scope`` the number of non-match pairs the levels are a share of,
    and ``fixed`` the sampled distribution of the remaining levels.
    """
    if pairs_in_scope < 1.0:  # the field is on both sides of no pair: nothing to count, keep the sample's
        return fixed
    share = np.where(counted_levels, np.maximum(counted, 0.5) / pairs_in_scope, 0.0)  # never below half a count
    share = np.minimum(share, 0.5)
    if float(share.sum()) > 0.5:  # these levels imply a shared key: together they are never most pairs
        share = share * (0.5 / float(share.sum()))
    rest = np.where(counted_levels, 0.0, fixed)
    if float(rest.sum()) <= 0:
        rest = np.where(counted_levels, 0.0, 1.0)
    rest = rest / float(rest.sum())
    result: FloatArray = share + (1.0 - float(share.sum())) * rest
    return result


def estimate_parameters(
    records: Sequence[ResidentRecord | MatchFeatures],
    *,
    version: str,
    trained_at: datetime | None = None,
    seed: int = 0,
    settings: MatchSettings | None = None,
    start: MatchModelParameters | None = None,
) -> MatchModelParameters:
    """Estimate a parameter set from a sample of resident records (ideally a whole district).

    ``version`` and ``trained_at`` are the caller's (a flow stamps its run); ``start`` is the
    starting point and smoothing prior (default: the m and u written in the settings).
    """
    settings = settings or default_settings()
    start = start or default_parameters(settings)
    options = settings.estimation
    compiled = compile_comparisons(settings)
    features = [match_features(r) for r in records]
    n = len(features)
    if n < MIN_RECORDS:
        raise TooLittleData(f"estimating a matching model needs at least {MIN_RECORDS} records; there are {n}")
    rng = np.random.default_rng(seed)
    total_pairs = n * (n - 1) / 2
    context, birth = compiled.context_index, compiled.birth_index
    sizes = [len(c.labels) for c in compiled.comparisons]
    count = len(sizes)
    pseudo, stratum_pseudo = options.pseudo_count, options.stratum_pseudo_count

    # Term frequencies of the exact name.
    tf: TermFrequencies | None = None
    tf_index = tf_level = -1
    for spec in settings.comparisons:
        if spec.term_frequency_level is not None:
            names = Counter(f.name for f in features if f.name is not None)
            if names:
                keep = {name: k for name, k in names.items() if k >= options.term_frequency_min_count}
                tf = TermFrequencies(comparison=spec.name, level=spec.term_frequency_level,
                                     total_records=sum(names.values()), min_count=options.term_frequency_min_count,
                                     counts=dict(sorted(keep.items())))  # fmt: skip
                tf_index, tf_level = compiled.index(spec.name), spec.labels.index(spec.term_frequency_level)

    # u among strangers, from random pairs (known matches left out); re-weighted in each EM iteration.
    random_count = int(min(options.random_pairs, max(total_pairs, 1000)))
    randoms = _compare(features, _random_pairs(n, random_count, rng), compiled, tf, tf_index, tf_level)
    keep = randoms.label != 1
    m0 = [np.array([lv.m for lv in c.levels]) for c in start.comparisons]
    u0 = [np.array([[lv.u_in(s) for lv in c.levels] for s in range(len(STRATA))]) for c in start.comparisons]
    counted = [np.array([lv.u_from_candidates for lv in spec.levels]) for spec in settings.comparisons]
    sampled: list[FloatArray] = []  # u among strangers, as sampled
    present: list[float] = []  # share of all pairs in a comparison's stranger scope with the field on both sides
    for c, size in enumerate(sizes):
        scope = _stranger_scope(c, randoms.stratum, context, birth) & keep
        rows = randoms.levels[scope, c]
        counts, total = _level_counts(rows, np.ones(len(rows)), size)
        sampled.append(_smoothed(counts, total, u0[c][0], pseudo))
        present.append(float((rows != NULL).sum()) / max(int(keep.sum()), 1))

    # Candidate pairs, sampled down if there are too many.
    pairs = candidate_pairs(features, Blocker(settings, DEV_ID_HASH_KEY))
    all_candidates = len(pairs)
    if all_candidates == 0:
        raise TooLittleData(f"no two of the {n} records share a blocking key (name, birth date, dwelling, phone, "
                            "ID number…): there is nothing to learn what a match looks like from")
    if all_candidates > options.max_candidate_pairs:
        pairs = pairs[np.sort(rng.choice(all_candidates, size=options.max_candidate_pairs, replace=False))]
    scale = all_candidates / max(len(pairs), 1)  # each pair used stands for this many candidates
    data = _compare(features, pairs, compiled, tf, tf_index, tf_level)
    width = max(sizes) + 1  # level + 1, so that NULL (-1) lands in column 0

    # u of a stratum (born the same day, sharing a home) is re-estimated only where that stratum
    # holds a known non-match (two different valid ID numbers). Without one nothing tells EM which
    # of the stratum's pairs are strangers: u and m of every comparison there are free together,
    # and EM can explain a stratum made mostly of duplicates (FEBRL's records born the same day
    # or at the same address) as strangers who agree on everything, so that no agreement counts.
    # Such a stratum keeps its parent's u (strangers', or the settings' for households).
    known_non = data.label == 0
    anchored = np.array([True, *(bool((known_non & (data.stratum == s)).any()) for s in range(1, len(STRATA)))])
    anchored[3] = anchored[3] or anchored[2]  # twins are pulled towards household members, anchored there
    m = [x.copy() for x in m0]
    u = [np.array([sampled[c], *u0[c][1:]]) for c in range(count)]  # (strata, levels) per comparison
    prior = start.prior
    iterations, converged = 0, False
    r = np.zeros(len(pairs))

    def match_probability(pairs_data: _Pairs, weights: FloatArray, prior: float) -> FloatArray:
        """The match probability of each pair under the current model (labelled pairs: their label)."""
        log_odds = np.full(len(pairs_data.label), math.log2(prior) - math.log2(1 - prior))
        for c in range(count):
            log_odds += weights[c, pairs_data.stratum, pairs_data.levels[:, c] + 1]
        if tf is not None:
            tf_rows = pairs_data.tf_log_frequency != 0
            excess = np.array([0.0, max(math.log2(u[tf_index][1][tf_level] / u[tf_index][0][tf_level]), 0.0)])
            s_rows = pairs_data.stratum[tf_rows]
            log_odds[tf_rows] += (
                math.log2(m[tf_index][tf_level]) - pairs_data.tf_log_frequency[tf_rows] - excess[s_rows]
                - weights[tf_index, s_rows, tf_level + 1]
            )  # fmt: skip
        result: FloatArray = 1.0 / (1.0 + np.exp2(-np.clip(log_odds, -200, 200)))
        known = pairs_data.label >= 0
        result[known] = pairs_data.label[known]
        return result

    for iterations in range(1, options.max_iterations + 1):  # noqa: B007 - reported in the summary
        # E-step: the match probability of every candidate pair under the current model.
        weights = np.zeros((count, len(STRATA), width))
        for c in range(count):
            for s in range(len(STRATA)):
                stratum = 0 if c == context else (s & 2 if c == birth else s)
                weights[c, s, 1 : sizes[c] + 1] = np.log2(m[c]) - np.log2(u[c][stratum])
        r = match_probability(data, weights, prior)
        non = 1.0 - r
        # The random pairs too: in a district where every resident has two or three records, one
        # random pair in a few thousand is a resident met twice, as many as the strangers who agree
        # on a rare level (a similar address, a name typo). u among strangers counts each random pair
        # by its probability of being two residents, not as a stranger for certain.
        random_non = 1.0 - match_probability(randoms, weights, prior)
        for c, size in enumerate(sizes):
            scope = _stranger_scope(c, randoms.stratum, context, birth) & keep
            counts, total = _level_counts(randoms.levels[scope, c], random_non[scope], size)
            sampled[c] = _smoothed(counts, total, u0[c][0], pseudo)

        # M-step.
        new_m = [_smoothed(*_level_counts(data.levels[:, c], r, sizes[c]), m0[c], pseudo) for c in range(count)]
        new_u = [x.copy() for x in u]
        for c in range(count):
            new_u[c][0] = sampled[c]
            if c in (context, birth):
                continue
            # Each stratum is pulled towards its parent: born the same day towards any
            # resident, household members towards the settings' u_shared, twins towards
            # household members. A stratum with no known non-match keeps its parent's u.
            for s in (2, 1, 3):
                in_stratum = (data.stratum == s) & anchored[s]
                counts, total = _level_counts(data.levels[in_stratum, c], non[in_stratum], sizes[c])
                parent = new_u[c][2] if s == 3 else u0[c][2] if s == 2 else u[c][0]
                new_u[c][s] = _smoothed(counts, total, parent, stratum_pseudo, floor=False)
        household = (data.stratum >= 2) & anchored[2]
        counts, total = _level_counts(data.levels[household, birth], non[household], sizes[birth])
        new_u[birth][2] = new_u[birth][3] = _smoothed(counts, total, u0[birth][2], stratum_pseudo, floor=False)
        # Levels implying a shared blocking key: counted exactly over the candidates.
        for c in range(count):
            if not counted[c].any():
                continue
            scope = _stranger_scope(c, data.stratum, context, birth)
            rows = data.levels[scope, c]
            counts, _ = _level_counts(rows, non[scope] * scale, sizes[c])
            in_scope = present[c] * total_pairs - float(r[scope & (data.levels[:, c] != NULL)].sum()) * scale
            new_u[c][0] = _exact_levels(sampled[c], counts, counted[c], in_scope)
        new_u[birth][1] = new_u[birth][0]
        new_prior = float(np.clip(float(r.sum()) * scale / total_pairs, 1e-12, 0.5))

        change = max(
            max(float(np.abs(a - b).max()) for a, b in zip(new_m, m, strict=True)),
            max(float(np.abs(np.log(a) - np.log(b)).max()) for a, b in zip(new_u, u, strict=True)) / 100,
            abs(math.log(new_prior) - math.log(prior)),
        )
        m, u, prior = new_m, new_u, new_prior
        if change < options.tolerance:
            converged = True
            break

    expected_matches = float(r.sum()) * scale
    if expected_matches < 1.0:
        raise TooLittleData(f"among {all_candidates:,} candidate pairs of {n:,} records EM found no pair that looks "
                            "like one resident: too few records of the same residents to learn from")

    m_from_labels: dict[str, dict[str, float]] = {}
    known = data.label == 1
    if known.any():
        for c, comparison in enumerate(compiled.comparisons):
            counts, total = _level_counts(data.levels[known, c], np.ones(int(known.sum())), sizes[c])
            if total > 0:
                m_from_labels[comparison.name] = {
                    label: round(float(x / total), 6) for label, x in zip(comparison.labels, counts, strict=True)
                }

    def level_parameters(c: int, lv: int, label: str) -> LevelParameters:
        if c == context:
            return LevelParameters(label=label, m=float(m[c][lv]), u=float(u[c][0][lv]))
        return LevelParameters(
            label=label, m=float(m[c][lv]), u=float(u[c][0][lv]), u_born_same_day=float(u[c][1][lv]),
            u_household=float(u[c][2][lv]), u_household_born_same_day=float(u[c][3][lv]),
        )  # fmt: skip

    return MatchModelParameters(
        version=version,
        settings_version=settings.version,
        trained_at=trained_at,
        prior=prior,
        comparisons=tuple(
            ComparisonParameters(
                name=comparison.name,
                levels=tuple(level_parameters(c, lv, label) for lv, label in enumerate(comparison.labels)),
            )
            for c, comparison in enumerate(compiled.comparisons)
        ),
        term_frequencies=tf,
        training=TrainingSummary(
            seed=seed,
            records=n,
            record_pairs=int(total_pairs),
            candidate_pairs=all_candidates,
            candidate_pairs_used=len(pairs),
            labelled_matches=int((data.label == 1).sum()),
            labelled_non_matches=int((data.label == 0).sum()),
            random_pairs=int(keep.sum()),
            iterations=iterations,
            converged=converged,
            expected_matches=round(expected_matches, 3),
            m_from_labels=m_from_labels,
        ),
    )
