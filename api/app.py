"""The FastAPI application, built from settings by one function."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from api import errors
from api.admin import UserAdmin, admin_router
from api.auth import Authenticator, LoginThrottle, Sessions, session_secret
from api.ingest import MAX_BODY_BYTES as INGEST_BODY_BYTES
from api.ingest import ingest_router
from api.metrics import MeasuredAuditLog, RouteTimer, metrics_router
from api.pipeline import HealthSampler, PipelineViews
from api.quality import QualityViews
from api.queries import ResidentQueries, Unavailable
from api.responses import LivenessOut
from api.v1 import v1_router
from connectors.kafka_sink import acknowledged_batch_publisher, acknowledged_publisher
from metrics.definitions import ServiceMetrics
from onceonly import __version__
from onceonly.bootstrap import access_grants as load_grants
from onceonly.bootstrap import audit_checkpointer, ingest_service
from onceonly.settings import Settings, is_loopback, refuse_default_keys
from services.dead_letters import DeadLetterService
from store.audit import AuditLog
from store.auth_tables import UserStore
from store.engine import companion_engine
from store.ledger import SourceRecordLedger
from store.login_failures import LoginFailures
from store.objections import ObjectionStore
from store.pipeline_samples import PipelineSamples
from store.resolver_state import ResolverState


def create_app(engine: Engine, sources: list[str], settings: Settings | None = None) -> FastAPI:
    """With ``settings``, departments can also push batches (``api.ingest``, ``services.ingest``) and
    stewards' decisions are published to Kafka at once; without, the app reads the store with default
    settings."""
    ingest = ingest_service(settings, engine) if settings is not None else None
    effective = settings if settings is not None else Settings()
    refuse_default_keys(effective, effective.api_host)  # also when started without the CLI
    key = effective.id_hash_key.get_secret_value()

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
            if ingest is not None:
                ingest.close()
            audit.close()  # the last checkpoint of the audit chain

    # No Swagger UI or ReDoc: FastAPI's pages load their scripts from a CDN onto the console's origin,
    # and no installed package ships them to serve locally. /openapi.json stays; /docs lists the
    # routes from it as a plain page (no script), see api_docs below.
    app = FastAPI(title="OnceOnly query service", version=__version__, lifespan=lifespan, docs_url=None,
                  redoc_url=None,
                  description="Residents' profiles for community workers, stewards and departments: "
                              "masked by default, scoped by role, every read audited.")
    errors.install(app)
    ledger = SourceRecordLedger(engine)
    if ingest is not None:
        app.include_router(ingest_router(ingest))

    users = UserStore(engine, token_lifetime=timedelta(days=effective.token_days))
    service_metrics = ServiceMetrics()  # this app's registry: GET /metrics
    audit: AuditLog = MeasuredAuditLog(engine, service_metrics, key=effective.audit_secret(),
                                       checkpoints=audit_checkpointer(effective))
    # Secure cookies unless told otherwise: over https always; over http only on loopback (the tests,
    # make demo), since a non-loopback bind is expected behind a TLS proxy.
    secure = effective.cookie_secure == "always" or (effective.cookie_secure == "auto"
                                                     and not is_loopback(effective.api_host))
    sessions = Sessions(session_secret(effective.session_key.get_secret_value()))  # its own key (ONCEONLY_SESSION_KEY)
    auth = Authenticator(users, sessions, secure_cookies=secure, throttle=LoginThrottle(LoginFailures(engine)))
    objection_store = ObjectionStore(engine)
    grants = load_grants()
    queries = ResidentQueries(engine, id_hash_key=key, grants=grants, audit=audit,
                              resolver_engine=companion_engine(engine, "resolver"), objections=objection_store)

    def kafka() -> str:
        if settings is None:
            raise LookupError("no settings: Kafka not configured")
        from onceonly import bootstrap

        return bootstrap.kafka_bootstrap(settings)

    pipeline = PipelineViews(engine, kafka, deadletter_topic=effective.deadletter_topic,
                             profile_events_topic=effective.profile_events_topic,
                             samples=PipelineSamples(engine, retention=timedelta(days=effective.health_retention_days)),
                             sample_seconds=effective.health_sample_seconds)
    app.include_router(metrics_router(effective, service_metrics, pipeline))
    resolver = ResolverState(companion_engine(engine, "resolver"))
    quality = QualityViews(engine, effective.data_dir)

    def mapping_files() -> dict[str, Any]:
        from onceonly import bootstrap

        assert settings is not None
        return bootstrap.mappings(settings)

    dead_letters = DeadLetterService(engine, pipeline.read_dead_letters, audit, settings=settings,
                                     kafka=kafka if settings is not None else None,
                                     mappings=mapping_files if settings is not None else None)
    user_admin = UserAdmin(users, audit, min_password_length=effective.min_password_length)
    app.include_router(v1_router(queries, pipeline, resolver, audit, auth.required, quality,
                                 dead_letter_service=dead_letters))
    app.include_router(admin_router(user_admin, auth.required))

    from api.console import console_router

    app.include_router(console_router(queries, pipeline, resolver, audit, users, auth, quality=quality,
                                      dead_letter_service=dead_letters, user_admin=user_admin))
    from api.planner import include_planner
    from services.planning import PlanningService

    include_planner(app, PlanningService(engine, audit, objections=objection_store, grants=grants, ingest=ingest),
                    auth.required)
    from api.places import places_console_router, places_router
    from services.gazetteer import GazetteerService

    def events_broker() -> str:
        try:
            return kafka()
        except Exception as exc:
            raise Unavailable("this needs Kafka (corrections, objections): start the service with its settings") from exc

    gazetteer = GazetteerService(engine, acknowledged_publisher(events_broker, effective.places_topic), audit)
    app.include_router(places_router(gazetteer, auth.required))
    app.include_router(places_console_router(gazetteer, auth.required))
    from api.objections import objections_console_router, objections_router
    from services.objections import ObjectionService

    send_objections = acknowledged_batch_publisher(events_broker, effective.objections_topic)

    def publish_objections(events: Sequence[tuple[str, BaseModel]]) -> None:
        try:
            send_objections(events)
        except Unavailable:
            raise
        except Exception as exc:  # the broker did not acknowledge: nothing was applied
            raise Unavailable("objections need Kafka (the objections topic), which did not answer") from exc

    objection_service = ObjectionService(objection_store, publish_objections, audit, digest_key=key, grants=grants)
    app.include_router(objections_router(objection_service, auth.required))
    app.include_router(objections_console_router(objection_service, auth.required))
    app.state.objections = objection_service
    from api.pull_holds import pull_holds_console_router, pull_holds_router, unavailable_when_down
    from services.pull_holds import PullHoldService
    from store.pull_holds import PullHolds

    def send_held_ends(source: str, records: Sequence[Any], note: str) -> int:
        if settings is None:
            raise Unavailable("accepting held ends needs Kafka and the mapping files: start the service with its settings")
        from onceonly import bootstrap

        return bootstrap.held_end_sender(settings, engine)(source, records, note)

    pull_holds = PullHoldService(PullHolds(engine), unavailable_when_down(send_held_ends), audit)
    app.include_router(pull_holds_router(pull_holds, auth.required))
    app.include_router(pull_holds_console_router(pull_holds, auth.required))
    from api.mapping_workbench import Workbench, mapping_workbench_console_router, mapping_workbench_router
    from services.mapping_check import MappingCheckService

    def restandardiser() -> Any:
        if settings is None:
            raise Unavailable("re-standardising needs Kafka and the mapping files: start the service with its settings")
        from onceonly import bootstrap

        return bootstrap.restandardise_service(settings, audit)

    def mapping_specs() -> dict[str, Any]:
        from onceonly import bootstrap

        return bootstrap.mappings(effective) if effective.mappings_dir.is_dir() else {}

    workbench = Workbench(mapping_specs, MappingCheckService(audit), restandardiser)
    app.include_router(mapping_workbench_router(workbench, auth.required))
    app.include_router(mapping_workbench_console_router(workbench, auth.required))
    from api.access_report import access_report_router
    from services.access_report import AccessReportService

    def department_of(user_id: str) -> str | None:
        found = users.principal(user_id)
        return found.department if found is not None else None

    from api.scorecards import scorecards_console_router, scorecards_router
    from services.scorecards import ScorecardService

    cards = ScorecardService(engine, objection_store, audit, dead_letters.facts)
    app.include_router(scorecards_router(cards, auth.required))
    app.include_router(scorecards_console_router(cards, auth.required))
    app.include_router(access_report_router(AccessReportService(engine, audit, audit, department_of), auth.required))
    app.state.users, app.state.audit = users, audit

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
        return {source: ledger.count(source) for source in sources}

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
