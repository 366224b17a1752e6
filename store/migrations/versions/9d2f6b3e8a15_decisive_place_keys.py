"""decisive place keys: which of a profile's place keys can change its place

Revision ID: 9d2f6b3e8a15
Revises: e7b3d9a1c5f4
Create Date: 2026-12-07 16:00:00.000000

A moved gazetteer key re-derives only the profiles it decides (core.places.decisive_keys), not
every profile on its road or compound. Existing rows start decisive, so a store upgraded in place
re-derives as before until each profile is written or re-derived again (``onceonly replay`` sets
every flag at once).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '9d2f6b3e8a15'
down_revision = 'e7b3d9a1c5f4'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('profile_place_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('decisive', sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table('profile_place_keys', schema=None) as batch_op:
        batch_op.drop_column('decisive')
