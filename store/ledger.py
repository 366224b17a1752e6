"""The source-record ledger: a projection of the raw topics, applied idempotently."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from schemas.source_record import SourceRecord
from store import positions
from store.engine import write_transaction
from store.tables import source_records
from store.upsert import insert_new


@dataclass(frozen=True)
class Delivered:
    """A record as Kafka delivered it: where it sat in the log, and what it said."""

    topic: str
    partition: int
    offset: int
    record: SourceRecord


class SourceRecordLedger:
    CONSUMER = "ledger"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def apply(self, batch: Sequence[Delivered]) -> int:
        """Write the batch's new records and the consumed positions in one transaction.

        A redelivered message (offset already applied) or a re-sent record (same event or same
        version) changes nothing. Returns how many rows were inserted.
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
            positions.advance(conn, self.CONSUMER, [(d.topic, d.partition, d.offset) for d in batch])
        return inserted

    def count(self, source: str | None = None) -> int:
        stmt = select(func.count()).select_from(source_records)
        if source is not None:
            stmt = stmt.where(source_records.c.source == source)
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())
