"""The stores every contract suite runs against: the in-memory fake (``None``), a SQLite file and a
throwaway PostgreSQL database, each suite building its adapter on the engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.conftest import backend_engine


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine | None]:
    if request.param == "memory":
        yield None
        return
    engine = backend_engine(request, request.param, tmp_path)
    yield engine
    engine.dispose()
