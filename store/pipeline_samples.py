"""Pipeline health over time (运行状况历史): one sample of the pipeline every few seconds, kept a week.

A sample is what the steward's health view showed at time ``t`` — per consumer and topic the applied
offset and lag, records per second since the previous sample, dead letters per source, profile
counts, the latest validation pass rate — stored as one JSON document, so that adding a figure is
not a schema change. The table is bounded: samples older than the retention are deleted whenever a
new one is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Engine, Index, Integer, Table, delete, select

from store.tables import metadata

pipeline_samples = Table(
    "pipeline_samples",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("taken_at", DateTime(timezone=True), nullable=False),
    Column("sample", JSON, nullable=False),
)
Index("ix_pipeline_samples_taken_at", pipeline_samples.c.taken_at)


@dataclass(frozen=True)
class Sample:
    taken_at: datetime
    sample: dict[str, Any]


class PipelineSamples:
    def __init__(self, engine: Engine, *, retention: timedelta = timedelta(days=7)) -> None:
        self.engine = engine
        self.retention = retention

    def add(self, sample: dict[str, Any], taken_at: datetime | None = None) -> Sample:
        """Store one sample and forget the ones older than the retention."""
        at = taken_at or datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(pipeline_samples.insert().values(taken_at=at, sample=sample))
            conn.execute(delete(pipeline_samples).where(pipeline_samples.c.taken_at < at - self.retention))
        return Sample(at, sample)

    def latest(self) -> Sample | None:
        stmt = select(pipeline_samples).order_by(pipeline_samples.c.taken_at.desc(),
                                                 pipeline_samples.c.id.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
        return Sample(_utc(row.taken_at), row.sample) if row else None

    def since(self, since: datetime, *, limit: int = 20_000) -> list[Sample]:
        """Samples taken at or after ``since``, oldest first (at most ``limit``, the newest ones)."""
        stmt = (select(pipeline_samples).where(pipeline_samples.c.taken_at >= since)
                .order_by(pipeline_samples.c.taken_at.desc(), pipeline_samples.c.id.desc()).limit(limit))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [Sample(_utc(r.taken_at), r.sample) for r in reversed(rows)]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return len(conn.execute(select(pipeline_samples.c.id)).all())


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
