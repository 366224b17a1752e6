"""What the flows remember in the store: each checked batch (passed, quarantined, published),
and which profile versions were published. Tables live beside the store's own (same MetaData)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Engine, Integer, String, Table, Text, func, select, update

from store.tables import metadata
from store.upsert import upsert

# One row per batch a validation looked at: a source's ledger rows in (first_id, last_id].
flow_batches = Table(
    "flow_batches",
    metadata,
    Column("batch_id", String(200), primary_key=True),
    Column("source", String(64), nullable=False),
    Column("first_ledger_id", Integer, nullable=False),  # exclusive: the published watermark then
    Column("last_ledger_id", Integer, nullable=False),
    Column("records", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # passed | quarantined | published
    Column("checked_at", DateTime(timezone=True), nullable=False),
    Column("report", Text, nullable=False, default=""),  # the steward's report (markdown file)
    Column("data_docs", Text, nullable=False, default=""),
)

# The profile version last written to the published topic, so a publish sends only what changed.
published_profiles = Table(
    "published_profiles",
    metadata,
    Column("profile_id", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
)

PASSED, QUARANTINED, PUBLISHED, SUPERSEDED = "passed", "quarantined", "published", "superseded"


def create_tables(engine: Engine) -> None:
    metadata.create_all(engine, tables=[flow_batches, published_profiles])


def published_watermark(engine: Engine, source: str) -> int:
    """The last ledger row of ``source`` that went out in a publish (0: nothing yet)."""
    stmt = select(func.max(flow_batches.c.last_ledger_id)).where(
        flow_batches.c.source == source, flow_batches.c.status == PUBLISHED)
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one_or_none() or 0)


def record_batch(engine: Engine, *, batch_id: str, source: str, first_id: int, last_id: int, records: int,
                 status: str, report: str = "", data_docs: str = "") -> None:
    with engine.begin() as conn:
        upsert(conn, flow_batches, [{
            "batch_id": batch_id, "source": source, "first_ledger_id": first_id, "last_ledger_id": last_id,
            "records": records, "status": status, "checked_at": datetime.now(UTC), "report": report,
            "data_docs": data_docs,
        }], keys=("batch_id",), update=("records", "status", "checked_at", "report", "data_docs"))


def mark_published(engine: Engine, batch_ids: list[str]) -> None:
    """The batches went out; a quarantined batch they cover (its rows re-validated in them) is superseded."""
    with engine.begin() as conn:
        conn.execute(update(flow_batches).where(flow_batches.c.batch_id.in_(batch_ids)).values(status=PUBLISHED))
        for row in conn.execute(select(flow_batches).where(flow_batches.c.batch_id.in_(batch_ids))).all():
            conn.execute(update(flow_batches).where(
                flow_batches.c.source == row.source, flow_batches.c.status == QUARANTINED,
                flow_batches.c.first_ledger_id >= row.first_ledger_id,
                flow_batches.c.last_ledger_id <= row.last_ledger_id).values(status=SUPERSEDED))


def batches(engine: Engine, status: str | None = None) -> list[dict[str, object]]:
    stmt = select(flow_batches).order_by(flow_batches.c.checked_at)
    if status is not None:
        stmt = stmt.where(flow_batches.c.status == status)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(stmt)]


def published_versions(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {r.profile_id: r.version for r in conn.execute(select(published_profiles))}


def save_published(engine: Engine, versions: dict[str, int]) -> None:
    if not versions:
        return
    with engine.begin() as conn:
        upsert(conn, published_profiles, [{"profile_id": p, "version": v} for p, v in versions.items()],
               keys=("profile_id",), update=("version",))
