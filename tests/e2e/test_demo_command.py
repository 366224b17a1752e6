"""The README's demo command, as a person runs it: start, look, Ctrl-C, nothing left behind.

A smaller district than the default (same code path, a shorter wait); the default's wall time is
measured by hand (see the README).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from tests.helpers import cli

pytestmark = pytest.mark.kafka

SOURCES = {"public_security", "social_security", "civil_affairs", "housing", "community", "grid_centre"}
COUNT_ROW = re.compile(r"│ (\w+)\s+│\s+([\d,]+) │\s+([\d,]+) │\s+([\d,]+) │\s+([\d,]+) │\s+([✓✗]) │")


def _processes_under(path: Path) -> list[str]:
    """Processes started for ``path``: it is in their command line or their environment (the
    workers and the query service only know it from ONCEONLY_DATA_DIR)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (proc / "environ").read_bytes().decode(errors="replace")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if str(path) in cmdline or str(path) in environ:
            found.append(f"{proc.name} {cmdline.strip()}")
    return found


def _stop(demo: subprocess.Popen[str]) -> None:
    demo.send_signal(signal.SIGINT)
    try:
        demo.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        demo.kill()
        demo.communicate()


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def test_demo_runs_the_main_job_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONCEONLY_")}
    env.update(ONCEONLY_DATA_DIR=str(tmp_path), COLUMNS="200")
    demo = subprocess.Popen(cli("demo", "--residents", "400"), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    # a demo that never gets up is interrupted, so reading its output ends
    watchdog = threading.Timer(600, demo.send_signal, args=(signal.SIGINT,))
    watchdog.start()
    try:
        assert demo.stdout is not None
        seen: list[str] = []
        for line in demo.stdout:
            seen.append(line)
            if "press Ctrl-C" in line:
                break
        watchdog.cancel()
        output = "".join(seen)
        assert "press Ctrl-C" in output, output

        # every source collected through its connector (or pushed), and each count adds up
        rows = {m[1]: [_number(n) for n in m.groups()[1:5]] for m in COUNT_ROW.finditer(output)}
        marks = {m[1]: m[6] for m in COUNT_ROW.finditer(output)}
        assert set(rows) == SOURCES | {"total"}, output
        for source, (read, events, unchanged, dead) in rows.items():
            assert read == events + unchanged + dead and marks[source] == "✓", (source, rows[source])
            assert events > 0, source
        assert [sum(r[i] for s, r in rows.items() if s != "total") for i in range(4)] == rows["total"]
        assert rows["total"][3] > 0, "the deliberately bad rows should show as dead letters"

        # trained before resolving; every record linked into profiles
        assert "matcher trained before resolution" in output
        profiles = re.search(r"│ profiles\s+│\s+([\d,]+) │", output)
        linked = re.search(r"│ records linked\s+│\s+([\d,]+) │", output)
        assert profiles and _number(profiles[1]) > 0, output
        assert linked and 0 < _number(linked[1]) <= rows["total"][1], output
        assert re.search(r"│ dead letters \(topic\)\s+│\s+[\d,]+ │", output)
        assert "/docs" in output

        # pulling again: rows read, nothing sent
        repull = re.search(r"public_security: read (\d+), events (\d+), unchanged (\d+)", output)
        assert repull and int(repull[1]) > 0 and int(repull[2]) == 0 and int(repull[3]) == int(repull[1]), output

        # the flows are served on schedule by a Prefect server, and one validate-and-publish ran
        served = re.search(r"(\d+) Prefect deployments served on schedule", output)
        assert served and int(served[1]) == 8, output  # ingest ×5 (pulled sources), publish, train, verify
        assert re.search(r"ingest/ingest-housing\s+\*/5 \* \* \* \*", output), output
        assert re.search(r"flow run validate-and-publish \([\w-]+\): COMPLETED", output), output
        prefect_ui = re.search(r"Prefect UI\s+(http://127\.0\.0\.1:\d+)", output)
        assert prefect_ui, output
        runs = httpx.post(f"{prefect_ui[1]}/api/flow_runs/filter", json={}, timeout=10).json()
        assert any(r["state"]["type"] == "COMPLETED" for r in runs), runs
        docs = re.search(r"Data Docs\s+(\S+index\.html)", output)
        assert docs and Path(docs[1]).is_file(), output

        # each community worker's scope holds the residents who live there (the district's truth)
        for worker in ("worker_qinhong", "worker_zhanyuan", "grid_qinhong_2"):
            scoped = re.search(rf"│ {worker}\s+│[^\n]*│\s+([\d,]+) \(([\d,]+)\)\s+│", output)
            assert scoped, output
            held, truth = _number(scoped[1]), _number(scoped[2])
            assert abs(held - truth) <= max(1, truth // 20), (worker, held, truth)
            assert truth > 0 or worker.startswith("grid_"), (worker, truth)  # 400 residents may leave a grid empty

        # the console is up with the seeded users
        console_url = re.search(r"web console\s+(http://127\.0\.0\.1:\d+)/console", output)
        assert console_url and "worker_qinhong" in output and "onceonly-demo" in output, output
        with httpx.Client(base_url=console_url[1], timeout=30, follow_redirects=True) as client:
            token = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/login").text)
            assert token, "the login form carries no CSRF token"
            login = client.post("/console/login", data={"username": "steward", "password": "onceonly-demo",
                                                        "csrf": token[1]})
            assert login.status_code == 200 and "退出" in login.text, login.text[:500]
            # the demo worker's objections (数据异议) are on the stewards' page, sent to their departments
            objections = client.get("/console/objections")
            assert objections.status_code == 200 and objections.text.count('class="objection') >= 2, objections.text[:500]
        assert "Objections raised by worker_qinhong" in output, output

        running = [p for p in _processes_under(tmp_path) if not p.startswith(f"{demo.pid} ")]
        assert len(running) >= 6, f"broker, two workers, query service, Prefect server and flows should be up: {running}"
    except BaseException:
        watchdog.cancel()
        _stop(demo)  # a failed assertion must not leave the stack running
        raise

    demo.send_signal(signal.SIGINT)
    rest, _ = demo.communicate(timeout=120)
    assert demo.returncode == 0, rest
    assert "Stopped: workers, flows, Prefect server, query service, department systems and broker are down." in rest
    assert _processes_under(tmp_path) == []
