"""The one wiring place: settings → Kafka address, store engine, faust app, connectors.

Tests call the same functions with other settings.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import faust
import yaml
from sqlalchemy import Engine

from connectors.kafka_sink import KafkaSink, acknowledged_batch_publisher, acknowledged_publisher
from connectors.pull import Connector, RunCounts, Topics
from connectors.rows import Reader
from connectors.spec import ConnectorSpec
from connectors.state import ConnectorState
from core.access import Grant, default_grants, parse_grants
from core.standardise import FieldMapping
from localstack.kafka_broker import KafkaBroker
from localstack.processes import port_open
from onceonly.matcher_source import CurrentMatcher
from onceonly.settings import PROJECT_ROOT, Settings
from services.gazetteer import GazetteerService
from services.objections import ObjectionService
from store.audit import AuditLog
from store.engine import companion_engine, make_engine
from store.ledger import SourceRecordLedger
from store.matcher_parameters import MatcherParameterStore
from store.objections import ObjectionStore
from store.place_projection import PlaceProjection
from store.profile_projection import ProfileProjection
from store.resolver_state import ResolverState
from streams.app import StreamWiring, build_app

SOURCES = ("public_security", "social_security", "civil_affairs", "housing", "community")


class NoBroker(RuntimeError):
    pass


def broker_file(settings: Settings) -> Path:
    return settings.data_dir / "kafka" / "bootstrap.txt"


def kafka_bootstrap(settings: Settings) -> str:
    """The configured cluster, or the local broker that ``onceonly broker`` started."""
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    path = broker_file(settings)
    if path.exists():
        address = path.read_text().strip()
        host, _, port = address.rpartition(":")
        if port_open(int(port), host):
            return address
    raise NoBroker(
        "No Kafka broker: set ONCEONLY_KAFKA_BOOTSTRAP, or start the local one with `onceonly broker`"
    )


@contextlib.contextmanager
def local_broker(settings: Settings) -> Iterator[KafkaBroker]:
    """Start the embedded broker in ``data_dir/kafka`` and publish its address for other commands."""
    broker = KafkaBroker(data_dir=settings.data_dir / "kafka")
    broker.start()
    broker_file(settings).write_text(broker.bootstrap)
    prepare_topics(settings, broker.bootstrap)
    try:
        yield broker
    finally:
        broker.stop()
        broker_file(settings).unlink(missing_ok=True)


def mapping_path(settings: Settings, source: str) -> Path:
    return settings.mappings_dir / f"{source}.yaml"


def connector(settings: Settings, spec: ConnectorSpec, sink: KafkaSink, *, only_file: Path | None = None,
              db: Engine | None = None, on_page: Callable[[RunCounts], None] | None = None,
              reader: Reader | None = None) -> Connector:
    """A department's connector: its transport's reader (or ``reader``, e.g. a pushed batch), its
    state in the store, the shared loop."""
    if reader is None:
        reader = reader_for(spec, only_file=only_file, bootstrap=kafka_bootstrap(settings), data_dir=settings.data_dir)
    return Connector(
        spec, reader, ConnectorState(db if db is not None else engine(settings), spec.source), sink,
        Topics(kafka_bootstrap(settings), settings.raw_topic(spec.source), settings.deadletter_topic),
        id_hash_key=settings.id_hash_key.get_secret_value(), on_page=on_page,
    )


def reader_for(spec: ConnectorSpec, *, only_file: Path | None = None, bootstrap: str | None = None,
               data_dir: Path | None = None) -> Reader:
    """The transport a mapping file declares (``kind``); each lives in its own module.

    A drop folder (``transport.path``) given relative, or not at all (``inbox/<source>``), lies
    under the data dir, so the same mapping file works locally and in the container.
    """
    if only_file is not None or spec.kind in ("csv", "xlsx", "files"):
        from connectors.files import FilesReader

        folder = Path(spec.transport.get("path", f"inbox/{spec.source}"))
        if not folder.is_absolute() and data_dir is not None:
            folder = data_dir / folder
        return FilesReader(spec, folder, only=only_file)
    if spec.kind == "sql":
        from connectors.sql import SqlReader

        return SqlReader(spec, data_dir=data_dir)
    if spec.kind == "http":
        from connectors.http import HttpReader

        return HttpReader(spec)
    if spec.kind == "kafka":
        from connectors.kafka_push import KafkaPushReader

        return KafkaPushReader(spec, bootstrap=bootstrap)
    raise ValueError(f"{spec.source}: connector kind {spec.kind!r} is not pulled (it is pushed to the ingest API)")


def hub_topics(settings: Settings) -> list[str]:
    return [settings.raw_topic(s) for s in sources(settings)] + [settings.records_topic, settings.deadletter_topic,
                                                                    settings.profile_events_topic, settings.places_topic,
                                                                    settings.objections_topic]


def prepare_topics(settings: Settings, bootstrap: str | None = None) -> None:
    from onceonly.topics import ensure_topics

    ensure_topics(bootstrap or kafka_bootstrap(settings), hub_topics(settings), partitions=settings.topic_partitions)


def engine(settings: Settings) -> Engine:
    return make_engine(settings.store_url)


def sources(settings: Settings) -> list[str]:
    """Every source with a mapping file (a new department is a new file), the five known ones first."""
    declared = [spec.source for spec in mappings(settings).values()] if settings.mappings_dir.is_dir() else []
    return list(dict.fromkeys([*SOURCES, *declared]))


def gazetteer_sources(settings: Settings) -> list[str]:
    """Sources whose records are standard addresses (the grid centre's 标准地址库), not residents."""
    if not settings.mappings_dir.is_dir():
        return []
    return [spec.source for spec in mappings(settings).values() if spec.holds == "standard_addresses"]


def resident_sources(settings: Settings) -> list[str]:
    """Sources whose records are residents: what is resolved, trained on and validated."""
    places = set(gazetteer_sources(settings))
    return [s for s in sources(settings) if s not in places]


def place_projection(settings: Settings, db: Engine | None = None) -> PlaceProjection:
    return PlaceProjection(db if db is not None else engine(settings))


def gazetteer_service(settings: Settings, db: Engine, audit: Any) -> GazetteerService:
    """The steward's gazetteer use cases; corrections go to the places topic, acknowledged."""
    return GazetteerService(db, acknowledged_publisher(lambda: kafka_bootstrap(settings), settings.places_topic), audit)


GRANTS_FILE = PROJECT_ROOT / "config" / "grants.yaml"


def access_grants(path: Path = GRANTS_FILE) -> dict[str, Grant]:
    """Department grants from ``config/grants.yaml`` (what each department's readers see), or a
    small default when there is none."""
    if not path.is_file():
        return default_grants()
    return parse_grants(yaml.safe_load(path.read_text(encoding="utf-8")) or {})


def objection_service(settings: Settings, db: Engine, audit: Any) -> ObjectionService:
    """Data objections' use cases; their events go to the objections topic, acknowledged."""
    return ObjectionService(ObjectionStore(db), acknowledged_batch_publisher(lambda: kafka_bootstrap(settings),
                                                                             settings.objections_topic),
                            audit, digest_key=settings.id_hash_key.get_secret_value(), grants=access_grants())


def resolver_state(db: Engine) -> ResolverState:
    """The resolver's state and outbox: in their own SQLite file beside the store (its writer does
    not wait for the projection's), or in the store's PostgreSQL database."""
    return ResolverState(companion_engine(db, "resolver"))


def profile_projection(settings: Settings, db: Engine | None = None) -> ProfileProjection:
    return ProfileProjection(db if db is not None else engine(settings),
                             id_hash_key=settings.id_hash_key.get_secret_value())


def current_matcher(settings: Settings, db: Engine | None = None) -> CurrentMatcher:
    return CurrentMatcher(MatcherParameterStore(db if db is not None else engine(settings)),
                          id_hash_key=settings.id_hash_key.get_secret_value())


def mappings(settings: Settings) -> dict[str, ConnectorSpec]:
    """Every department mapping file in the mappings folder, by source."""
    specs = [ConnectorSpec.load(p) for p in sorted(settings.mappings_dir.glob("*.yaml"))]
    return {spec.source: spec for spec in specs}


def field_mappings(settings: Settings) -> dict[str, FieldMapping]:
    found = {source: spec.field_mapping() for source, spec in mappings(settings).items()}
    return {source: m for source, m in found.items() if m is not None}


def _faust_dir(settings: Settings) -> Path:
    """Faust's own folder, under the data dir (faust creates only its last part)."""
    path = settings.data_dir / "faust"
    path.mkdir(parents=True, exist_ok=True)
    return path


def stream_app(settings: Settings, *, bootstrap: str | None = None, db: Engine | None = None,
               field_mapping_overrides: dict[str, FieldMapping] | None = None) -> faust.App:
    db = db if db is not None else engine(settings)
    return build_app(StreamWiring(
        app_id=settings.app_id,
        bootstrap=bootstrap or kafka_bootstrap(settings),
        raw_topics=[settings.raw_topic(s) for s in sources(settings)],
        records_topic=settings.records_topic,
        deadletter_topic=settings.deadletter_topic,
        ledger=SourceRecordLedger(db),
        profile_events_topic=settings.profile_events_topic,
        projection=profile_projection(settings, db),
        resolver=resolver_state(db),
        matcher=current_matcher(settings, db),
        mappings={**field_mappings(settings), **(field_mapping_overrides or {})},
        partitions=settings.topic_partitions,
        places_topic=settings.places_topic,
        gazetteer=place_projection(settings, db),
        gazetteer_sources=frozenset(gazetteer_sources(settings)),
        datadir=str(_faust_dir(settings)),
        objections=objection_service(settings, db, AuditLog(db)),
    ))
