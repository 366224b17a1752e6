"""Fixtures shared by every tier: real infrastructure, started once per session where costly."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from localinfra.kafka_broker import KafkaBroker
from localinfra.postgres_server import PostgresNotInstalled, PostgresServer, postgres_bin
from onceonly.settings import Settings
from store.engine import make_engine

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A real Kafka 3.9 broker process for the whole test session (stopped even when tests fail)."""
    with KafkaBroker.started(tmp_path_factory.mktemp("kafka")) as broker:
        yield broker


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A real PostgreSQL server process; the production store's tests run against it.

    Without Debian's postgresql package these tests are reported as skipped, unless
    ONCEONLY_REQUIRE_POSTGRES=1 (CI) turns the missing server into a failure.
    """
    try:
        postgres_bin()
    except PostgresNotInstalled as exc:
        if os.environ.get("ONCEONLY_REQUIRE_POSTGRES") == "1":
            raise
        pytest.skip(str(exc))
    with PostgresServer.started(tmp_path_factory.mktemp("postgres")) as server:
        yield server


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The store on each backend: every test using it is a contract test run twice."""
    engine = backend_engine(request, request.param, tmp_path)
    yield engine
    engine.dispose()


def backend_engine(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Engine:
    """A fresh store on ``backend`` (sqlite: a file under ``tmp_path``; postgres: a new database on the
    session's server)."""
    if backend == "sqlite":
        return make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return make_engine(server.fresh_database("t_" + request.node.name[:50]))


@pytest.fixture
def hub_settings(tmp_path: Path, kafka_broker: KafkaBroker) -> Settings:
    """Settings for one test: the session's broker, a fresh SQLite store, its own topic prefix."""
    prefix = f"t{abs(hash(tmp_path)) % 10**8}."
    return Settings(data_dir=tmp_path / "var", kafka_bootstrap=kafka_broker.bootstrap, topic_prefix=prefix,
                    app_id=f"onceonly-{prefix.rstrip('.')}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A run that collected no test is a failure, never a silent success (pytest's exit 5)."""
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
