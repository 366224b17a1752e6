"""The source-record ledger: a projection of the raw topics, applied idempotently."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine, and_, func, select

from core.ports import Delivered, Ledger
from schemas.source_record import SourceRecord
from store import positions
from store.engine import write_transaction
from store.tables import consumer_positions, source_records
from store.upsert import insert_new

__all__ = ["Delivered", "SourceRecordLedger"]  # Delivered lives in core.ports; imported from here too


class SourceRecordLedger(Ledger):
    """:class:`core.ports.Ledger` over the ``source_records`` table, positions in ``consumer_positions``."""

    CONSUMER = "ledger"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def apply(self, batch: Sequence[Delivered]) -> int:
        """Write the batch's new records and the consumed positions in one transaction.

        A redelivered message (offset already applied) or a re-sent record (same event or same
        version) changes nothing, the positions included. Returns how many rows were inserted.
        """
        with write_transaction(self.engine) as conn:
            seen = positions.applied_offsets(conn, self.CONSUMER)
            fresh = [d for d in batch if positions.is_new(seen, d.topic, d.partition, d.offset)]
            rows = [
                {
                    "event_id": d.record.event_id,
                    "source": d.record.source,
                    "record_id": d.record.record_id,
                    "change": d.record.change,
                    "content_hash": d.record.content_hash,
                    "observed_at": d.record.observed_at,
                    "mapping_version": d.record.mapping_version,
                    "location": d.record.location,
                    "payload": d.record.payload,
                }
                for d in fresh
            ]
            inserted = insert_new(conn, source_records, rows)
            # only the fresh: a redelivered older batch must not move a position back
            positions.advance(conn, self.CONSUMER, [(d.topic, d.partition, d.offset) for d in fresh])
        return inserted

    def count(self, source: str | None = None) -> int:
        stmt = select(func.count()).select_from(source_records)
        if source is not None:
            stmt = stmt.where(source_records.c.source == source)
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def versions(self, source: str, record_id: str) -> list[SourceRecord]:
        t = source_records.c
        stmt = (select(t.event_id, t.source, t.record_id, t.change, t.content_hash, t.observed_at, t.mapping_version,
                       t.location, t.payload)
                .where(t.source == source, t.record_id == record_id).order_by(t.id))
        with self.engine.connect() as conn:
            return [SourceRecord(event_id=r.event_id, source=r.source, record_id=r.record_id, change=r.change,
                                 content_hash=r.content_hash, observed_at=_utc(r.observed_at),
                                 mapping_version=r.mapping_version, location=r.location, payload=r.payload)
                    for r in conn.execute(stmt)]

    def position(self, topic: str, partition: int) -> int | None:
        c = consumer_positions.c
        stmt = select(c.offset).where(and_(c.consumer == self.CONSUMER, c.topic == topic, c.partition == partition))
        with self.engine.connect() as conn:
            offset = conn.execute(stmt).scalar_one_or_none()
        return None if offset is None else int(offset)


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
