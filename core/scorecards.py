"""Source scorecards (数据源质量记分卡), pure: per department and month, what it sent and how well.

Records sent, dead letters by reason, fields kept although unreadable (the standardiser's
warnings), validation batches quarantined, fields where another department's value won
survivorship over its own, objections it received, answered and let go overdue (and how many days
an answer took), and steward reviews its records caused. The adapters gather the facts; this
module only counts them, so every figure is a count of something a steward can open.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from core.objections import Objection
from core.profile.model import Golden, Profile

__all__ = ["SourceMonth", "month_of", "reason_kind", "scorecards"]


@dataclass
class SourceMonth:
    department: str
    month: str  # "2026-11"
    records_sent: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)  # by kind of reason
    unreadable_fields: int = 0
    quarantined_batches: int = 0
    validated_batches: int = 0
    overruled_fields: int = 0  # its value differs from the surviving one of another department
    objections_received: int = 0
    objections_answered: int = 0
    objections_overdue: int = 0
    answer_days: list[float] = field(default_factory=list)
    reviews_caused: int = 0

    @property
    def dead_letter_total(self) -> int:
        return sum(self.dead_letters.values())

    @property
    def median_answer_days(self) -> float | None:
        return round(statistics.median(self.answer_days), 1) if self.answer_days else None

    def as_dict(self) -> dict[str, object]:
        return {"department": self.department, "month": self.month, "records_sent": self.records_sent,
                "dead_letters": self.dead_letter_total, "dead_letters_by_reason": dict(self.dead_letters.most_common()),
                "unreadable_fields": self.unreadable_fields, "validated_batches": self.validated_batches,
                "quarantined_batches": self.quarantined_batches, "overruled_fields": self.overruled_fields,
                "objections_received": self.objections_received, "objections_answered": self.objections_answered,
                "objections_overdue": self.objections_overdue, "median_answer_days": self.median_answer_days,
                "reviews_caused": self.reviews_caused}


def month_of(at: datetime | date) -> str:
    return f"{at.year:04d}-{at.month:02d}"


def reason_kind(reason: str) -> str:
    """A dead letter's reason without its particulars (the column, the value): what to count by."""
    head = reason.split(":", 1)[0].split("(", 1)[0].strip()
    return head[:60] or "unknown"


def scorecards(*, records: Iterable[tuple[str, datetime]], dead_letters: Iterable[tuple[str, str, datetime]],
               profiles: Iterable[Profile], objections: Iterable[Objection],
               batches: Iterable[tuple[str, datetime, bool]], reviews: Iterable[tuple[str, datetime]],
               today: date) -> list[SourceMonth]:
    """Every (department, month) with something to count, newest month first, then by department.

    ``records``: (source, observed at) per record version sent; ``dead_letters``: (source, reason,
    observed at); ``batches``: (source, checked at, quarantined); ``reviews``: (source of the
    reviewed record, requested at)."""
    cards: dict[tuple[str, str], SourceMonth] = {}

    def card(department: str, at: datetime | date) -> SourceMonth:
        key = (department, month_of(at))
        if key not in cards:
            cards[key] = SourceMonth(department, key[1])
        return cards[key]

    for source, at in records:
        card(source, at).records_sent += 1
    for source, reason, at in dead_letters:
        card(source, at).dead_letters[reason_kind(reason)] += 1
    for source, at, quarantined in batches:
        month = card(source, at)
        month.validated_batches += 1
        month.quarantined_batches += quarantined
    for source, at in reviews:
        card(source, at).reviews_caused += 1
    for profile in profiles:
        if not profile.is_active:
            continue
        for linked in profile.live_records.values():
            if linked.record.warnings:
                card(linked.record.source, linked.record.observed_at).unreadable_fields += len(linked.record.warnings)
        for golden in _goldens(profile):
            for other in golden.conflicts:
                if other.provenance.source != golden.provenance.source:
                    card(other.provenance.source, other.provenance.observed_at).overruled_fields += 1
    for objection in objections:
        for step in objection.history:
            if step.kind == "routed" and step.department:
                card(step.department, step.at).objections_received += 1
            if step.kind == "answered" and step.department:
                month = card(step.department, step.at)
                month.objections_answered += 1
                routed_at = _last_routing(objection, step.seq, step.department)
                if routed_at is not None:
                    month.answer_days.append((step.at - routed_at).total_seconds() / 86400)
        if objection.overdue(today) and objection.department:
            card(objection.department, objection.due_on or today).objections_overdue += 1
    return sorted(cards.values(), key=lambda c: (_desc(c.month), c.department))


def _goldens(profile: Profile) -> list[Golden[Any]]:
    golden = profile.golden
    found = [getattr(golden, name) for name in type(golden).model_fields if name != "attributes"]
    return [g for g in (*found, *golden.attributes.values()) if g is not None]


def _last_routing(objection: Objection, before_seq: int, department: str) -> datetime | None:
    routed = [s.at for s in objection.history if s.kind == "routed" and s.seq < before_seq and s.department == department]
    return routed[-1] if routed else None


def _desc(month: str) -> tuple[int, int]:
    year, number = month.split("-")
    return -int(year), -int(number)
