"""One bootstrap builds each process's object graph (``onceonly.bootstrap.Hub``), once and lazily, and
every entry point takes its services from it: here built with other settings, on a real SQLite
store and audit log, for the services and for the query service (``api.app.create_app``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import QueryServiceHub, create_app
from api.metrics import MeasuredAuditLog
from kafka_adapter.admin import NoBroker
from onceonly import bootstrap
from onceonly.settings import PROJECT_ROOT, Settings
from services.queries import Unavailable
from store.audit import AuditLog
from store.engine import make_engine


def _settings(tmp_path: Path, **other: object) -> Settings:
    return Settings(data_dir=tmp_path, id_hash_key="hub-test-key", mappings_dir=PROJECT_ROOT / "mappings",
                    token_days=3.0, _env_file=None, **other)  # type: ignore[arg-type]


def test_a_hub_builds_each_part_once_from_its_settings_and_shares_it(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    hub = bootstrap.hub(settings)
    assert bootstrap.hub(hub) is hub  # functions that take settings take a hub too
    assert "engine" not in vars(hub)  # nothing built until asked
    assert hub.settings is settings
    assert str(hub.engine.url) == settings.store_url and hub.engine is hub.engine
    assert type(hub.audit) is AuditLog and hub.audit is hub.audit
    # The services share the one store, audit log and objections table.
    assert hub.objections.audit is hub.audit and hub.gazetteer.audit is hub.audit
    assert hub.pull_holds.audit is hub.audit and hub.planning.audit is hub.audit
    assert hub.planning.objections is hub.objection_store and hub.planning.engine is hub.engine
    assert hub.users.engine is hub.engine and hub.users.token_lifetime.days == 3
    assert hub.sources == bootstrap.sources(settings)
    with pytest.raises(NoBroker):  # no broker configured or started: said so, not hung
        hub.kafka_bootstrap()
    hub.close()


def test_a_hub_on_a_given_engine_does_not_open_the_settings_store(tmp_path: Path) -> None:
    other = make_engine(f"sqlite:///{tmp_path / 'elsewhere.db'}")
    hub = bootstrap.hub(_settings(tmp_path / "unused"), engine=other)
    assert hub.engine is other and hub.profile_projection.engine is other


def test_the_query_service_is_built_on_the_hub_with_its_measured_audit_log(tmp_path: Path) -> None:
    hub = bootstrap.hub(_settings(tmp_path))
    app = create_app(hub)
    graph = app.state.hub
    assert isinstance(graph, QueryServiceHub) and graph.settings is hub.settings and graph.engine is hub.engine
    assert isinstance(app.state.audit, MeasuredAuditLog) and app.state.audit is graph.audit
    assert graph.objections.audit is graph.audit and app.state.objections is graph.objections
    with TestClient(app) as client:
        assert client.get("/health").json()["status"] == "ok"
        client.get("/health")
        timed = [s for family in graph.metrics.requests.collect() for s in family.samples]
        assert any(s.labels.get("route") == "/health" for s in timed)  # the hub's registry times the routes
    with pytest.raises(TypeError):
        create_app(hub, [], hub.settings)  # a hub brings its own sources and settings


def test_the_older_signature_builds_the_same_graph_and_without_settings_has_no_kafka(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    engine = make_engine(settings.store_url)
    configured = create_app(engine, ["housing"], settings).state.hub
    assert configured.configured and configured.sources == ["housing"] and configured.engine is engine
    assert configured.pushes is configured.ingest  # departments may push batches
    bare = create_app(engine, ["housing"]).state.hub
    assert not bare.configured and bare.pushes is None
    with pytest.raises(LookupError):
        bare.kafka_bootstrap()
    with pytest.raises(Unavailable):  # a steward's decision without Kafka: a 503, never a stack trace
        bare.events_broker()
    with pytest.raises(Unavailable):
        bare.restandardiser()
