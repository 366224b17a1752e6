"""home page columns: what a community's resident list filters and counts by, beside the document

Revision ID: b7d2e9a4c1f3
Revises: 9d2f6b3e8a15
Create Date: 2026-12-07 16:00:00.000000

Adds to ``profiles`` the columns a worker's home page reads for every resident of her community
(``core.profile.read_side.life_columns``: died on, moved out on, says she lives alone, assistance,
disability), so the page no longer extracts them from each document, and two indexes from which
it counts a community without reading its rows. Existing profiles get them
from their documents here (a replay would give the same rows).
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = 'b7d2e9a4c1f3'
down_revision = '9d2f6b3e8a15'
branch_labels = None
depends_on = None

_COLUMNS = ('deceased_on', 'moved_out_on', 'says_alone', 'assistance', 'disability')


def upgrade() -> None:
    # On SQLite the table is rebuilt with the document still last: the narrow columns stay on the
    # row's own page, so reading them never walks the document's overflow pages.
    sqlite = op.get_bind().dialect.name == 'sqlite'
    with op.batch_alter_table('profiles', schema=None, recreate='always' if sqlite else 'auto',
                              partial_reordering=[('id_masked', *_COLUMNS, 'updated_at', 'doc')] if sqlite else None
                              ) as batch_op:
        batch_op.add_column(sa.Column('deceased_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('moved_out_on', sa.Date(), nullable=True))
        for flag in ('says_alone', 'assistance', 'disability'):
            batch_op.add_column(sa.Column(flag, sa.Boolean(), nullable=False, server_default=sa.false()))
    _backfill()
    # The home page's counts from indexes alone (see store/profile_tables.py).
    op.create_index('ix_profiles_community_glance', 'profiles',
                    ['community', 'status', 'deceased_on', 'moved_out_on', 'household_id', 'birth_date', 'says_alone',
                     'assistance', 'disability', 'lives_apart', 'place_contested', 'grid'])
    op.create_index('ix_profiles_household_live', 'profiles', ['household_id', 'status', 'deceased_on', 'moved_out_on'])


def _backfill() -> None:
    from core.profile import Profile
    from core.profile.read_side import life_columns

    conn = op.get_bind()
    profiles = sa.table('profiles', sa.column('profile_id', sa.String), sa.column('doc', sa.JSON),
                        *(sa.column(c, sa.Date if c.endswith('_on') else sa.Boolean) for c in _COLUMNS))
    last = ''
    while True:
        rows = conn.execute(sa.select(profiles.c.profile_id, profiles.c.doc)
                            .where(profiles.c.profile_id > last).order_by(profiles.c.profile_id).limit(1000)).all()
        if not rows:
            return
        changed = []
        for row in rows:
            doc = json.loads(row.doc) if isinstance(row.doc, str) else row.doc
            values = life_columns(Profile.model_validate(doc)).as_row()
            if any(values[c] for c in _COLUMNS):
                changed.append({'pid': row.profile_id, **{f'v_{c}': v for c, v in values.items()}})
        if changed:
            conn.execute(sa.update(profiles).where(profiles.c.profile_id == sa.bindparam('pid'))
                         .values({c: sa.bindparam(f'v_{c}') for c in _COLUMNS}), changed)
        last = rows[-1].profile_id


def downgrade() -> None:
    op.drop_index('ix_profiles_household_live', table_name='profiles')
    op.drop_index('ix_profiles_community_glance', table_name='profiles')
    with op.batch_alter_table('profiles', schema=None) as batch_op:
        for column in reversed(_COLUMNS):
            batch_op.drop_column(column)
