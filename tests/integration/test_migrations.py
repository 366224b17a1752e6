"""The Alembic migrations create exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

import store.schema  # noqa: F401 - every table module
from store.migrate import upgrade
from store.tables import metadata


def test_migrations_leave_no_difference_to_the_declared_schema(store_engine: Engine) -> None:
    with store_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_upgrading_twice_changes_nothing(store_engine: Engine) -> None:
    upgrade(store_engine)  # make_engine already upgraded once; a second worker starting does it again
    with store_engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
