"""The FastAPI application, built by one function from the hub's object graph (``onceonly.bootstrap``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from functools import cached_property
from typing import Any

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from api import errors
from api.admin import admin_router
from api.auth import Authenticator, LoginThrottle, Sessions, session_secret
from api.ingest import MAX_BODY_BYTES as INGEST_BODY_BYTES
from api.ingest import ingest_router
from api.mapping_workbench import Workbench
from api.metrics import MeasuredAuditLog, RouteTimer, metrics_router
from api.pull_holds import unavailable_when_down
from api.responses import LivenessOut
from api.v1 import v1_router
from connectors.kafka_sink import acknowledged_batch_publisher, acknowledged_publisher
from connectors.spec import ConnectorSpec
from metrics.definitions import ServiceMetrics
from onceonly import __version__
from onceonly.bootstrap import Hub, audit_checkpointer, held_end_sender
from onceonly.settings import Settings, is_loopback, refuse_default_keys
from services.access_report import AccessReportService
from services.dead_letters import DeadLetterService
from services.gazetteer import GazetteerService
from services.ingest import IngestService
from services.objections import ObjectionService
from services.pipeline import HealthSampler, PipelineViews
from services.planning import PlanningService
from services.pull_holds import PullHoldService
from services.quality import QualityViews
from services.queries import ResidentQueries, Unavailable
from services.restandardise import RestandardiseService
from services.scorecards import ScorecardService
from services.stewarding import StewardingService
from store.audit import AuditLog
from store.engine import companion_engine
from store.ledger import SourceRecordLedger
from store.login_failures import LoginFailures
from store.pipeline_samples import PipelineSamples
from store.pull_holds import HeldRecord, PullHolds


class QueryServiceHub(Hub):
    """The query service's object graph: the hub's (:class:`onceonly.bootstrap.Hub`), with its audit
    appends timed for ``GET /metrics``, its Kafka-bound services answering 503 (``Unavailable``) when
    the broker is away, and its read models. Built without settings it reads the store with default
    settings: no Kafka, no pushed batches, no mapping files."""

    def __init__(self, settings: Settings | None = None, *, engine: Engine | None = None,
                 sources: Sequence[str] | None = None) -> None:
        super().__init__(settings, engine=engine, sources=sources)
        self.configured = settings is not None

    @classmethod
    def of(cls, hub: Hub) -> QueryServiceHub:
        """``hub``'s settings, store and sources as the query service's graph."""
        return hub if isinstance(hub, cls) else cls(hub.settings, engine=hub.engine, sources=hub.sources)

    def kafka_bootstrap(self) -> str:
        if not self.configured:
            raise LookupError("no settings: Kafka not configured")
        return super().kafka_bootstrap()

    def events_broker(self) -> str:
        """The broker for stewards' decisions (corrections, objections), or 503 with a message."""
        try:
            return self.kafka_bootstrap()
        except Exception as exc:
            raise Unavailable("this needs Kafka (corrections, objections): start the service with its settings") from exc

    @cached_property
    def metrics(self) -> ServiceMetrics:
        return ServiceMetrics()  # this app's registry: GET /metrics

    @cached_property
    def audit(self) -> AuditLog:
        return MeasuredAuditLog(self.engine, self.metrics, key=self.settings.audit_secret(),
                                checkpoints=audit_checkpointer(self.settings))

    @cached_property
    def pushes(self) -> IngestService | None:
        """Departments' pushed batches (``api.ingest``): only with settings."""
        return self.ingest if self.configured else None

    @cached_property
    def gazetteer(self) -> GazetteerService:
        return GazetteerService(self.engine, acknowledged_publisher(self.events_broker, self.settings.places_topic),
                                self.audit)

    @cached_property
    def objections(self) -> ObjectionService:
        send = acknowledged_batch_publisher(self.events_broker, self.settings.objections_topic)

        def publish(events: Sequence[tuple[str, BaseModel]]) -> None:
            try:
                send(events)
            except Unavailable:
                raise
            except Exception as exc:  # the broker did not acknowledge: nothing was applied
                raise Unavailable("objections need Kafka (the objections topic), which did not answer") from exc

        return ObjectionService(self.objection_store, publish, self.audit,
                                digest_key=self.settings.id_hash_key.get_secret_value(), grants=self.grants)

    @cached_property
    def pull_holds(self) -> PullHoldService:
        def send_held_ends(source: str, records: Sequence[HeldRecord], note: str) -> int:
            if not self.configured:
                raise Unavailable("accepting held ends needs Kafka and the mapping files: start the service with "
                                  "its settings")
            return held_end_sender(self.settings, self.engine)(source, records, note)

        return PullHoldService(PullHolds(self.engine), unavailable_when_down(send_held_ends), self.audit)

    def restandardiser(self) -> RestandardiseService:
        if not self.configured:
            raise Unavailable("re-standardising needs Kafka and the mapping files: start the service with its settings")
        return self.restandardise

    @cached_property
    def planning(self) -> PlanningService:
        return PlanningService(self.engine, self.audit, objections=self.objection_store, grants=self.grants,
                               ingest=self.pushes)

    # -- read models ---------------------------------------------------------------------------------
    @cached_property
    def queries(self) -> ResidentQueries:
        return ResidentQueries(self.engine, id_hash_key=self.settings.id_hash_key.get_secret_value(),
                               grants=self.grants, audit=self.audit,
                               resolver_engine=companion_engine(self.engine, "resolver"),
                               objections=self.objection_store)

    @cached_property
    def stewarding(self) -> StewardingService:
        """A steward's decisions, published at once when Kafka answers, else left in the outbox for the
        workers (the API does not fail a decision for an absent broker; the CLI's does)."""
        return StewardingService(self.resolver_state, self.pipeline.publish, self.audit)

    @cached_property
    def pipeline(self) -> PipelineViews:
        from datetime import timedelta

        settings = self.settings
        return PipelineViews(self.engine, self.kafka_bootstrap, deadletter_topic=settings.deadletter_topic,
                             profile_events_topic=settings.profile_events_topic,
                             samples=PipelineSamples(self.engine,
                                                     retention=timedelta(days=settings.health_retention_days)),
                             sample_seconds=settings.health_sample_seconds)

    @cached_property
    def quality(self) -> QualityViews:
        return QualityViews(self.engine, self.settings.data_dir, self.audit)

    @cached_property
    def ledger(self) -> SourceRecordLedger:
        return SourceRecordLedger(self.engine)

    @cached_property
    def dead_letters(self) -> DeadLetterService:
        configured = self.configured
        return DeadLetterService(self.engine, self.pipeline.read_dead_letters, self.audit,
                                 settings=self.settings if configured else None,
                                 kafka=self.kafka_bootstrap if configured else None,
                                 mappings=self.mappings if configured else None)

    def mapping_specs(self) -> dict[str, ConnectorSpec]:
        return self.mappings() if self.settings.mappings_dir.is_dir() else {}

    @cached_property
    def workbench(self) -> Workbench:
        return Workbench(self.mapping_specs, self.mapping_check, self.restandardiser)

    @cached_property
    def scorecards(self) -> ScorecardService:
        return ScorecardService(self.engine, self.objection_store, self.audit, self.dead_letters.facts)

    @cached_property
    def access_report(self) -> AccessReportService:
        def department_of(user_id: str) -> str | None:
            found = self.users.principal(user_id)
            return found.department if found is not None else None

        return AccessReportService(self.engine, self.audit, self.audit, department_of)


def create_app(hub: Hub | Engine, sources: list[str] | None = None, settings: Settings | None = None) -> FastAPI:
    """The query service on ``hub``'s object graph (as a :class:`QueryServiceHub`).

    The older form ``create_app(engine, sources, settings)`` builds that hub from them: with
    ``settings``, departments can also push batches (``api.ingest``, ``services.ingest``) and stewards'
    decisions are published to Kafka at once; without, the app reads the store with default settings."""
    if isinstance(hub, Hub):
        if sources is not None or settings is not None:
            raise TypeError("create_app(hub) takes its sources and settings from the hub")
        graph = QueryServiceHub.of(hub)
    else:
        graph = QueryServiceHub(settings, engine=hub, sources=sources)
    effective = graph.settings
    refuse_default_keys(effective, effective.api_host)  # also when started without the CLI
    engine = graph.engine
    ingest = graph.pushes

    sampler: list[HealthSampler] = []

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Pipeline health over time: a sample every interval, in a thread of this process.
        sampler.append(HealthSampler(pipeline, effective.health_sample_seconds))
        sampler[0].start()
        try:
            yield
        finally:
            sampler.pop().stop()
            graph.close()  # the ingest service's clients; the last checkpoint of the audit chain

    # No Swagger UI or ReDoc: FastAPI's pages load their scripts from a CDN onto the console's origin,
    # and no installed package ships them to serve locally. /openapi.json stays; /docs lists the
    # routes from it as a plain page (no script), see api_docs below.
    app = FastAPI(title="OnceOnly query service", version=__version__, lifespan=lifespan, docs_url=None,
                  redoc_url=None,
                  description="Residents' profiles for community workers, stewards and departments: "
                              "masked by default, scoped by role, every read audited.")
    errors.install(app)
    ledger = graph.ledger
    if ingest is not None:
        app.include_router(ingest_router(ingest))

    users = graph.users
    service_metrics = graph.metrics
    audit = graph.audit
    # Secure cookies unless told otherwise: over https always; over http only on loopback (the tests,
    # make demo), since a non-loopback bind is expected behind a TLS proxy.
    secure = effective.cookie_secure == "always" or (effective.cookie_secure == "auto"
                                                     and not is_loopback(effective.api_host))
    sessions = Sessions(session_secret(effective.session_key.get_secret_value()))  # its own key (ONCEONLY_SESSION_KEY)
    auth = Authenticator(users, sessions, secure_cookies=secure, throttle=LoginThrottle(LoginFailures(engine)))
    queries = graph.queries
    pipeline = graph.pipeline
    app.include_router(metrics_router(effective, service_metrics, pipeline))
    quality = graph.quality
    dead_letters = graph.dead_letters
    user_admin = graph.user_admin
    app.include_router(v1_router(queries, pipeline, graph.stewarding, audit, auth.required, quality,
                                 dead_letter_service=dead_letters))
    app.include_router(admin_router(user_admin, auth.required))

    from api.console import console_router

    app.include_router(console_router(queries, pipeline, graph.stewarding, audit, users, auth, quality=quality,
                                      dead_letter_service=dead_letters, user_admin=user_admin))
    from api.planner import include_planner

    include_planner(app, graph.planning, auth.required)
    from api.places import places_console_router, places_router

    app.include_router(places_router(graph.gazetteer, auth.required))
    app.include_router(places_console_router(graph.gazetteer, auth.required))
    from api.objections import objections_console_router, objections_router

    app.include_router(objections_router(graph.objections, auth.required))
    app.include_router(objections_console_router(graph.objections, auth.required))
    app.state.objections = graph.objections
    from api.pull_holds import pull_holds_console_router, pull_holds_router

    app.include_router(pull_holds_router(graph.pull_holds, auth.required))
    app.include_router(pull_holds_console_router(graph.pull_holds, auth.required))
    from api.mapping_workbench import mapping_workbench_console_router, mapping_workbench_router

    app.include_router(mapping_workbench_router(graph.workbench, auth.required))
    app.include_router(mapping_workbench_console_router(graph.workbench, auth.required))
    from api.access_report import access_report_router
    from api.scorecards import scorecards_console_router, scorecards_router

    app.include_router(scorecards_router(graph.scorecards, auth.required))
    app.include_router(scorecards_console_router(graph.scorecards, auth.required))
    app.include_router(access_report_router(graph.access_report, auth.required))
    app.state.users, app.state.audit, app.state.hub = users, audit, graph

    @app.get("/health", tags=["operations"])
    def health() -> LivenessOut:
        """Liveness and store reachability, for container healthchecks."""
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise HTTPException(status_code=503, detail="profile store unreachable") from exc
        return LivenessOut(status="ok", version=__version__)

    topics_document: list[dict[str, Any]] = []

    @app.get("/asyncapi.json", include_in_schema=False)
    def asyncapi_json() -> dict[str, Any]:
        """The AsyncAPI 3.0 description of this deployment's topics (its prefix, partitions and mappings);
        ``docs/asyncapi.json`` is the repository's reference one. Built on first request, then kept."""
        if not topics_document:
            from onceonly.asyncapi import asyncapi_document

            topics_document.append(asyncapi_document(effective))
        return topics_document[0]

    @app.get("/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        """The routes of /openapi.json as one page, without Swagger UI (it would load a CDN's script)."""
        from html import escape

        rows = "".join(
            f"<tr><td>{escape(method.upper())}</td><td><code>{escape(path)}</code></td>"
            f"<td>{escape(', '.join(op.get('tags', [])))}</td><td>{escape(op.get('summary', ''))}</td></tr>"
            for path, ops in app.openapi().get("paths", {}).items() for method, op in ops.items())
        return HTMLResponse(f"<!doctype html><html lang='en'><meta charset='utf-8'><title>{escape(app.title)}</title>"
                            f"<body><h1>{escape(app.title)} {escape(app.version)}</h1><p>The machine-readable "
                            "schema: <a href='/openapi.json'>/openapi.json</a> (load it into any OpenAPI client). "
                            "The Kafka topics, their keys, messages, senders and receivers: "
                            "<a href='/asyncapi.json'>/asyncapi.json</a> (AsyncAPI 3.0)."
                            "</p><table><tr><th>method</th><th>path</th><th>tags</th><th>summary</th></tr>"
                            f"{rows}</table></body></html>")

    @app.get("/api/v1/sources", tags=["stewards"], dependencies=[Depends(auth.required)])
    def source_counts() -> dict[str, int]:
        """Source-record versions held per department source."""
        return {source: ledger.count(source) for source in graph.sources}

    from api.mapping_workbench import UPLOAD_PATHS as MAPPING_UPLOAD_PATHS
    from api.planner import MAX_UPLOAD_BYTES
    from api.security import MAX_BODY_BYTES, RequestGuard

    upload = MAX_UPLOAD_BYTES + 256 * 1024  # the workbook and its multipart envelope
    app.add_middleware(RequestGuard, auth=auth, max_body=MAX_BODY_BYTES,
                       limits=[("/api/v1/ingest/", INGEST_BODY_BYTES), ("/api/v1/planner/answers", upload),
                               ("/console/planner/answers", upload),
                               *((prefix, upload) for prefix in MAPPING_UPLOAD_PATHS)])
    app.add_middleware(RouteTimer, metrics=service_metrics)  # outermost: refused requests are timed too
    app.state.metrics = service_metrics
    return app
