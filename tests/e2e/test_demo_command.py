"""The README's demo command, as a person runs it: start, look, Ctrl-C, nothing left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import cli

pytestmark = pytest.mark.kafka


def _processes_under(path: Path) -> str:
    return subprocess.run(["pgrep", "-af", str(path)], capture_output=True, text=True).stdout.strip()


def test_demo_runs_the_first_thread_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONCEONLY_")}
    env["ONCEONLY_DATA_DIR"] = str(tmp_path)
    demo = subprocess.Popen(cli("demo"), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert demo.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + 240
    for line in demo.stdout:
        seen.append(line)
        if "press Ctrl-C" in line or time.monotonic() > deadline:
            break
    output = "".join(seen)
    assert "press Ctrl-C" in output, output
    assert "civil_affairs: read 5 = 4 events + 0 unchanged + 1 dead letters" in output
    assert "civil_affairs   │        4" in output  # the worker projected all four into SQLite
    assert _processes_under(tmp_path), "broker and worker should be running while the demo is up"

    demo.send_signal(signal.SIGINT)
    rest, _ = demo.communicate(timeout=90)
    assert demo.returncode == 0, rest
    assert "Stopped: worker and broker are down." in rest
    assert _processes_under(tmp_path) == ""
