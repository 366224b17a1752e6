"""data objections (数据异议): the objections topic's projection

Revision ID: f1c2d3e4a5b6
Revises: e3a9c41f7b20
Create Date: 2026-12-02 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = 'f1c2d3e4a5b6'
down_revision = 'e3a9c41f7b20'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'objections',
        sa.Column('objection_id', sa.String(length=64), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('profile_id', sa.String(length=64), nullable=False),
        sa.Column('field', sa.String(length=100), nullable=False),
        sa.Column('community', sa.String(length=100), nullable=True),
        sa.Column('department', sa.String(length=64), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('answer', sa.String(length=16), nullable=True),
        sa.Column('due_on', sa.Date(), nullable=True),
        sa.Column('escalated', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('doc', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('objection_id'),
    )
    op.create_index('ix_objections_profile', 'objections', ['profile_id'], unique=False)
    op.create_index('ix_objections_department_status', 'objections', ['department', 'status'], unique=False)
    op.create_index('ix_objections_community_status', 'objections', ['community', 'status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_objections_community_status', table_name='objections')
    op.drop_index('ix_objections_department_status', table_name='objections')
    op.drop_index('ix_objections_profile', table_name='objections')
    op.drop_table('objections')
