"""What the console's browser tests share: Debian's Chromium driven by Playwright, a real uvicorn
server for the app, and where screenshots go.

Without the chromium package the tests are skipped on a developer machine; CI (`.ci/run`)
installs it and sets ONCEONLY_REQUIRE_BROWSER=1, which turns a missing browser into a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tests.helpers import PROJECT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = PROJECT / "test-artifacts" / "console"


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright's browser object), closed afterwards."""
    if not Path(CHROMIUM).exists():
        message = "Debian's chromium package is not installed (apt-get install chromium)"
        if os.environ.get("ONCEONLY_REQUIRE_BROWSER") == "1":
            pytest.fail(message)  # CI installs it: a missing browser there is a failure, not a skip
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync"])
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def serve(app: object) -> Iterator[str]:
    """``app`` under a real uvicorn server on a free loopback port, stopped afterwards."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
