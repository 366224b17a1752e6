"""resolver matcher: the matcher parameter version the resolver switched to on the records topic

Revision ID: c4e8a2f6b1d9
Revises: a9f3c2e1d7b4
Create Date: 2026-12-07 05:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'c4e8a2f6b1d9'
down_revision = 'a9f3c2e1d7b4'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'resolver_matcher',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('version', sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('resolver_matcher')
