"""account requests: a new reading account or a change toward a reading role waits for a steward or an auditor

Revision ID: d5a1c9e7f3b2
Revises: b7d4e2a91c3f
Create Date: 2026-12-07 01:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'd5a1c9e7f3b2'
down_revision = 'b7d4e2a91c3f'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'account_requests',
        sa.Column('request_id', sa.String(length=32), nullable=False),
        sa.Column('username', sa.String(length=100), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('role', sa.String(length=32), nullable=False),
        sa.Column('communities', sa.Text(), nullable=False),
        sa.Column('grids', sa.Text(), nullable=False),
        sa.Column('department', sa.String(length=64), nullable=True),
        sa.Column('requested_by', sa.String(length=100), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decision', sa.String(length=16), nullable=True),
        sa.Column('decided_by', sa.String(length=100), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('request_id'),
    )
    with op.batch_alter_table('account_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_requests_username'), ['username'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('account_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_requests_username'))
    op.drop_table('account_requests')
