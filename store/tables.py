"""Table definitions (SQLAlchemy Core). One MetaData for the whole store."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, DateTime, Integer, MetaData, String, Table, Text, UniqueConstraint

metadata = MetaData()

# Where each consumer has read up to, written in the same transaction as its effects
# (the Tracking record of an event-sourced process application).
consumer_positions = Table(
    "consumer_positions",
    metadata,
    Column("consumer", String(200), primary_key=True),
    Column("topic", String(200), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("offset", BigInteger, nullable=False),
)

# Every version of every source record that reached Kafka: the ledger of what was collected.
source_records = Table(
    "source_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("source", String(64), nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("change", String(16), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("observed_at", DateTime(timezone=True), nullable=False),
    Column("mapping_version", String(64), nullable=False),
    Column("location", Text, nullable=False, default=""),
    Column("payload", JSON, nullable=False),
    UniqueConstraint("source", "record_id", "content_hash", "change", name="uq_source_record_version"),
)
