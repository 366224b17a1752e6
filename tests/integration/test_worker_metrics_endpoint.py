"""A stream worker's /metrics (``ONCEONLY_METRICS_PORT``, started by ``onceonly worker``) is held to
the query service's rule: ``ONCEONLY_METRICS_TOKEN`` as a bearer token, or, without one, loopback only.
A real HTTP server on a real port, scraped over the network stack."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from metrics.definitions import WorkerMetrics
from metrics.worker_endpoint import start_worker_metrics

TOKEN = "worker-scrape-token"


@contextmanager
def _serving(host: str, token: str) -> Iterator[str]:
    worker = WorkerMetrics()
    worker.records_in.labels(stage="standardise").inc(3)
    server, thread = start_worker_metrics(worker.registry, host=host, port=0, token=token)
    try:
        yield f"http://127.0.0.1:{server.server_port}/metrics"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_off_loopback_a_workers_metrics_answer_only_the_bearer_token() -> None:
    with _serving("0.0.0.0", TOKEN) as url:  # as compose binds it: reachable from the network
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
        answered = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
        assert answered.status_code == 200 and 'onceonly_stage_records_in_total{stage="standardise"} 3.0' in answered.text
    with _serving("0.0.0.0", "") as url:  # no token configured: not served at all
        closed = httpx.get(url)
        assert closed.status_code == 404 and "onceonly_" not in closed.text


def test_on_loopback_without_a_token_a_workers_metrics_are_open() -> None:
    with _serving("127.0.0.1", "") as url:
        assert httpx.get(url).status_code == 200
    with _serving("127.0.0.1", TOKEN) as url:  # a token, once set, is asked for everywhere
        assert httpx.get(url).status_code == 401
