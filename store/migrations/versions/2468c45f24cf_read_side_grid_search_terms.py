"""read side of the profile store: grid, search-hit columns, search terms

Revision ID: 2468c45f24cf
Revises: c7e5d1a0b3f2 (written off a455e46cc102; chained after the steward migration so that the
    tree has one head)
Create Date: 2026-11-21 20:45:00.000000

Adds to ``profiles`` the grid (qualified by community) and the columns a search hit shows (so a
result page parses no documents), the ``profile_search_terms`` index table, and ``users.grids``.
Existing profiles get their read side computed from their documents here, so a store upgraded in
place answers phone, address and grid queries at once (a replay would give the same rows).
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op


revision = '2468c45f24cf'
down_revision = 'c7e5d1a0b3f2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # On SQLite the table is rebuilt with the document last: a row's narrow columns then sit on its
    # own page, and reading them for a search hit never walks the document's overflow pages.
    # (PostgreSQL keeps large documents out of line anyway.)
    sqlite = op.get_bind().dialect.name == 'sqlite'
    with op.batch_alter_table('profiles', schema=None, recreate='always' if sqlite else 'auto',
                              partial_reordering=[('community', 'grid', 'sex', 'relation_to_head', 'address',
                                                   'id_masked', 'updated_at', 'doc')] if sqlite else None) as batch_op:
        batch_op.add_column(sa.Column('grid', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('sex', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('relation_to_head', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('address', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('id_masked', sa.String(length=32), nullable=True))
        batch_op.create_index('ix_profiles_grid', ['grid'], unique=False)

    op.create_table('profile_search_terms',
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('term', sa.String(length=300), nullable=False),
    sa.Column('profile_id', sa.String(length=64), nullable=False),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'term', 'profile_id')
    )
    with op.batch_alter_table('profile_search_terms', schema=None) as batch_op:
        batch_op.create_index('ix_profile_search_terms_profile', ['profile_id', 'kind', 'term', 'weight'],
                              unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('grids', sa.Text(), nullable=False, server_default='[]'))
    _backfill()


def _backfill() -> None:
    """The read side of the profiles already in the store, from their documents."""
    from core.access.views import render
    from core.privacy import mask_id_number
    from core.profile import Profile
    from core.profile.read_side import qualified_grid, search_terms

    conn = op.get_bind()
    profiles = sa.table('profiles', sa.column('profile_id', sa.String), sa.column('community', sa.String),
                        sa.column('doc', sa.JSON), sa.column('grid', sa.String), sa.column('sex', sa.String),
                        sa.column('relation_to_head', sa.String), sa.column('address', sa.Text),
                        sa.column('id_masked', sa.String))
    terms = sa.table('profile_search_terms', sa.column('kind', sa.String), sa.column('term', sa.String),
                     sa.column('profile_id', sa.String), sa.column('weight', sa.Float))
    last = ''
    while True:
        rows = conn.execute(sa.select(profiles.c.profile_id, profiles.c.community, profiles.c.doc)
                            .where(profiles.c.profile_id > last).order_by(profiles.c.profile_id).limit(500)).all()
        if not rows:
            return
        for row in rows:
            doc = json.loads(row.doc) if isinstance(row.doc, str) else row.doc
            profile = Profile.model_validate(doc)
            golden = profile.golden
            shown = golden.residential_address or golden.registered_address
            conn.execute(sa.update(profiles).where(profiles.c.profile_id == row.profile_id).values(
                grid=qualified_grid(profile, row.community),
                sex=render(golden.sex.value) if golden.sex else None,
                relation_to_head=render(golden.relation_to_head.value) if golden.relation_to_head else None,
                address=render(shown.value) if shown else None,
                id_masked=mask_id_number(golden.id_number.value) if golden.id_number else None))
            found = [{'kind': t.kind, 'term': t.term, 'profile_id': row.profile_id, 'weight': t.weight}
                     for t in search_terms(profile)]
            if found:
                conn.execute(terms.insert(), found)
        last = rows[-1].profile_id


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('grids')
    with op.batch_alter_table('profile_search_terms', schema=None) as batch_op:
        batch_op.drop_index('ix_profile_search_terms_profile')
    op.drop_table('profile_search_terms')
    with op.batch_alter_table('profiles', schema=None) as batch_op:
        batch_op.drop_index('ix_profiles_grid')
        batch_op.drop_column('id_masked')
        batch_op.drop_column('address')
        batch_op.drop_column('relation_to_head')
        batch_op.drop_column('sex')
        batch_op.drop_column('grid')
