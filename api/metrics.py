"""The query service's Prometheus endpoint and what feeds it: request latency per route template, the
audit log's append latency, and the pipeline-health gauges read from the newest health sample (the
numbers the 运行状况 page draws), so the dashboard and the steward's page agree.

``GET /metrics`` holds counts and durations only, labelled with route templates (never a raw path,
which could carry a profile id), stages, sources and topics. It is still operational detail, so:
with ``ONCEONLY_METRICS_TOKEN`` set it answers only that bearer token; without, only when the service
is bound to loopback (a developer's machine, the tests), else 404.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from api.security import ASGIApp, Message, Receive, Scope, Send
from core.access import Principal
from metrics.definitions import ServiceMetrics, health_families
from onceonly.settings import Settings, is_loopback
from services.pipeline import PipelineViews
from store.audit import AuditEntry, AuditLog

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RouteTimer:
    """Times every HTTP request by the template of the route that answered it (pure ASGI)."""

    def __init__(self, app: ASGIApp, *, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]  # an exception that escapes every handler is answered 500 by the server

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.requests.labels(route_template(scope), _method(scope), str(status[0])).observe(
                time.perf_counter() - start)


def route_template(scope: MutableMapping[str, Any]) -> str:
    """The path template of the route the router chose (``/api/v1/residents/{profile_id}``), or
    ``unmatched``: a path no route knows (or one refused before routing) is not a label."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else "unmatched"


def _method(scope: MutableMapping[str, Any]) -> str:
    method = str(scope.get("method", ""))
    return method if method in METHODS else "other"  # a client's invented method is not a new series


class MeasuredAuditLog(AuditLog):
    """The audit log, timing each append from queued to committed (group commit included)."""

    def __init__(self, engine: Any, metrics: ServiceMetrics, **options: Any) -> None:
        super().__init__(engine, **options)  # the audit key and checkpointer (store.audit.AuditLog)
        self._appended = metrics.audit_append

    def append(self, principal: Principal, action: str, purpose: str, residents: Sequence[str],
               fields: Sequence[str]) -> AuditEntry:
        start = time.perf_counter()
        try:
            return super().append(principal, action, purpose, residents, fields)
        finally:
            self._appended.observe(time.perf_counter() - start)


class PipelineHealthCollector(Collector):
    """Gauges from the newest pipeline-health sample: the query service's sampler writes one every
    ``ONCEONLY_HEALTH_SAMPLE_SECONDS``, so a scrape costs one row read, never a Kafka round trip."""

    def __init__(self, pipeline: PipelineViews) -> None:
        self.pipeline = pipeline

    def collect(self) -> Iterator[Metric]:
        try:
            sample = self.pipeline.latest()
        except Exception:  # the store is away: /metrics still answers the request metrics
            return
        if sample is not None:
            yield from health_families(sample.sample, sample.taken_at)


def metrics_router(settings: Settings, service: ServiceMetrics, pipeline: PipelineViews) -> APIRouter:
    router = APIRouter()
    health = PipelineHealthCollector(pipeline)
    service.registry.register(health)
    token = settings.metrics_token.get_secret_value()
    open_on_loopback = not token and is_loopback(settings.api_host)

    @router.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        """Prometheus text format: request and audit latencies, pipeline-health gauges."""
        if not open_on_loopback:
            if not token:
                raise HTTPException(404, "metrics are served off loopback only with ONCEONLY_METRICS_TOKEN set")
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                raise HTTPException(401, "metrics need the metrics bearer token", headers={"WWW-Authenticate": "Bearer"})
        return Response(generate_latest(_registry(service, health)), media_type=CONTENT_TYPE_LATEST)

    return router


def _registry(service: ServiceMetrics, health: PipelineHealthCollector) -> CollectorRegistry:
    """This process's registry; under ``onceonly serve --workers N`` (prometheus-client's multiprocess
    mode, ``PROMETHEUS_MULTIPROC_DIR`` set by ``serve``) every process's request metrics, merged."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return service.registry
    from prometheus_client import multiprocess

    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged, path=folder)  # type: ignore[no-untyped-call]
    merged.register(health)
    return merged
