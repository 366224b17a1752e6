"""console sessions end at logout (a session generation per user); bearer tokens expire

Revision ID: e3a9c41f7b20
Revises: 5b1e0c2d9a47
Create Date: 2026-12-03 09:00:00.000000

Tokens issued before this revision get the default lifetime from their creation (90 days): a
token older than that stops working at once, and its holder asks the admin for a new one.
"""

from __future__ import annotations

from datetime import timedelta, timezone

import sqlalchemy as sa
from alembic import op


revision = 'e3a9c41f7b20'
down_revision = '5b1e0c2d9a47'
branch_labels = None
depends_on = None

LIFETIME = timedelta(days=90)


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_generation', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    tokens = sa.table('api_tokens', sa.column('token_hash', sa.String()),
                      sa.column('created_at', sa.DateTime(timezone=True)),
                      sa.column('expires_at', sa.DateTime(timezone=True)))
    conn = op.get_bind()
    for row in conn.execute(sa.select(tokens.c.token_hash, tokens.c.created_at)).all():
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=timezone.utc)
        conn.execute(tokens.update().where(tokens.c.token_hash == row.token_hash).values(expires_at=created + LIFETIME))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_generation')
