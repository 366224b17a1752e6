"""Table definitions (SQLAlchemy Core). One MetaData for the whole store."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

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

# What each connector has already sent: one row per source record, its last content hash and
# whether it ended. Re-reading an unchanged row finds its hash here and sends nothing (collected once).
connector_records = Table(
    "connector_records",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("record_id", String(200), primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("ended", Boolean, nullable=False, default=False),
    Column("scope", String(300), nullable=False, default=""),  # e.g. the file a row came from
    Column("last_seen_run", String(64), nullable=False, default=""),
)
Index("ix_connector_records_scope", connector_records.c.source, connector_records.c.scope)

# Typed cursors saved between runs: watermarks, file fingerprints, offsets in the raw topic.
connector_checkpoints = Table(
    "connector_checkpoints",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("value", JSON, nullable=False),
)

# One row per connector run, with counts that add up: read = events + unchanged + dead_letters.
connector_runs = Table(
    "connector_runs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("source", String(64), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("status", String(16), nullable=False),
    Column("read", Integer, nullable=False, default=0),
    Column("events", Integer, nullable=False, default=0),
    Column("ended", Integer, nullable=False, default=0),
    Column("unchanged", Integer, nullable=False, default=0),
    Column("dead_letters", Integer, nullable=False, default=0),
    Column("note", Text, nullable=False, default=""),
    # ends the mass-change guard held for a steward (store.pull_holds); like ``ended``, not rows read
    Column("held", Integer, nullable=False, default=0, server_default="0"),
)
