"""What re-processing did to each dead letter (死信重处理结果).

Dead letters live in the (append-only) dead-letter topic; this table says which of them a steward
re-processed after a mapping fix, and with what outcome: ``resolved`` (the row is now readable and
reached its raw topic, or was already there) or ``unreadable`` (still refused, with the new reason).
A resolved letter is not re-processed again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import Column, DateTime, Engine, Integer, String, Table, Text, select

from store.tables import metadata
from store.upsert import upsert

Outcome = Literal["resolved", "unreadable"]
RESOLVED: Outcome = "resolved"
UNREADABLE: Outcome = "unreadable"

dead_letter_outcomes = Table(
    "dead_letter_outcomes",
    metadata,
    Column("event_id", String(64), primary_key=True),  # the dead letter's event id
    Column("source", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),  # resolved | unreadable
    Column("reason", Text, nullable=False, default=""),  # the new reason when still unreadable (redacted)
    Column("record_id", String(200)),
    Column("attempts", Integer, nullable=False, default=1),
    Column("reprocessed_at", DateTime(timezone=True), nullable=False),
    Column("reprocessed_by", String(100), nullable=False),
)


@dataclass(frozen=True)
class LetterOutcome:
    event_id: str
    source: str
    outcome: Outcome
    reason: str = ""
    record_id: str | None = None
    attempts: int = 1
    reprocessed_at: datetime | None = None
    reprocessed_by: str = ""


class DeadLetterOutcomes:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, outcomes: Iterable[LetterOutcome], *, by: str) -> None:
        rows = list(outcomes)
        if not rows:
            return
        before = self.of([o.event_id for o in rows])
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            upsert(conn, dead_letter_outcomes, [{
                "event_id": o.event_id, "source": o.source, "outcome": o.outcome, "reason": o.reason,
                "record_id": o.record_id, "attempts": (before[o.event_id].attempts + 1) if o.event_id in before else 1,
                "reprocessed_at": now, "reprocessed_by": by} for o in rows],
                keys=("event_id",), update=("outcome", "reason", "record_id", "attempts", "reprocessed_at",
                                            "reprocessed_by"))

    def of(self, event_ids: Sequence[str] | None = None) -> dict[str, LetterOutcome]:
        """Outcomes by dead-letter event id (all of them when ``event_ids`` is None)."""
        stmt = select(dead_letter_outcomes)
        found: dict[str, LetterOutcome] = {}
        ids = list(event_ids) if event_ids is not None else None
        chunks = [ids[i:i + 500] for i in range(0, len(ids), 500)] if ids is not None else [None]
        with self.engine.connect() as conn:
            for chunk in chunks:
                query = stmt if chunk is None else stmt.where(dead_letter_outcomes.c.event_id.in_(chunk))
                for r in conn.execute(query):
                    at = r.reprocessed_at
                    found[r.event_id] = LetterOutcome(
                        r.event_id, r.source, r.outcome, r.reason, r.record_id, r.attempts,
                        at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at,
                        r.reprocessed_by)
        return found
