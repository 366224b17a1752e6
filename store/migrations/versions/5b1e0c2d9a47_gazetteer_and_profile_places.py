"""gazetteer (place facts, assignments, profile place keys) and where each profile lives

Revision ID: 5b1e0c2d9a47
Revises: 2468c45f24cf
Create Date: 2026-12-02 03:00:00.000000

Profiles gain the basis of their community, the registered community and the 人户分离 flag. The
new columns are derived by the projection: a store upgraded in place gets them on the next write
of each profile, or at once with ``onceonly replay``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '5b1e0c2d9a47'
down_revision = '2468c45f24cf'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('place_facts',
    sa.Column('place_key', sa.String(length=200), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('record_id', sa.String(length=200), nullable=False),
    sa.Column('origin', sa.String(length=32), nullable=False),
    sa.Column('community', sa.String(length=100), nullable=False),
    sa.Column('grid', sa.String(length=100), nullable=True),
    sa.PrimaryKeyConstraint('place_key', 'source', 'record_id')
    )
    with op.batch_alter_table('place_facts', schema=None) as batch_op:
        batch_op.create_index('ix_place_facts_record', ['source', 'record_id'], unique=False)
    op.create_table('places',
    sa.Column('place_key', sa.String(length=200), nullable=False),
    sa.Column('community', sa.String(length=100), nullable=False),
    sa.Column('grid', sa.String(length=100), nullable=True),
    sa.Column('origin', sa.String(length=32), nullable=False),
    sa.Column('disagreement', sa.Boolean(), nullable=False),
    sa.Column('facts', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('place_key')
    )
    with op.batch_alter_table('places', schema=None) as batch_op:
        batch_op.create_index('ix_places_community', ['community'], unique=False)
    op.create_table('profile_places',
    sa.Column('profile_id', sa.String(length=64), nullable=False),
    sa.Column('candidates', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('profile_id')
    )
    op.create_table('profile_place_keys',
    sa.Column('place_key', sa.String(length=200), nullable=False),
    sa.Column('profile_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('place_key', 'profile_id')
    )
    with op.batch_alter_table('profile_place_keys', schema=None) as batch_op:
        batch_op.create_index('ix_profile_place_keys_profile', ['profile_id'], unique=False)
    with op.batch_alter_table('profiles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('place_basis', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('registered_community', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('lives_apart', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('place_contested', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('profiles', schema=None) as batch_op:
        batch_op.drop_column('place_contested')
        batch_op.drop_column('lives_apart')
        batch_op.drop_column('registered_community')
        batch_op.drop_column('place_basis')
    with op.batch_alter_table('profile_place_keys', schema=None) as batch_op:
        batch_op.drop_index('ix_profile_place_keys_profile')
    op.drop_table('profile_place_keys')
    op.drop_table('profile_places')
    with op.batch_alter_table('places', schema=None) as batch_op:
        batch_op.drop_index('ix_places_community')
    op.drop_table('places')
    with op.batch_alter_table('place_facts', schema=None) as batch_op:
        batch_op.drop_index('ix_place_facts_record')
    op.drop_table('place_facts')
