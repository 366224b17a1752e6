"""The one wiring place: settings → Kafka address, store engine, audit log, repositories, services,
faust app, connectors. :class:`Hub` (``hub(settings)``) holds one process's object graph, built from
these functions lazily and once; every entry point (query service, CLI, flows, workers) takes its
services from one.

Tests call the same functions, or build a hub, with other settings.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import faust
import yaml
from sqlalchemy import Engine

from connectors.kafka_sink import KafkaSink, acknowledged_batch_publisher, acknowledged_publisher
from connectors.pull import Connector, RunCounts, Topics
from connectors.rows import Reader
from connectors.spec import ConnectorSpec
from connectors.state import ConnectorState
from core.access import Grant, Grants
from core.standardise import FieldMapping
from kafka_adapter.admin import NoBroker
from kafka_adapter.security import KafkaSecurity
from kafka_adapter.security import register as register_kafka_security
from localinfra.kafka_broker import KafkaBroker
from localinfra.processes import port_open
from onceonly.settings import PROJECT_ROOT, Settings
from schemas.resident import ResidentRecord
from services.gazetteer import GazetteerService
from services.ingest import IngestService
from services.objections import ObjectionService
from services.pull_holds import EndSender, PullHoldService
from services.restandardise import RestandardiseService
from services.stewarding import StewardingService
from services.training import TrainingService, current_records
from store.audit import AuditLog
from store.audit_checkpoints import Checkpointer, CheckpointFile
from store.auth_tables import UserStore
from store.engine import companion_engine, make_engine
from store.ledger import SourceRecordLedger
from store.matcher_parameters import MatcherParameterStore, MatcherVersions
from store.objections import ObjectionStore
from store.place_projection import PlaceProjection
from store.profile_projection import ProfileProjection
from store.pull_holds import HeldRecord, PullHolds
from store.resolver_state import ResolverState
from streams.app import StreamWiring, build_app

if TYPE_CHECKING:
    from services.mapping_check import MappingCheckService
    from services.planning import PlanningService
    from services.publishing import PublishingService
    from services.user_admin import UserAdmin
    from services.validation import ValidationService

SOURCES = ("public_security", "social_security", "civil_affairs", "housing", "community")


def broker_file(settings: Settings) -> Path:
    return settings.data_dir / "kafka" / "bootstrap.txt"


def kafka_security(settings: Settings) -> KafkaSecurity:
    """How the hub's Kafka clients authenticate and encrypt (``ONCEONLY_KAFKA_SECURITY_PROTOCOL`` …)."""
    cafile = settings.kafka_ssl_cafile
    return KafkaSecurity(protocol=settings.kafka_security_protocol, mechanism=settings.kafka_sasl_mechanism,
                         username=settings.kafka_sasl_username,
                         password=settings.kafka_sasl_password.get_secret_value(),
                         cafile=str(cafile) if cafile else None)


def kafka_bootstrap(settings: Settings) -> str:
    """The configured cluster (its security registered for every client that connects to it), or
    the local broker that ``onceonly broker`` started."""
    if settings.kafka_bootstrap:
        register_kafka_security(settings.kafka_bootstrap, kafka_security(settings))
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
    from kafka_adapter.admin import ensure_topics

    address = bootstrap or kafka_bootstrap(settings)
    ensure_topics(address, [settings.records_topic], partitions=settings.records_partitions)
    ensure_topics(address, hub_topics(settings), partitions=settings.topic_partitions)
    # The audit chain's checkpoints: one partition, compacted (each writer's newest kept, none aged out).
    ensure_topics(address, [settings.audit_checkpoints_topic], partitions=1,
                  compacted=[settings.audit_checkpoints_topic])


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


def audit_checkpointer(settings: Settings) -> Checkpointer:
    """Signed checkpoints of the audit chain's head, in the checkpoint file and, when a broker is
    configured or running, in the checkpoints topic."""
    from connectors.audit_checkpoint_topic import CheckpointTopic

    def broker() -> str | None:
        try:
            return kafka_bootstrap(settings)
        except NoBroker:
            return None

    return Checkpointer(settings.audit_secret(),
                        [CheckpointFile(settings.audit_checkpoint_path),
                         CheckpointTopic(broker, settings.audit_checkpoints_topic)],
                        every_entries=settings.audit_checkpoint_entries,
                        every_seconds=settings.audit_checkpoint_seconds)


def audit_log(settings: Settings, db: Engine) -> AuditLog:
    """The audit log with the settings' audit key and its checkpoints (every process that appends), in
    its own database beside ``db`` (``store.audit.audit_engine``: on SQLite its own file, so a read's
    append does not queue behind the store's writers)."""
    return AuditLog(db, key=settings.audit_secret(), checkpoints=audit_checkpointer(settings))


def gazetteer_service(settings: Settings, db: Engine, audit: Any) -> GazetteerService:
    """The steward's gazetteer use cases; corrections go to the places topic, acknowledged."""
    return GazetteerService(db, acknowledged_publisher(lambda: kafka_bootstrap(settings), settings.places_topic), audit)


GRANTS_FILE = PROJECT_ROOT / "config" / "grants.yaml"


def grants(path: Path | None = None) -> Grants:
    """The one grants model (``config/grants.yaml``, checked against its sharing classes), read by the
    query service, the publish flow and the planner alike. No file: nothing is granted to anyone."""
    path = path or GRANTS_FILE
    if not path.is_file():
        return Grants(catalogue={}, departments={})
    return Grants.from_dict(yaml.safe_load(path.read_text(encoding="utf-8")) or {})


def access_grants(path: Path = GRANTS_FILE) -> dict[str, Grant]:
    """What each department's readers see: :func:`grants`' reader views."""
    return grants(path).access()


def objection_service(settings: Settings, db: Engine, audit: Any) -> ObjectionService:
    """Data objections' use cases; their events go to the objections topic, acknowledged."""
    return ObjectionService(ObjectionStore(db), acknowledged_batch_publisher(lambda: kafka_bootstrap(settings),
                                                                             settings.objections_topic),
                            audit, digest_key=settings.id_hash_key.get_secret_value(), grants=access_grants())


def held_end_sender(settings: Settings, db: Engine,
                    specs: Callable[[str], ConnectorSpec] | None = None) -> EndSender:
    """Sends a steward-accepted hold's ends through the source's own connector loop (its state,
    its sink, its counts as a run); the mapping file gives the source's spec unless ``specs`` does."""
    from connectors.batch import BatchReader

    def spec_of(source: str) -> ConnectorSpec:
        return specs(source) if specs is not None else ConnectorSpec.load(mapping_path(settings, source))

    def send(source: str, records: Sequence[HeldRecord], note: str) -> int:
        spec = spec_of(source)
        with KafkaSink(kafka_bootstrap(settings), client_id="onceonly-held-ends") as sink:
            held = connector(settings, spec, sink, db=db, reader=BatchReader("held-ends", []))
            return held.end_held(records, note=note).ended

    return send


def pull_hold_service(settings: Settings, db: Engine, audit: Any,
                      specs: Callable[[str], ConnectorSpec] | None = None) -> PullHoldService:
    """The steward's answers to pulls the mass-change guard held (``services.pull_holds``)."""
    return PullHoldService(PullHolds(db), held_end_sender(settings, db, specs), audit)


def resolver_state(db: Engine) -> ResolverState:
    """The resolver's state and outbox: in their own SQLite file beside the store (its writer does
    not wait for the projection's), or in the store's PostgreSQL database."""
    return ResolverState(companion_engine(db, "resolver"))


def profile_projection(settings: Settings, db: Engine | None = None) -> ProfileProjection:
    return ProfileProjection(db if db is not None else engine(settings),
                             id_hash_key=settings.id_hash_key.get_secret_value())


def announce_matcher(settings: Settings, version: str | None = None, db: Engine | None = None) -> str | None:
    """Put a switch to matcher parameters ``version`` (default: the newest stored) on the records
    topic, acknowledged; the resolver switches when it reads it (a version in use already: nothing
    changes). Returns the version announced (``None``: nothing stored yet)."""
    from datetime import UTC, datetime

    from schemas.record_events import MatcherSwitched
    from streams.resolve import MATCHER_KEY

    version = version or MatcherParameterStore(db if db is not None else engine(settings)).latest_version()
    if version is not None:
        publish = acknowledged_publisher(lambda: kafka_bootstrap(settings), settings.records_topic,
                                         client_id="onceonly-matcher")
        publish(MATCHER_KEY.decode(), MatcherSwitched.to(version, datetime.now(UTC)))
    return version


def matcher_versions(settings: Settings, db: Engine | None = None) -> MatcherVersions:
    return MatcherVersions(MatcherParameterStore(db if db is not None else engine(settings)),
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
               field_mapping_overrides: dict[str, FieldMapping] | None = None,
               objections: ObjectionService | None = None) -> faust.App:
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
        matcher=matcher_versions(settings, db),
        mappings={**field_mappings(settings), **(field_mapping_overrides or {})},
        partitions=settings.topic_partitions,
        records_partitions=settings.records_partitions,
        places_topic=settings.places_topic,
        gazetteer=place_projection(settings, db),
        gazetteer_sources=frozenset(gazetteer_sources(settings)),
        datadir=str(_faust_dir(settings)),
        objections=objections if objections is not None else objection_service(settings, db, audit_log(settings, db)),
        agents=frozenset(a.strip() for a in settings.worker_agents.split(",") if a.strip()),
    ))


def restandardise_service(settings: Settings, audit: Any) -> RestandardiseService:
    """Re-standardising a source after a mapping fix, over this hub's topics and mapping files."""
    from kafka_adapter.reader import read_log

    def read_topic(topic: str) -> Iterator[Any]:
        for batch in read_log(kafka_bootstrap(settings), topic, client_id="onceonly-restandardise"):
            yield from (logged.event for logged in batch)

    def publish(events: Sequence[tuple[str, str, Any]]) -> None:
        if not events:
            return
        with KafkaSink(kafka_bootstrap(settings), client_id="onceonly-restandardise") as sink:
            for topic, key, event in events:
                sink.send(topic, key, event)
            sink.flush(timeout=120)

    return RestandardiseService(lambda: field_mappings(settings), lambda: set(gazetteer_sources(settings)),
                                read_topic, publish, audit, raw_topic=settings.raw_topic,
                                records_topic=settings.records_topic, deadletter_topic=settings.deadletter_topic)


def ingest_service(settings: Settings, db: Engine | None = None) -> IngestService:
    """Pushed batches and pulls through the shared connector loop, on this hub's cluster, store (``db``,
    else the settings' store on each run) and mapping files; the departments' push tokens."""

    def open_sink(client_id: str) -> KafkaSink:
        return KafkaSink(kafka_bootstrap(settings), client_id=client_id)

    def connect(spec: ConnectorSpec, sink: KafkaSink, *, only_file: Path | None = None,
                on_page: Callable[[RunCounts], None] | None = None, reader: Reader | None = None) -> Connector:
        return connector(settings, spec, sink, only_file=only_file, db=db, on_page=on_page, reader=reader)

    return IngestService(lambda source: mapping_path(settings, source), open_sink, connect,
                         tokens={source: token.get_secret_value() for source, token in settings.ingest_tokens.items()})


def training_service(settings: Settings, db: Engine | None = None) -> TrainingService:
    """Training the matcher on the resident sources' records as the standardise agent wrote them on the
    records topic (those it has not reached yet standardised with the mapping files as they are when
    it runs); the versions stored in ``db`` (else the settings' store)."""

    def records() -> list[ResidentRecord]:
        address = kafka_bootstrap(settings)
        return current_records(address, settings.records_topic,
                               {s: settings.raw_topic(s) for s in resident_sources(settings)},
                               field_mappings(settings))

    return TrainingService(records, MatcherParameterStore(db if db is not None else engine(settings)),
                           announce=lambda version: announce_matcher(settings, version, db))


class Hub:
    """One process's object graph: settings → store engine → audit log → repositories → services,
    each built on first use and then kept (one engine, one audit log per process). Every entry point
    takes its services from one: the query service (``api.app.create_app``), the CLI commands, the
    flow tasks, the stream workers; tests build one with other settings (``hub(settings)``). The
    module's functions are its parts, each still usable alone."""

    def __init__(self, settings: Settings | None = None, *, engine: Engine | None = None,
                 sources: Sequence[str] | None = None) -> None:
        self.settings = settings if settings is not None else Settings()  # the environment, read once
        self._engine = engine
        self._sources = list(sources) if sources is not None else None

    # -- infrastructure ------------------------------------------------------------------------------
    @cached_property
    def engine(self) -> Engine:
        """The store (migrated on first use), or the engine the hub was given."""
        return self._engine if self._engine is not None else make_engine(self.settings.store_url)

    @cached_property
    def sources(self) -> list[str]:
        return self._sources if self._sources is not None else sources(self.settings)

    def kafka_bootstrap(self) -> str:
        """The cluster's address, looked up on each call (a local broker may start later)."""
        return kafka_bootstrap(self.settings)

    def mappings(self) -> dict[str, ConnectorSpec]:
        """The mapping files as they are now (re-read on each call)."""
        return mappings(self.settings)

    @cached_property
    def audit(self) -> AuditLog:
        return audit_log(self.settings, self.engine)

    # -- repositories --------------------------------------------------------------------------------
    @cached_property
    def grants(self) -> dict[str, Grant]:
        return access_grants()

    @cached_property
    def objection_store(self) -> ObjectionStore:
        return ObjectionStore(self.engine)

    @cached_property
    def users(self) -> UserStore:
        return UserStore(self.engine, token_lifetime=timedelta(days=self.settings.token_days))

    @cached_property
    def user_admin(self) -> UserAdmin:
        """Accounts and their approvals (the API, the console and ``onceonly users``), audited."""
        from services.user_admin import UserAdmin

        return UserAdmin(self.users, self.audit, min_password_length=self.settings.min_password_length)

    @cached_property
    def profile_projection(self) -> ProfileProjection:
        return profile_projection(self.settings, self.engine)

    @cached_property
    def place_projection(self) -> PlaceProjection:
        return place_projection(self.settings, self.engine)

    @cached_property
    def resolver_state(self) -> ResolverState:
        return resolver_state(self.engine)

    # -- services ------------------------------------------------------------------------------------
    @cached_property
    def stewarding(self) -> StewardingService:
        """A steward's decisions (under the resolver's lock), their events published at once: a failed
        publish raises (the events stay in the outbox for the workers)."""
        from streams.resolve import publish_once

        topic = self.settings.profile_events_topic
        return StewardingService(self.resolver_state,
                                 lambda send_outbox: publish_once(self.kafka_bootstrap(), topic, send_outbox), self.audit)

    @cached_property
    def ingest(self) -> IngestService:
        return ingest_service(self.settings, self.engine)

    @cached_property
    def objections(self) -> ObjectionService:
        return objection_service(self.settings, self.engine, self.audit)

    @cached_property
    def gazetteer(self) -> GazetteerService:
        return gazetteer_service(self.settings, self.engine, self.audit)

    @cached_property
    def pull_holds(self) -> PullHoldService:
        return pull_hold_service(self.settings, self.engine, self.audit)

    @cached_property
    def restandardise(self) -> RestandardiseService:
        return restandardise_service(self.settings, self.audit)

    @cached_property
    def training(self) -> TrainingService:
        return training_service(self.settings, self.engine)

    @cached_property
    def planning(self) -> PlanningService:
        from services.planning import PlanningService

        return PlanningService(self.engine, self.audit, objections=self.objection_store, grants=self.grants,
                               ingest=self.ingest)

    @cached_property
    def mapping_check(self) -> MappingCheckService:
        from services.mapping_check import MappingCheckService

        return MappingCheckService(self.audit)

    @cached_property
    def validation(self) -> ValidationService:
        """GX over the resident sources' new batches (mapping files re-read on each run; the records the
        resolver has linked in the form it holds) and the profile store."""
        from services.validation import ValidationService

        return ValidationService(self.engine, self.profile_projection.profiles,
                                 mappings=lambda: field_mappings(self.settings),
                                 sources=lambda: resident_sources(self.settings), data_dir=self.settings.data_dir,
                                 id_hash_key=self.settings.id_hash_key.get_secret_value(),
                                 linked_forms=self.resolver_state.linked_forms)

    @cached_property
    def publishing(self) -> PublishingService:
        """Snapshots to the published topic and the department extracts, the objection feeds through ``objections``."""
        from services.publishing import PublishingService, published_topic

        return PublishingService(self.engine, self.profile_projection.profiles, lambda: self.objections,
                                 kafka_bootstrap=self.kafka_bootstrap, topic=published_topic(self.settings),
                                 partitions=self.settings.topic_partitions, data_dir=self.settings.data_dir,
                                 id_hash_key=self.settings.id_hash_key.get_secret_value())

    def announce_matcher(self, version: str | None = None) -> str | None:
        return announce_matcher(self.settings, version, self.engine)

    def stream_app(self, *, bootstrap: str | None = None,
                   field_mapping_overrides: dict[str, FieldMapping] | None = None) -> faust.App:
        return stream_app(self.settings, bootstrap=bootstrap, db=self.engine,
                          field_mapping_overrides=field_mapping_overrides, objections=self.objections)

    # -- shutting down -------------------------------------------------------------------------------
    def close(self) -> None:
        """Close what was built: the ingest service's clients, then the audit log (its last checkpoint)."""
        built = vars(self)
        if "ingest" in built:
            built["ingest"].close()
        if "audit" in built:
            built["audit"].close()

    def __enter__(self) -> Hub:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def hub(settings: Settings | Hub | None = None, *, engine: Engine | None = None) -> Hub:
    """The object graph for ``settings`` (none: read from the environment, once), on ``engine`` if
    given; a hub passed in is returned as it is (functions take either)."""
    if isinstance(settings, Hub):
        return settings
    return Hub(settings, engine=engine)
