"""steward views: pipeline health samples and dead-letter re-processing outcomes

Revision ID: c7e5d1a0b3f2
Revises: a455e46cc102
Create Date: 2026-11-21 20:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = 'c7e5d1a0b3f2'
down_revision = 'a455e46cc102'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pipeline_samples',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sample', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('pipeline_samples', schema=None) as batch_op:
        batch_op.create_index('ix_pipeline_samples_taken_at', ['taken_at'], unique=False)

    op.create_table('dead_letter_outcomes',
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('record_id', sa.String(length=200), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('reprocessed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reprocessed_by', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )


def downgrade() -> None:
    op.drop_table('dead_letter_outcomes')
    with op.batch_alter_table('pipeline_samples', schema=None) as batch_op:
        batch_op.drop_index('ix_pipeline_samples_taken_at')

    op.drop_table('pipeline_samples')
