"""Source scorecards, the use case: gather each department's facts from the store (and the dead
letters from Kafka) and count them with :func:`core.scorecards.scorecards`.

Stewards see every department; a department's own account sees its own. Each read is audited.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from sqlalchemy import Engine, select

from core.access import AccessDenied, Principal
from core.profile import Profile
from core.scorecards import SourceMonth, scorecards
from services.ports import Auditor
from store.objections import ObjectionStore
from store.profile_tables import profile_event_log, profiles
from store.tables import source_records

__all__ = ["ScorecardService", "Scorecards"]


class Scorecards:
    """The cards, and what could not be counted (the dead letters when Kafka is away)."""

    def __init__(self, cards: list[SourceMonth], missing: list[str]) -> None:
        self.cards = cards
        self.missing = missing


class ScorecardService:
    def __init__(self, engine: Engine, objections: ObjectionStore, audit: Auditor,
                 dead_letters: Callable[[], Iterable[tuple[str, str, datetime]]]) -> None:
        self.engine = engine
        self.objections = objections
        self.audit = audit
        self.dead_letters = dead_letters  # (source, reason, observed at) of every dead letter

    def cards(self, principal: Principal, *, department: str | None = None, month: str | None = None) -> Scorecards:
        if principal.role == "department_reader":
            if department not in (None, principal.department):
                raise AccessDenied("a department sees its own scorecard only")
            department = principal.department
        elif principal.role != "steward":
            raise AccessDenied(f"role {principal.role} may not read source scorecards")
        missing: list[str] = []
        try:
            letters = list(self.dead_letters())
        except Exception as exc:  # Kafka away: every other figure still counts
            letters = []
            missing.append(f"dead letters (Kafka not reachable: {type(exc).__name__})")
        from store.flow_batches import flow_batches

        with self.engine.connect() as conn:
            records = [(r.source, r.observed_at) for r in conn.execute(
                select(source_records.c.source, source_records.c.observed_at))]
            batches = [(r.source, r.checked_at, r.status == "quarantined") for r in conn.execute(
                select(flow_batches.c.source, flow_batches.c.checked_at, flow_batches.c.status))]
            docs = [Profile.model_validate(r.doc) for r in conn.execute(
                select(profiles.c.doc).where(profiles.c.status == "active"))]
            reviews = [_reviewed(r.payload, r.occurred_at) for r in conn.execute(
                select(profile_event_log.c.payload, profile_event_log.c.occurred_at)
                .where(profile_event_log.c.type == "ReviewRequested"))]
        found = scorecards(records=records, dead_letters=letters, profiles=docs,
                           objections=self.objections.find(limit=1_000_000),
                           batches=batches, reviews=[r for r in reviews if r is not None],
                           today=datetime.now(UTC).date())
        found = [c for c in found if (department is None or c.department == department)
                 and (month is None or c.month == month)]
        self.audit.append(principal, "read_scorecards", "数据源质量记分卡", [],
                          [f"department={department or '*'}", f"month={month or '*'}"])
        return Scorecards(found, missing)


def _reviewed(payload: str, at: datetime) -> tuple[str, datetime] | None:
    from schemas.codec import decode
    from schemas.profile_events import ReviewRequested

    event = decode(payload)  # recorded once, in the stream of the reviewed record's profile
    return (event.record.source, at) if isinstance(event, ReviewRequested) else None
