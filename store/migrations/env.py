"""Alembic environment: the store's schema is ``store.tables.metadata`` (all table modules)."""

from __future__ import annotations

from alembic import context

import store.schema  # noqa: F401 - imports every table module
from store.tables import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - the CLI path: `alembic -x url=... upgrade head`
    from sqlalchemy import create_engine

    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    assert url, "give the database: alembic -x url=... upgrade head"
    connection = create_engine(url).connect()

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
