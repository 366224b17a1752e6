"""The stores every contract suite runs against: the in-memory fake (``None``), a SQLite file and a
throwaway PostgreSQL database, each suite building its adapter on the engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from localinfra.postgres_server import PostgresServer
from store.engine import make_engine


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine | None]:
    if request.param == "memory":
        yield None
        return
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        engine = make_engine(server.fresh_database("t_" + request.node.name[:50]))
    yield engine
    engine.dispose()
