"""Estimating m, u and the prior from the district's own records.

The estimation follows splink's recipe, adapted to what a residents' hub knows:

* **u from random pairs.** Two records drawn at random are almost never one resident, so the
  level frequencies among random pairs estimate u (pairs with the same valid ID number, the
  only known matches, are left out). Names also get a term-frequency table.
* **m and the prior by EM over blocked candidate pairs.** The candidate pairs are every pair
  sharing a blocking key. Blocking selects pairs by their agreement, so the model is fitted
  as a model of *all* pairs seen through the candidates: u for pairs that share no home stays
  fixed at the random-pair estimate (blocking would bias it), the prior is the expected
  number of matches over the number of *all* pairs, and m is re-estimated from the
  responsibilities. Because every rule's pairs are modelled with the same global u and prior,
  no comparison has to be switched off per blocking rule as splink does per training
  session; the price is that m describes the matches blocking can find — which are the only
  matches the resolver ever scores.
* **u among household members by EM too.** Every pair sharing a home or a phone is a
  candidate (those are blocking keys), so ``u_shared`` — how often a twin, a spouse or a
  parent agrees with a resident — is estimated from those pairs' non-match responsibilities,
  and so is u of the household-context levels themselves.
* **Free labels.** Two records with the same valid ID number are one resident; two with
  different valid ID numbers are two. Such pairs keep their known class throughout EM
  (semi-supervised EM), which anchors the latent classes; m estimated from the labelled
  matches alone is kept in the training summary as a sanity check.

Every count is smoothed towards the starting values in the settings with
``estimation.pseudo_count`` pseudo-pairs. The result is deterministic for a given seed and
record order.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from schemas.resident import ResidentRecord

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
from core.matching.settings import MatchSettings, default_settings

__all__ = ["candidate_pairs", "estimate_parameters"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_FLOOR = 1e-12


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
    """Comparison vectors of a set of pairs, in the arrays EM works on."""

    levels: IntArray  # (pairs, comparisons), NULL = -1
    shared: npt.NDArray[np.bool_]
    label: IntArray  # 1 same valid ID, 0 different valid IDs, -1 unknown
    tf_log_frequency: FloatArray  # log2 of the name's frequency where the exact-name level applies


def _compare(
    features: Sequence[MatchFeatures],
    pairs: IntArray,
    compiled: CompiledComparisons,
    tf: TermFrequencies | None,
    tf_index: int,
    tf_level: int,
) -> _Pairs:
    rows = np.empty((len(pairs), len(compiled.comparisons)), dtype=np.int64)
    label = np.full(len(pairs), -1, dtype=np.int64)
    tf_log = np.zeros(len(pairs), dtype=np.float64)
    compares = [c.compare for c in compiled.comparisons]
    for row, (i, j) in enumerate(pairs.tolist()):
        a, b = features[i], features[j]
        rows[row] = [compare(a, b) for compare in compares]
        if a.valid_id is not None and b.valid_id is not None:
            label[row] = 1 if a.valid_id == b.valid_id else 0
        if tf is not None and a.name is not None:
            tf_log[row] = math.log2(tf.frequency(a.name))
    shared = np.isin(rows[:, compiled.context_index], list(compiled.shared_levels))
    if tf_index < 0:
        tf_log[:] = 0.0
    else:
        tf_log[(rows[:, tf_index] != tf_level) | shared] = 0.0
    return _Pairs(rows, shared, label, tf_log)


def _random_pairs(n: int, count: int, rng: np.random.Generator) -> IntArray:
    i = rng.integers(0, n, size=count, dtype=np.int64)
    j = rng.integers(0, n - 1, size=count, dtype=np.int64)
    j = j + (j >= i)  # uniform over j != i
    return np.stack([np.minimum(i, j), np.maximum(i, j)], axis=1)


def _smoothed(counts: FloatArray, total: float, prior: FloatArray, pseudo: float) -> FloatArray:
    values = (counts + pseudo * prior) / (total + pseudo)
    return np.maximum(values, _FLOOR)


def _level_counts(levels: IntArray, weights: FloatArray, size: int) -> tuple[FloatArray, float]:
    mask = levels != NULL
    counts = np.bincount(levels[mask], weights=weights[mask], minlength=size).astype(np.float64)
    return counts, float(weights[mask].sum())


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
    if n < 3:
        raise ValueError("estimating a matching model needs at least three records")
    rng = np.random.default_rng(seed)
    total_pairs = n * (n - 1) / 2
    context = compiled.context_index
    sizes = [len(c.labels) for c in compiled.comparisons]

    # Term frequencies of the exact name.
    tf: TermFrequencies | None = None
    tf_index = tf_level = -1
    for spec in settings.comparisons:
        if spec.term_frequency_level is not None:
            names = Counter(f.name for f in features if f.name is not None)
            named = sum(names.values())
            if named:
                keep = {name: k for name, k in names.items() if k >= options.term_frequency_min_count}
                tf = TermFrequencies(comparison=spec.name, level=spec.term_frequency_level, total_records=named,
                                     min_count=options.term_frequency_min_count, counts=dict(sorted(keep.items())))  # fmt: skip
                tf_index = compiled.index(spec.name)
                tf_level = spec.labels.index(spec.term_frequency_level)

    # u from random pairs (known matches left out).
    random_count = int(min(options.random_pairs, max(total_pairs * 2, 1000)))
    randoms = _compare(features, _random_pairs(n, random_count, rng), compiled, None, -1, -1)
    keep_random = randoms.label != 1
    apart_random = keep_random & ~randoms.shared
    m0 = [np.array([lv.m for lv in c.levels]) for c in start.comparisons]
    u0 = [np.array([lv.u for lv in c.levels]) for c in start.comparisons]
    u0_shared = [np.array([lv.u_shared or lv.u for lv in c.levels]) for c in start.comparisons]
    pseudo = options.pseudo_count
    u_apart: list[FloatArray] = []
    for c, size in enumerate(sizes):
        counts, total = _level_counts(randoms.levels[apart_random, c], np.ones(int(apart_random.sum())), size)
        u_apart.append(_smoothed(counts, total, u0[c], pseudo))
    # The household-context levels that mean "not sharing a home" are common enough to be
    # read off random pairs; the shared ones are estimated in EM from the candidate pairs.
    context_levels = randoms.levels[keep_random, context]
    context_present = float((context_levels != NULL).mean()) if len(context_levels) else 1.0
    unshared = np.array([lv not in compiled.shared_levels for lv in range(sizes[context])])
    unshared_rows = context_levels[np.isin(context_levels, np.flatnonzero(unshared))]
    counts, total = _level_counts(unshared_rows, np.ones(len(unshared_rows)), sizes[context])
    unshared_prior = np.where(unshared, u0[context], 0.0)
    unshared_share = np.where(unshared, _smoothed(counts, total, unshared_prior / unshared_prior.sum(), pseudo), 0.0)

    # Candidate pairs, sampled down if there are too many.
    blocker = Blocker(settings, DEV_ID_HASH_KEY)
    pairs = candidate_pairs(features, blocker)
    all_candidates = len(pairs)
    if all_candidates > options.max_candidate_pairs:
        chosen = np.sort(rng.choice(all_candidates, size=options.max_candidate_pairs, replace=False))
        pairs = pairs[chosen]
    scale = all_candidates / max(len(pairs), 1)  # each used pair stands for this many candidates
    data = _compare(features, pairs, compiled, tf, tf_index, tf_level)
    labelled = data.label >= 0

    m = [x.copy() for x in m0]
    u_shared = [x.copy() for x in u0_shared]
    u_context = u_apart[context].copy()
    prior = start.prior
    iterations, converged = 0, False
    r = np.zeros(len(pairs))
    for iterations in range(1, options.max_iterations + 1):  # noqa: B007 - kept for the summary
        # E-step: the match probability of every candidate pair.
        log_odds = np.full(len(pairs), np.log2(prior) - np.log2(1 - prior))
        for c in range(len(sizes)):
            levels = data.levels[:, c]
            present = levels != NULL
            safe = np.where(present, levels, 0)
            if c == context:
                w = np.log2(m[c]) - np.log2(u_context)
                log_odds += np.where(present, w[safe], 0.0)
                continue
            w_apart = np.log2(m[c]) - np.log2(u_apart[c])
            w_shared = np.log2(m[c]) - np.log2(u_shared[c])
            log_odds += np.where(present, np.where(data.shared, w_shared[safe], w_apart[safe]), 0.0)
        if tf is not None:
            tf_rows = data.tf_log_frequency != 0
            exact_w = np.log2(m[tf_index][tf_level]) - np.log2(u_apart[tf_index][tf_level])
            log_odds[tf_rows] += np.log2(m[tf_index][tf_level]) - data.tf_log_frequency[tf_rows] - exact_w
        r = 1.0 / (1.0 + np.exp2(-np.clip(log_odds, -200, 200)))
        r[labelled] = data.label[labelled]
        non = 1.0 - r

        # M-step.
        new_m = []
        for c, size in enumerate(sizes):
            counts, total = _level_counts(data.levels[:, c], r, size)
            new_m.append(_smoothed(counts, total, m0[c], pseudo))
        new_u_shared = []
        for c, size in enumerate(sizes):
            if c == context:
                new_u_shared.append(u_shared[c])
                continue
            counts, total = _level_counts(data.levels[data.shared, c], non[data.shared], size)
            new_u_shared.append(_smoothed(counts, total, u0_shared[c], pseudo))
        expected_matches = float(r.sum()) * scale
        context_pairs = data.levels[:, context] != NULL
        non_match_context_pairs = max(context_present * total_pairs - float(r[context_pairs].sum()) * scale, 1.0)
        shared_counts, _ = _level_counts(data.levels[data.shared, context], non[data.shared], sizes[context])
        shared_u = shared_counts * scale / non_match_context_pairs
        shared_u = np.where(unshared, 0.0, np.maximum(shared_u, u0[context] * 1e-3))
        new_u_context = np.maximum(shared_u + (1.0 - shared_u.sum()) * unshared_share, _FLOOR)
        new_prior = float(np.clip(expected_matches / total_pairs, 1e-12, 0.5))

        change = max(
            max(float(np.abs(a - b).max()) for a, b in zip(new_m, m, strict=True)),
            max(float(np.abs(a - b).max()) for a, b in zip(new_u_shared, u_shared, strict=True)),
            abs(np.log(new_prior) - np.log(prior)),
        )
        m, u_shared, u_context, prior = new_m, new_u_shared, new_u_context, new_prior
        if change < options.tolerance:
            converged = True
            break

    u_final = [u_context if c == context else u_apart[c] for c in range(len(sizes))]
    label_matches = data.label == 1
    m_from_labels: dict[str, dict[str, float]] = {}
    if label_matches.any():
        for c, comparison in enumerate(compiled.comparisons):
            counts, total = _level_counts(data.levels[label_matches, c], np.ones(int(label_matches.sum())), sizes[c])
            if total > 0:
                m_from_labels[comparison.name] = {
                    label: round(float(x / total), 6) for label, x in zip(comparison.labels, counts, strict=True)
                }
    comparisons = tuple(
        ComparisonParameters(
            name=comparison.name,
            levels=tuple(
                LevelParameters(
                    label=label,
                    m=float(m[c][lv]),
                    u=float(u_final[c][lv]),
                    u_shared=None if c == context else float(u_shared[c][lv]),
                )
                for lv, label in enumerate(comparison.labels)
            ),
        )
        for c, comparison in enumerate(compiled.comparisons)
    )
    summary = TrainingSummary(
        seed=seed,
        records=n,
        record_pairs=int(total_pairs),
        candidate_pairs=all_candidates,
        candidate_pairs_used=len(pairs),
        labelled_matches=int((data.label == 1).sum()),
        labelled_non_matches=int((data.label == 0).sum()),
        random_pairs=int(keep_random.sum()),
        iterations=iterations,
        converged=converged,
        expected_matches=round(float(r.sum()) * scale, 3),
        m_from_labels=m_from_labels,
    )
    return MatchModelParameters(
        version=version,
        settings_version=settings.version,
        trained_at=trained_at,
        prior=prior,
        comparisons=comparisons,
        term_frequencies=tf,
        training=summary,
    )
