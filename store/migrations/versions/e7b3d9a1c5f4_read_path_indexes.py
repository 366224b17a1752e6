"""read path indexes: the home page's paged lists, the place flags, the changes since a time

Revision ID: e7b3d9a1c5f4
Revises: c4e8a2f6b1d9
Create Date: 2026-12-07 16:00:00.000000

A worker's home page pages through the community's residents by name, age or address: composite
(community, sort column, profile id) indexes give that order without sorting the community. The
place flags (住址有冲突, 人户分离) get partial indexes over the flagged rows only, in the order of a
search's results (name, profile id) and written with the condition ``store.place_flags`` puts in
the queries. "What changed since" reads the recent events of
the log through their time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'e7b3d9a1c5f4'
down_revision = 'c4e8a2f6b1d9'
branch_labels = None
depends_on = None

_FLAGS = (('ix_profiles_contested', 'place_contested'), ('ix_profiles_apart', 'lives_apart'))


def upgrade() -> None:
    with op.batch_alter_table('profiles', schema=None) as batch_op:
        batch_op.create_index('ix_profiles_community_name', ['community', 'name', 'profile_id'], unique=False)
        batch_op.create_index('ix_profiles_community_birth_date', ['community', 'birth_date', 'profile_id'],
                              unique=False)
        batch_op.create_index('ix_profiles_community_address', ['community', 'address', 'profile_id'], unique=False)
    for name, column in _FLAGS:
        flagged = sa.column(column, sa.Boolean()).is_(True)  # as store.place_flags writes it
        op.create_index(name, 'profiles', ['name', 'profile_id'], unique=False,
                        sqlite_where=flagged, postgresql_where=flagged)
    with op.batch_alter_table('profile_event_log', schema=None) as batch_op:
        batch_op.create_index('ix_profile_event_log_occurred', ['occurred_at', 'profile_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('profile_event_log', schema=None) as batch_op:
        batch_op.drop_index('ix_profile_event_log_occurred')
    for name, _ in _FLAGS:
        op.drop_index(name, table_name='profiles')
    with op.batch_alter_table('profiles', schema=None) as batch_op:
        batch_op.drop_index('ix_profiles_community_address')
        batch_op.drop_index('ix_profiles_community_birth_date')
        batch_op.drop_index('ix_profiles_community_name')
