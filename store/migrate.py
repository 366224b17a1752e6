"""Schema migrations (Alembic) for the store, on SQLite and PostgreSQL alike.

``make_engine`` upgrades every database it opens to the newest revision; a new table or column is
a new revision in ``store/migrations/versions`` (``python -m store.migrate revision "message"``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).with_name("migrations")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


MIGRATION_LOCK = 0x0E5017E6  # pg_advisory_xact_lock key: one migrator at a time


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision``; concurrent processes (workers, connectors) wait their turn."""
    config = _config()
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the writer lock up front: no two migrators race
        elif conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        conn.commit()


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a revision from the difference between ``engine``'s schema and the metadata."""
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.revision(config, message=message, autogenerate=True)


if __name__ == "__main__":  # pragma: no cover - a developer's tool
    import tempfile

    from sqlalchemy import create_engine

    with tempfile.TemporaryDirectory() as tmp:
        scratch = create_engine(f"sqlite:///{tmp}/scratch.db")
        upgrade(scratch)
        revision(scratch, " ".join(sys.argv[2:]) or "schema change")
