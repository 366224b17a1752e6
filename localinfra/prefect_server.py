"""A Prefect server (API + UI, SQLite under ``home``) as a child process on loopback, and the few
REST calls the demo needs: list deployments, start a run now, wait for its end.

The REST calls use httpx rather than Prefect's client so that this process does not have to
import Prefect (and configure it through process-wide environment variables).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from localinfra.processes import free_port, spawn, stop, wait_until

TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
RETRIED = {429, 502, 503}


def prefect_env(home: Path, api_url: str) -> dict[str, str]:
    """What a process needs to talk to this server (and keep its own state under ``home``)."""
    return {"PREFECT_HOME": str(home), "PREFECT_API_URL": api_url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # no telemetry calls from a machine without internet
            "PREFECT_LOGGING_LEVEL": "INFO"}


@dataclass
class PrefectServer:
    home: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.ui_url}/api"

    @property
    def log_path(self) -> Path:
        return self.home / "server.log"

    def env(self) -> dict[str, str]:
        return prefect_env(self.home, self.api_url)

    def start(self) -> None:
        """Start without waiting (it takes ~15 s); :meth:`wait_ready` waits."""
        self.home.mkdir(parents=True, exist_ok=True)
        prefect = Path(sys.executable).with_name("prefect")
        argv = [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = spawn(argv, self.log_path, env={**os.environ, **self.env()})

    def wait_ready(self, timeout: float = 180) -> None:
        wait_until(self._healthy, timeout=timeout, what="the Prefect server", proc=self.proc, log_path=self.log_path)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None

    # -- the REST calls ---------------------------------------------------------------------------
    def deployments(self) -> list[dict[str, Any]]:
        """Every deployment with its flow's name and schedules."""
        flows = {f["id"]: f["name"] for f in self._post("/flows/filter", {})}
        found = self._post("/deployments/filter", {})
        return [{**d, "flow_name": flows.get(d["flow_id"], "?")} for d in found]

    def run_now(self, deployment_id: str) -> str:
        """Schedule a run of ``deployment_id`` for now; the serving process picks it up."""
        return str(self._post(f"/deployments/{deployment_id}/create_flow_run", {})["id"])

    def wait_for_run(self, run_id: str, timeout: float = 600) -> dict[str, Any]:
        """The run once it reached a terminal state (or the last seen state when time ran out)."""
        deadline = time.monotonic() + timeout
        while True:
            answer = httpx.get(f"{self.api_url}/flow_runs/{run_id}", timeout=10)
            if answer.status_code in RETRIED and time.monotonic() < deadline:
                time.sleep(1)
                continue
            run = answer.raise_for_status().json()
            if (run.get("state") or {}).get("type") in TERMINAL or time.monotonic() > deadline:
                return dict(run)
            time.sleep(1)

    def _post(self, path: str, body: dict[str, Any], *, patience: float = 120) -> Any:
        """POST, retried with backoff while the server answers 429/502/503 (its SQLite database is
        busy while deployments register and the scheduler inserts runs), as Prefect's own client does."""
        deadline = time.monotonic() + patience
        delay = 0.5
        while True:
            answer = httpx.post(f"{self.api_url}{path}", json=body, timeout=30)
            if answer.status_code not in RETRIED or time.monotonic() + delay > deadline:
                return answer.raise_for_status().json()
            time.sleep(delay)
            delay = min(delay * 2, 8.0)


@contextlib.contextmanager
def prefect_server(home: Path) -> Iterator[PrefectServer]:
    server = PrefectServer(home)
    server.start()
    try:
        yield server
    finally:
        server.stop()
