"""The one wiring place: settings → Kafka address, store engine, faust app, connectors.

Tests call the same functions with other settings.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import faust
from sqlalchemy import Engine

from connectors.kafka_sink import KafkaSink
from connectors.pull import Connector, RunCounts, Topics
from connectors.rows import Reader
from connectors.spec import ConnectorSpec
from connectors.state import ConnectorState

from localstack.kafka_broker import KafkaBroker
from localstack.processes import port_open
from onceonly.settings import Settings
from store.engine import make_engine
from store.ledger import SourceRecordLedger
from streams.app import build_app

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
              db: Engine | None = None, on_page: Callable[[RunCounts], None] | None = None) -> Connector:
    """A department's connector: its transport's reader, its state in the store, the shared loop."""
    reader = reader_for(spec, only_file=only_file, bootstrap=kafka_bootstrap(settings))
    return Connector(
        spec, reader, ConnectorState(db if db is not None else engine(settings), spec.source), sink,
        Topics(kafka_bootstrap(settings), settings.raw_topic(spec.source), settings.deadletter_topic),
        id_hash_key=settings.id_hash_key.get_secret_value(), on_page=on_page,
    )


def reader_for(spec: ConnectorSpec, *, only_file: Path | None = None, bootstrap: str | None = None) -> Reader:
    """The transport a mapping file declares (``kind``); each lives in its own module."""
    if only_file is not None or spec.kind in ("csv", "xlsx", "files"):
        from connectors.files import FilesReader

        return FilesReader(spec, only=only_file)
    if spec.kind == "sql":
        from connectors.sql import SqlReader

        return SqlReader(spec)
    if spec.kind == "http":
        from connectors.http import HttpReader

        return HttpReader(spec)
    if spec.kind == "kafka":
        from connectors.kafka_push import KafkaPushReader

        return KafkaPushReader(spec, bootstrap=bootstrap)
    raise ValueError(f"{spec.source}: connector kind {spec.kind!r} is not pulled (it is pushed to the ingest API)")


def hub_topics(settings: Settings) -> list[str]:
    return [settings.raw_topic(s) for s in sources(settings)] + [settings.deadletter_topic]


def prepare_topics(settings: Settings, bootstrap: str | None = None) -> None:
    from onceonly.topics import ensure_topics

    ensure_topics(bootstrap or kafka_bootstrap(settings), hub_topics(settings), partitions=settings.topic_partitions)


def engine(settings: Settings) -> Engine:
    return make_engine(settings.store_url)


def sources(settings: Settings) -> list[str]:
    return list(SOURCES)


def stream_app(settings: Settings, *, bootstrap: str | None = None, db: Engine | None = None) -> faust.App:
    return build_app(
        app_id=settings.app_id,
        bootstrap=bootstrap or kafka_bootstrap(settings),
        raw_topics=[settings.raw_topic(s) for s in sources(settings)],
        deadletter_topic=settings.deadletter_topic,
        ledger=SourceRecordLedger(db if db is not None else engine(settings)),
        partitions=settings.topic_partitions,
    )
