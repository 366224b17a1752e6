"""the mass-change guard: held ends awaiting a steward, and the held count of a connector run

Revision ID: b8d4e2f1a6c3
Revises: f1c2d3e4a5b6
Create Date: 2026-12-07 01:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'b8d4e2f1a6c3'
down_revision = 'f1c2d3e4a5b6'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'pull_holds',
        sa.Column('hold_id', sa.String(length=32), nullable=False),
        sa.Column('source', sa.String(length=64), nullable=False),
        sa.Column('run_id', sa.String(length=64), nullable=False),
        sa.Column('held_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('reasons', sa.JSON(), nullable=False),
        sa.Column('live', sa.Integer(), nullable=False),
        sa.Column('to_end', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('decided_by', sa.String(length=100), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('ended', sa.Integer(), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('hold_id'),
    )
    op.create_index('ix_pull_holds_source_status', 'pull_holds', ['source', 'status'], unique=False)
    op.create_table(
        'pull_held_records',
        sa.Column('hold_id', sa.String(length=32), nullable=False),
        sa.Column('record_id', sa.String(length=200), nullable=False),
        sa.Column('scope', sa.String(length=300), nullable=False),
        sa.Column('last_seen_run', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('hold_id', 'record_id'),
    )
    op.create_index('ix_pull_held_records_record', 'pull_held_records', ['record_id'], unique=False)
    with op.batch_alter_table('connector_runs') as batch:
        batch.add_column(sa.Column('held', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('connector_runs') as batch:
        batch.drop_column('held')
    op.drop_index('ix_pull_held_records_record', table_name='pull_held_records')
    op.drop_table('pull_held_records')
    op.drop_index('ix_pull_holds_source_status', table_name='pull_holds')
    op.drop_table('pull_holds')
