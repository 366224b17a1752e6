"""The demo's Prefect REST calls ride out a busy server (503 while its SQLite database is locked)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from localinfra.prefect_server import PrefectServer


class _Busy(BaseHTTPRequestHandler):
    """Answers 503 to the first ``busy`` POSTs, then a flow run; 500 is never retried."""

    busy = 2
    seen: list[str] = []

    def do_POST(self) -> None:
        type(self).seen.append(self.path)
        if self.path.endswith("/broken"):
            self._answer(500, {"detail": "boom"})
        elif type(self).busy > 0:
            type(self).busy -= 1
            self._answer(503, {"detail": "database is locked"})
        else:
            self._answer(201, {"id": "run-1"})

    def _answer(self, status: int, body: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def busy_server(tmp_path: Path) -> Iterator[PrefectServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Busy)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Busy.busy, _Busy.seen = 2, []
    try:
        yield PrefectServer(tmp_path, port=httpd.server_address[1])
    finally:
        httpd.shutdown()


def test_a_busy_server_is_asked_again_until_it_answers(busy_server: PrefectServer) -> None:
    assert busy_server.run_now("dep-1") == "run-1"
    assert _Busy.seen == ["/api/deployments/dep-1/create_flow_run"] * 3  # two 503s, then the run


def test_a_server_error_that_is_not_busyness_fails_at_once(busy_server: PrefectServer) -> None:
    with pytest.raises(httpx.HTTPStatusError, match="500"):
        busy_server._post("/broken", {})
    assert _Busy.seen == ["/api/broken"]
