"""A stream worker's ``/metrics`` (``ONCEONLY_METRICS_PORT``), held to the same rule as the query
service's (``api.metrics``): with ``ONCEONLY_METRICS_TOKEN`` set it answers only that bearer token
(compared in constant time); without one, only while bound to loopback (404 elsewhere)."""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from onceonly.settings import is_loopback

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No line per scrape on stderr: the worker logs through the hub's redacting handler."""


def guarded(app: WSGIApp, *, token: str, host: str) -> WSGIApp:
    """``app`` behind the metrics rule for a server bound to ``host``."""
    open_on_loopback = not token and is_loopback(host)
    expected = f"Bearer {token}".encode()

    def answer(status: str, text: str, start_response: StartResponse, *extra: tuple[str, str]) -> list[bytes]:
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"), *extra])
        return [text.encode()]

    def checked(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if not open_on_loopback:
            if not token:
                return answer("404 Not Found", "metrics are served off loopback only with ONCEONLY_METRICS_TOKEN set\n",
                              start_response)
            given = str(environ.get("HTTP_AUTHORIZATION", "")).encode()
            if not hmac.compare_digest(given, expected):
                return answer("401 Unauthorized", "metrics need the metrics bearer token\n", start_response,
                              ("WWW-Authenticate", "Bearer"))
        return app(environ, start_response)

    return checked


def start_worker_metrics(registry: CollectorRegistry, *, host: str, port: int,
                         token: str) -> tuple[WSGIServer, threading.Thread]:
    """Serve ``registry`` on ``host:port`` in a daemon thread (port 0: any free port, see
    ``server.server_port``); stop it with ``server.shutdown()``."""
    server = make_server(host, port, guarded(make_wsgi_app(registry), token=token, host=host),
                         server_class=_ThreadingServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True)
    thread.start()
    return server, thread
