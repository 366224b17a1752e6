"""Deciding where a new record belongs: link, review, new profile, or merge.

:func:`decide` compares a record with the records of each candidate profile (the resolver
finds candidates through :mod:`core.matching.blocking`):

1. **Same valid ID number** with any record of a profile → that profile is linked, by rule.
2. **A different valid ID number** on any record of a profile → that profile is out, by rule,
   whatever the fuzzy evidence says.
3. Otherwise the record is scored against the profile as a whole
   (:meth:`~core.matching.model.Matcher.profile_weight`): the profile's phones, flats and
   household numbers pooled, and each other field at its best record. The profile is
   *linked* when that score reaches the link threshold and no ``at_most_review`` rule holds
   it back (names that disagree), a *review* candidate when it reaches the review threshold.
4. One linked profile → ``link``. Several linked profiles that can be one resident → ``merge``:
   the record is late evidence bridging them. So is a candidate that reaches the link
   threshold against the linked profile *once the record has joined it* (the record carried
   the missing phone or birth date). Profiles can be one resident when they hold no two
   different valid ID numbers, no record of one is held back by a rule against the other,
   and they do not contradict each other on personal fields by more than
   ``ambiguity_margin_bits`` (a father and son of one name are no bridge). The **oldest**
   profile survives: the smallest ``created_at`` when every merged candidate has one,
   otherwise the one given first (resolvers pass candidates in creation order).
   Linked profiles that cannot be one resident → the best one wins if it leads by
   ``ambiguity_margin_bits`` (or holds the same valid ID number); else a steward reviews.
5. No linked profile → ``review`` (the best review candidate is proposed) or ``new``.

``decide`` is pure and deterministic: the same record and candidates give the same decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from core.matching.features import MatchFeatures, match_features
from core.matching.model import FieldEvidence, Matcher, Score, default_matcher, probability_of
from core.matching.rules import id_conflict, id_relation
from schemas.resident import ResidentRecord

__all__ = ["Candidate", "Decision", "Outcome", "ProfileMatch", "decide"]

Outcome = Literal["link", "review", "new", "merge"]
ProfileStatus = Literal["same_valid_id", "link", "review", "new", "different_valid_ids"]

_RULE_WEIGHT = 1000.0  # the match weight reported for a link by the same-valid-ID rule


@dataclass(frozen=True)
class Candidate:
    """A candidate profile: its id, its records (or their features), and when it was created."""

    profile_id: str
    records: Sequence[ResidentRecord | MatchFeatures]
    created_at: datetime | None = None


class ProfileMatch(BaseModel):
    """How one candidate profile fared: what a steward sees beside a review."""

    model_config = ConfigDict(frozen=True)

    profile_id: str
    status: ProfileStatus
    weight: float | None = None
    probability: float | None = None
    note: str | None = None


class Decision(BaseModel):
    """Where the record goes, and why: the best profile's score with each field's evidence.

    ``candidates`` lists every candidate profile with its status, for the review screen.
    """

    model_config = ConfigDict(frozen=True)

    outcome: Outcome
    profile_id: str | None = None  # linked profile, merge survivor, or the profile proposed for review
    profile_ids_to_merge: tuple[str, ...] = ()  # profiles folded into ``profile_id`` (merge only)
    score: Score | None = None
    evidence: tuple[FieldEvidence, ...] = ()
    reason: str
    candidates: tuple[ProfileMatch, ...] = ()


@dataclass
class _Assessed:
    position: int
    candidate: Candidate
    features: list[MatchFeatures]
    status: ProfileStatus
    weight: float = float("-inf")
    vector: tuple[int, ...] = ()
    sources: tuple[int, ...] = ()
    note: str | None = None
    pair_weight: float = float("-inf")  # the probabilistic weight (``weight`` ranks, rules included)

    @property
    def linked(self) -> bool:
        return self.status in ("same_valid_id", "link")


def _assess(matcher: Matcher, record: MatchFeatures, position: int, candidate: Candidate) -> _Assessed:
    features = [match_features(r) for r in candidate.records]
    if not features:
        return _Assessed(position, candidate, features, "new", note="no records")
    relations = {id_relation(record, f) for f in features}
    if "same" in relations:
        weight, vector, sources = matcher.profile_weight(record, features)
        return _Assessed(position, candidate, features, "same_valid_id", _RULE_WEIGHT, vector, sources,
                         note="the same valid ID number", pair_weight=weight)  # fmt: skip
    if "different" in relations:
        return _Assessed(position, candidate, features, "different_valid_ids", note="a different valid ID number")
    weight, vector, sources = matcher.profile_weight(record, features)
    held_back = matcher.cap_reason(vector)
    if held_back is None and weight >= matcher.threshold_weight("link"):
        status: ProfileStatus = "link"
    elif weight >= matcher.threshold_weight("review"):
        status = "review"
    else:
        status = "new"
    return _Assessed(position, candidate, features, status, weight, vector, sources, held_back, weight)


def _compatible(matcher: Matcher, left: _Assessed, right: _Assessed) -> bool:
    """Whether two profiles can be one resident.

    No two different valid ID numbers; no record held back by a rule against the other
    profile; and no contradiction: some record of each profile must not disagree with the
    other profile by more than ``ambiguity_margin_bits`` on personal fields (a father and son
    of one name, born decades apart, are no bridge). Living elsewhere is no contradiction.
    """
    if id_conflict(left.features, right.features):
        return False
    margin = matcher.settings.thresholds.ambiguity_margin_bits
    for one, other in ((left.features, right.features), (right.features, left.features)):
        least = float("-inf")
        for record in one:
            _, vector, _ = matcher.profile_weight(record, other)
            if matcher.cap_reason(vector) is not None:
                return False
            least = max(least, _contradiction(matcher, record, vector))
        if least < -margin:
            return False
    return True


def _contradiction(matcher: Matcher, record: MatchFeatures, vector: tuple[int, ...]) -> float:
    """The negative evidence (bits, <= 0) of the personal fields of a comparison vector."""
    stratum = matcher.comparisons.stratum(vector)
    context = matcher.comparisons.context_index
    return sum(
        min(0.0, matcher.level_weight(index, level, stratum, record))
        for index, level in enumerate(vector)
        if index != context
    )


def _bridged(
    matcher: Matcher, record: MatchFeatures, group: Sequence[_Assessed], others: Sequence[_Assessed]
) -> list[_Assessed]:
    """Candidates that link to the linked profile once the new record has joined it.

    The record may carry exactly the evidence that was missing between two profiles (the
    phone one lacked, the birth date the other lacked): a candidate whose records reach the
    link threshold against the enlarged profile is merged too.
    """
    enlarged = [record, *(f for member in group for f in member.features)]
    link = matcher.threshold_weight("link")
    # A profile far below the review threshold against the record itself (a stranger who
    # merely shares a birth date) is not worth re-scoring.
    floor = matcher.threshold_weight("review") - matcher.settings.thresholds.ambiguity_margin_bits
    bridged: list[_Assessed] = []
    for other in others:
        if other.status == "different_valid_ids" or not other.features or other.weight < floor:
            continue
        for candidate in other.features:
            weight, vector, _ = matcher.profile_weight(candidate, enlarged)
            if weight >= link and matcher.cap_reason(vector) is None:
                if all(_compatible(matcher, member, other) for member in (*group, *bridged)):
                    bridged.append(other)
                break
    return bridged


def _oldest(group: Sequence[_Assessed]) -> _Assessed:
    if all(a.candidate.created_at is not None for a in group):
        return min(group, key=lambda a: (a.candidate.created_at, a.position))
    return min(group, key=lambda a: a.position)


def _explain(matcher: Matcher, record: MatchFeatures, assessed: _Assessed) -> Score | None:
    if not assessed.vector:
        return None
    return matcher.explain(record, assessed.features, assessed.pair_weight, assessed.vector, assessed.sources)


def _summary(assessed: Sequence[_Assessed]) -> tuple[ProfileMatch, ...]:
    ranked = sorted(assessed, key=lambda a: (-a.weight, a.position))
    out = []
    for a in ranked:
        known = bool(a.vector) and a.status != "same_valid_id"
        weight = round(a.weight, 3) if known else None
        probability = probability_of(a.weight) if known else (1.0 if a.status == "same_valid_id" else None)
        out.append(ProfileMatch(profile_id=a.candidate.profile_id, status=a.status, weight=weight,
                                probability=probability, note=a.note))  # fmt: skip
    return tuple(out)


def decide(
    record: ResidentRecord | MatchFeatures, candidates: Sequence[Candidate], *, matcher: Matcher | None = None
) -> Decision:
    """Decide whether ``record`` links to, merges, is reviewed against, or stands apart from ``candidates``.

    ``candidates`` are the profiles the blocking keys found, oldest first; each carries its
    records (or their :class:`MatchFeatures`). The module docstring lists the steps.
    """
    matcher = matcher or default_matcher()
    features = match_features(record)
    assessed = [_assess(matcher, features, i, c) for i, c in enumerate(candidates)]
    summary = _summary(assessed)
    linked = sorted((a for a in assessed if a.linked), key=lambda a: (-a.weight, a.position))
    if not linked:
        reviewable = sorted((a for a in assessed if a.status == "review"), key=lambda a: (-a.weight, a.position))
        if not reviewable:
            return Decision(outcome="new", reason="no candidate profile reaches the review threshold", candidates=summary)
        best = reviewable[0]
        score = _explain(matcher, features, best)
        reason = best.note or (f"match probability {score.probability:.4f} is below the link threshold" if score else "")
        return Decision(outcome="review", profile_id=best.candidate.profile_id, score=score,
                        evidence=score.evidence if score else (), reason=reason, candidates=summary)  # fmt: skip

    best = linked[0]
    group = [best]
    rivals: list[_Assessed] = []
    for other in linked[1:]:
        if all(_compatible(matcher, member, other) for member in group):
            group.append(other)
        else:
            rivals.append(other)
    if not rivals:
        group.extend(_bridged(matcher, features, group, [a for a in assessed if not a.linked]))
    score = _explain(matcher, features, best)
    evidence = score.evidence if score else ()
    if rivals:
        margin = best.weight - max(r.weight for r in rivals)
        if best.status != "same_valid_id" and margin < matcher.settings.thresholds.ambiguity_margin_bits:
            return Decision(
                outcome="review", profile_id=best.candidate.profile_id, score=score, evidence=evidence,
                reason=f"links to {len(rivals) + 1} profiles that cannot be one resident (lead {margin:.1f} bits)",
                candidates=summary,
            )  # fmt: skip
    if len(group) == 1:
        reason = "the same valid ID number" if best.status == "same_valid_id" else (
            f"match probability {score.probability:.6f}" if score else "linked"
        )
        return Decision(outcome="link", profile_id=best.candidate.profile_id, score=score, evidence=evidence,
                        reason=reason, candidates=summary)  # fmt: skip
    survivor = _oldest(group)
    absorbed = tuple(a.candidate.profile_id for a in sorted(group, key=lambda a: a.position) if a is not survivor)
    return Decision(
        outcome="merge", profile_id=survivor.candidate.profile_id, profile_ids_to_merge=absorbed, score=score,
        evidence=evidence, reason=f"the record bridges {len(group)} profiles that can be one resident",
        candidates=summary,
    )  # fmt: skip
