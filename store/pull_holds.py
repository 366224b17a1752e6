"""Held ends (待确认的批量注销): what the mass-change guard kept a pull from ending, until a steward decides.

One row per hold (a pull that would have ended too much, or met a changed header or encoding),
and one row per record it would have ended, with the run that last saw that record: on accept,
a record seen again since the hold (the table refilled, the file fixed) is not ended.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import JSON, Column, DateTime, Engine, Index, Integer, String, Table, Text, and_, select, update

from store.tables import metadata

HoldStatus = Literal["pending", "accepted", "rejected", "superseded"]
_CHUNK = 500

pull_holds = Table(
    "pull_holds",
    metadata,
    Column("hold_id", String(32), primary_key=True),
    Column("source", String(64), nullable=False),
    Column("run_id", String(64), nullable=False),  # the connector run that was held
    Column("held_at", DateTime(timezone=True), nullable=False),
    Column("reasons", JSON, nullable=False),  # why, in words (no record values)
    Column("live", Integer, nullable=False),  # the source's live records when the pull ran
    Column("to_end", Integer, nullable=False),  # the ends held
    Column("status", String(16), nullable=False),
    Column("decided_by", String(100), nullable=False, default=""),
    Column("decided_at", DateTime(timezone=True)),
    Column("ended", Integer, nullable=False, default=0),  # ends sent on accept
    Column("note", Text, nullable=False, default=""),
)
Index("ix_pull_holds_source_status", pull_holds.c.source, pull_holds.c.status)

pull_held_records = Table(
    "pull_held_records",
    metadata,
    Column("hold_id", String(32), primary_key=True),
    Column("record_id", String(200), primary_key=True),
    Column("scope", String(300), nullable=False, default=""),
    Column("last_seen_run", String(64), nullable=False, default=""),
)
Index("ix_pull_held_records_record", pull_held_records.c.record_id)


@dataclass(frozen=True)
class HeldRecord:
    record_id: str
    scope: str
    last_seen_run: str  # the run that last saw it before the hold


@dataclass(frozen=True)
class PullHold:
    hold_id: str
    source: str
    run_id: str
    held_at: datetime
    reasons: tuple[str, ...]
    live: int
    to_end: int
    status: HoldStatus
    decided_by: str
    decided_at: datetime | None
    ended: int
    note: str

    def as_dict(self) -> dict[str, Any]:
        return {"hold_id": self.hold_id, "source": self.source, "run_id": self.run_id,
                "held_at": self.held_at.isoformat(), "reasons": list(self.reasons), "live": self.live,
                "to_end": self.to_end, "status": self.status, "decided_by": self.decided_by,
                "decided_at": self.decided_at.isoformat() if self.decided_at else None, "ended": self.ended,
                "note": self.note}


class PullHolds:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, source: str, run_id: str, reasons: Sequence[str], live: int,
               records: Sequence[HeldRecord]) -> str:
        """Record a hold; older pending holds of the source whose records this one holds all are
        superseded by it (a scheduled pull of a still-empty table asks once, not every hour)."""
        hold_id = uuid.uuid4().hex
        ids = {r.record_id for r in records}
        with self.engine.begin() as conn:
            conn.execute(pull_holds.insert().values(
                hold_id=hold_id, source=source, run_id=run_id, held_at=datetime.now(UTC), reasons=list(reasons),
                live=live, to_end=len(records), status="pending", decided_by="", ended=0, note=""))
            rows = [{"hold_id": hold_id, "record_id": r.record_id, "scope": r.scope, "last_seen_run": r.last_seen_run}
                    for r in records]
            for i in range(0, len(rows), _CHUNK):
                conn.execute(pull_held_records.insert(), rows[i:i + _CHUNK])
            older = conn.execute(select(pull_holds.c.hold_id).where(and_(
                pull_holds.c.source == source, pull_holds.c.status == "pending",
                pull_holds.c.hold_id != hold_id))).scalars().all()
            for old in older:
                held = conn.execute(select(pull_held_records.c.record_id)
                                    .where(pull_held_records.c.hold_id == old)).scalars().all()
                if set(held) <= ids:
                    conn.execute(update(pull_holds).where(pull_holds.c.hold_id == old).values(
                        status="superseded", decided_at=datetime.now(UTC), note=f"superseded by {hold_id}"))
        return hold_id

    def get(self, hold_id: str) -> PullHold | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(pull_holds).where(pull_holds.c.hold_id == hold_id)).first()
        return None if row is None else _hold(row._mapping)

    def holds(self, *, status: HoldStatus | None = "pending", source: str | None = None,
             limit: int = 100) -> list[PullHold]:
        stmt = select(pull_holds).order_by(pull_holds.c.held_at.desc()).limit(limit)
        if status is not None:
            stmt = stmt.where(pull_holds.c.status == status)
        if source is not None:
            stmt = stmt.where(pull_holds.c.source == source)
        with self.engine.connect() as conn:
            return [_hold(r._mapping) for r in conn.execute(stmt)]

    def records(self, hold_id: str) -> list[HeldRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(pull_held_records).where(pull_held_records.c.hold_id == hold_id)
                                .order_by(pull_held_records.c.record_id))
            return [HeldRecord(r.record_id, r.scope, r.last_seen_run) for r in rows]

    def decide(self, hold_id: str, status: Literal["accepted", "rejected"], *, by: str, ended: int = 0,
               note: str = "") -> bool:
        """Close a pending hold; ``False`` when it was no longer pending (decided meanwhile)."""
        with self.engine.begin() as conn:
            result = conn.execute(update(pull_holds).where(and_(pull_holds.c.hold_id == hold_id,
                                                                pull_holds.c.status == "pending"))
                                  .values(status=status, decided_by=by, decided_at=datetime.now(UTC), ended=ended,
                                          note=note))
            return bool(result.rowcount)

    def reopen(self, hold_id: str) -> None:
        """An accepted hold whose ends the broker did not take: pending again, to retry."""
        with self.engine.begin() as conn:
            conn.execute(update(pull_holds).where(pull_holds.c.hold_id == hold_id).values(
                status="pending", decided_by="", decided_at=None, note=""))

    def record_ended(self, hold_id: str, ended: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(pull_holds).where(pull_holds.c.hold_id == hold_id).values(ended=ended))


def pending_held_ids(source: str) -> Any:
    """A subquery: record ids of ``source`` held by a pending hold (an unchanged file must not
    count them as seen, or accepting the hold later would end nothing)."""
    return (select(pull_held_records.c.record_id)
            .join(pull_holds, pull_holds.c.hold_id == pull_held_records.c.hold_id)
            .where(and_(pull_holds.c.source == source, pull_holds.c.status == "pending")))


def _hold(row: Any) -> PullHold:
    return PullHold(hold_id=row["hold_id"], source=row["source"], run_id=row["run_id"], held_at=_utc(row["held_at"]),
                    reasons=tuple(row["reasons"] or ()), live=int(row["live"]), to_end=int(row["to_end"]),
                    status=row["status"], decided_by=row["decided_by"] or "",
                    decided_at=_utc(row["decided_at"]) if row["decided_at"] else None, ended=int(row["ended"] or 0),
                    note=row["note"] or "")


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
