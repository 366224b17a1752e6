"""Probabilistic record matching (记录匹配): which resident records describe one resident.

A Fellegi–Sunter model described declaratively (``matching.yaml``: comparisons, blocking
rules, hard rules, thresholds), estimated from the district's own records
(:func:`estimate_parameters`), and wrapped in hard rules (same valid ID number links, two
different valid ID numbers never do, disagreeing names are never linked unseen).

Pure: the standard library, pydantic, rapidfuzz, pypinyin and numpy only.

Typical use by a resolver::

    matcher = Matcher(parameters, id_hash_key=settings.id_hash_key.get_secret_value())
    keys = matcher.blocking_keys(record)          # look up candidate profiles with these
    decision = decide(record, candidates, matcher=matcher)
"""

from __future__ import annotations

from core.matching.blocking import Blocker, BlockingIndex, blocking_keys
from core.matching.comparisons import NULL, comparison_vector, compile_comparisons
from core.matching.decide import Candidate, Decision, Outcome, ProfileMatch, decide
from core.matching.estimate import estimate_parameters
from core.matching.features import MatchFeatures, match_features
from core.matching.model import (
    FieldEvidence,
    Matcher,
    MatchModelParameters,
    Score,
    TrainingSummary,
    default_matcher,
    default_parameters,
    probability_of,
    score,
)
from core.matching.settings import MatchSettings, default_settings, load_settings

__all__ = [
    "NULL",
    "Blocker",
    "BlockingIndex",
    "Candidate",
    "Decision",
    "FieldEvidence",
    "MatchFeatures",
    "MatchModelParameters",
    "MatchSettings",
    "Matcher",
    "Outcome",
    "ProfileMatch",
    "Score",
    "TrainingSummary",
    "blocking_keys",
    "comparison_vector",
    "compile_comparisons",
    "decide",
    "default_matcher",
    "default_parameters",
    "default_settings",
    "estimate_parameters",
    "load_settings",
    "match_features",
    "probability_of",
    "score",
]
