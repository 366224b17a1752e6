"""Engines for the two supported backends, with the settings each needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

from store.migrate import upgrade


def make_engine(url: str, *, create: bool = True) -> Engine:
    """An engine for ``url``; SQLite gets WAL and a busy timeout so readers never block the writer."""
    # Enough pooled connections for the query service's thread pool: a connection opened beyond the
    # pool is closed on return, and a fresh one (on SQLite: pragmas, schema parse, cold page cache)
    # costs more than the read it serves.
    kwargs: dict[str, Any] = {"future": True, "pool_size": 16, "max_overflow": 24}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Writers queue on SQLite's single lock; under load a resolve batch can hold it for long.
        kwargs["connect_args"] = {"timeout": 300, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if create:
        upgrade(engine)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
