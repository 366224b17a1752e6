"""audit log: a user's entries of one action, newest first, by index

Revision ID: c8e1f5a2d7b4
Revises: b7d2e9a4c1f3
Create Date: 2026-12-07 20:35:00.000000

A worker's home page reads her previous login ("since your last visit") from the audit log. Through
``ix_audit_log_user`` alone that meant reading and sorting every entry of hers, which grows with each
read she makes; ``(user_id, action, seq)`` answers it in one index step. (On SQLite the log lives in
its own file, which ``store.audit.AuditLog`` indexes itself; this is the store's table, where
PostgreSQL keeps the log.)
"""

from __future__ import annotations

from alembic import op

revision = 'c8e1f5a2d7b4'
down_revision = 'b7d2e9a4c1f3'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_user_action', ['user_id', 'action', 'seq'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_user_action')
