"""login failures: the console's login throttle counted in the store (shared by every service process)

Revision ID: a9f3c2e1d7b4
Revises: d5a1c9e7f3b2
Create Date: 2026-12-07 02:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'a9f3c2e1d7b4'
down_revision = 'd5a1c9e7f3b2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'login_failures',
        sa.Column('failure_id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('key_hash', sa.String(length=64), nullable=False),
        sa.Column('at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('failure_id'),
    )
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.create_index('ix_login_failures_key_at', ['key_hash', 'at'], unique=False)
        batch_op.create_index('ix_login_failures_at', ['at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_login_failures_at')
        batch_op.drop_index('ix_login_failures_key_at')
    op.drop_table('login_failures')
