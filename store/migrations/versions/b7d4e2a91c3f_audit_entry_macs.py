"""audit entries carry a MAC (HMAC of their hash with the audit key, which the database does not hold)

Revision ID: b7d4e2a91c3f
Revises: b8d4e2f1a6c3
Create Date: 2026-12-07 01:00:00.000000

Entries already in the log keep ``mac`` NULL: the key is not the database's to apply, and signing
them now would vouch for rows nobody can vouch for. ``verify`` names them as legacy ("entries
1..K predate the audit key: hash-chained only"); the first entry written with the key chains onto
the last of them, and its MAC covers that hash, so from then on they cannot be rewritten either.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'b7d4e2a91c3f'
down_revision = 'b8d4e2f1a6c3'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mac', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_column('mac')
