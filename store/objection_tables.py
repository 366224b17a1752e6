"""Data objections in the store: a projection of the objections topic (replay rebuilds it).

One row per objection: its folded state as a document, plus the columns the pages filter by
(whose turn, which community, which resident, open or closed, due when)."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Date, DateTime, Index, Integer, String, Table, false

from store.tables import metadata

objections = Table(
    "objections",
    metadata,
    Column("objection_id", String(64), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("profile_id", String(64), nullable=False),
    Column("field", String(100), nullable=False),
    Column("community", String(100)),
    Column("department", String(64)),
    Column("status", String(16), nullable=False),
    Column("answer", String(16)),
    Column("due_on", Date),
    Column("escalated", Boolean, nullable=False, default=False, server_default=false()),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("doc", JSON, nullable=False),
)
Index("ix_objections_profile", objections.c.profile_id)
Index("ix_objections_department_status", objections.c.department, objections.c.status)
Index("ix_objections_community_status", objections.c.community, objections.c.status)
