"""Hard rules around the probabilistic score.

* **Same valid ID number → link.** A valid citizen ID number (公民身份号码) is identity: its
  check digit catches every single typo, so two records carrying the same valid number are one
  resident whatever else they say.
* **Two different valid ID numbers → never link**, whatever the fuzzy evidence. Twins share a
  surname, a birth date, an address and a phone; only their ID numbers tell them apart.
* **At most review** (``rules.at_most_review`` in the settings): a pair whose names disagree
  (only the surname, or nothing, in common) is never linked unseen however high its score; a
  steward may still confirm it. This is what keeps twins, spouses and other relatives sharing
  a home apart when neither record carries a valid ID number. A rule's ``when`` narrows it (to
  pairs sharing a home: elsewhere a disagreeing name is weighed like any other evidence) and
  its ``unless`` lifts it (the same identity document, or one a keystroke away).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from core.matching.comparisons import CompiledComparisons
from core.matching.features import MatchFeatures
from core.matching.settings import MatchSettings

__all__ = ["CapRules", "IdRelation", "id_conflict", "id_relation"]

IdRelation = Literal["same", "different"]


def id_relation(a: MatchFeatures, b: MatchFeatures) -> IdRelation | None:
    """``"same"`` or ``"different"`` when both records carry a valid ID number, else ``None``."""
    if a.valid_id is None or b.valid_id is None:
        return None
    return "same" if a.valid_id == b.valid_id else "different"


def id_conflict(left: Iterable[MatchFeatures], right: Iterable[MatchFeatures]) -> bool:
    """Whether two groups of records carry two different valid ID numbers between them."""
    left_ids = {f.valid_id for f in left if f.valid_id is not None}
    right_ids = {f.valid_id for f in right if f.valid_id is not None}
    return bool(left_ids and right_ids and len(left_ids | right_ids) > 1)


class CapRules:
    """The ``at_most_review`` rules compiled against comparison level indexes."""

    def __init__(self, settings: MatchSettings, comparisons: CompiledComparisons) -> None:
        def levels_of(name: str, labels: tuple[str, ...]) -> tuple[int, frozenset[int]]:
            index = comparisons.index(name)
            return index, frozenset(comparisons.comparisons[index].labels.index(label) for label in labels)

        rules = []
        for cap in settings.rules.at_most_review:
            comparison, levels = levels_of(cap.comparison, cap.levels)
            when = tuple(levels_of(w.comparison, w.levels) for w in cap.when)
            unless = tuple(levels_of(u.comparison, u.levels) for u in cap.unless)
            rules.append((comparison, levels, when, unless, cap.reason))
        self._rules = tuple(rules)

    def reason(self, vector: tuple[int, ...]) -> str | None:
        for comparison, levels, when, unless, reason in self._rules:
            if (vector[comparison] in levels and all(vector[c] in lv for c, lv in when)
                    and not any(vector[c] in lv for c, lv in unless)):
                return reason
        return None
