"""The web console in a real headless Chromium (Debian's ``chromium``, driven by Playwright): a
community worker searches, opens a profile and unmasks it with a purpose; a steward decides a
review and looks at health and dead letters; an auditor sees who looked. Screenshots of each step
go to ``test-artifacts/console/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from tests.helpers import PROJECT
from tests.integration.api_world import PASSWORD, World, build_world

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = PROJECT / "test-artifacts" / "console"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("console"), tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def base_url(world: World) -> Iterator[str]:
    """The real app under a real uvicorn server on a free loopback port."""
    from api.app import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(world.engine, [], world.settings), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        message = "Debian's chromium package is not installed (apt-get install chromium)"
        if os.environ.get("ONCEONLY_REQUIRE_BROWSER") == "1":
            pytest.fail(message)  # CI installs it: a missing browser there is a failure, not a skip
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync"])
        yield chromium
        chromium.close()


def _login(browser: object, base_url: str, username: str) -> object:
    page = browser.new_context(locale="zh-CN").new_page()  # type: ignore[attr-defined]
    page.goto(f"{base_url}/console/")
    assert page.url.endswith("/console/login")  # not logged in: sent to the login page
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login")
    return page


def test_a_wrong_password_is_refused(browser: object, base_url: str) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(f"{base_url}/console/login")
    page.fill("#username", "worker_a")
    page.fill("#password", "wrong")
    page.click("#login")
    assert "用户名或密码错误" in page.inner_text("#error")
    page.screenshot(path=str(SHOTS / "00-login-refused.png"))


def test_a_community_worker_searches_opens_a_profile_and_unmasks_it_with_a_purpose(
        world: World, browser: object, base_url: str) -> None:
    resident = world.one(world.community_a, with_id=True)
    name = resident.golden.name.value  # type: ignore[union-attr]
    number = resident.golden.id_number.value  # type: ignore[union-attr]
    page = _login(browser, base_url, "worker_a")
    page.fill("#q-name", name)  # type: ignore[attr-defined]
    page.click("#search")  # type: ignore[attr-defined]
    assert name in page.inner_text("#results")  # type: ignore[attr-defined]
    page.screenshot(path=str(SHOTS / "01-worker-search.png"), full_page=True)  # type: ignore[attr-defined]
    page.click(f"a[href='/console/residents/{resident.profile_id}']")  # type: ignore[attr-defined]
    fields = page.inner_text("#fields")  # type: ignore[attr-defined]
    assert number not in fields and number[:6] + "********" + number[-4:] in fields
    assert page.locator("#fields .badge").count() > 0  # type: ignore[attr-defined]  # provenance badges
    assert page.locator("#history tr").count() > 1  # type: ignore[attr-defined]
    page.screenshot(path=str(SHOTS / "02-worker-profile-masked.png"), full_page=True)  # type: ignore[attr-defined]
    page.click("#unmask")  # type: ignore[attr-defined]  # no purpose: refused
    assert "用途" in page.inner_text("#error")  # type: ignore[attr-defined]
    page.fill("#purpose", "入户走访核对身份")  # type: ignore[attr-defined]
    page.click("#unmask")  # type: ignore[attr-defined]
    assert number in page.inner_text("#fields")  # type: ignore[attr-defined]
    page.screenshot(path=str(SHOTS / "03-worker-profile-unmasked.png"), full_page=True)  # type: ignore[attr-defined]
    other = world.one(world.community_b)
    answer = page.goto(f"{base_url}/console/residents/{other.profile_id}")  # type: ignore[attr-defined]
    assert answer.status == 404  # another community's resident does not exist for this worker


def test_a_steward_confirms_a_review_and_watches_the_pipeline(browser: object, base_url: str) -> None:
    page = _login(browser, base_url, "steward")
    page.goto(f"{base_url}/console/reviews")  # type: ignore[attr-defined]
    before = page.inner_text("#pending")  # type: ignore[attr-defined]
    assert page.locator("fieldset.review").count() > 0  # type: ignore[attr-defined]
    page.screenshot(path=str(SHOTS / "04-steward-reviews.png"), full_page=True)  # type: ignore[attr-defined]
    page.locator("fieldset.review").first.locator("button.confirm").first.click()  # type: ignore[attr-defined]
    assert "已确认复核" in page.inner_text("#done")  # type: ignore[attr-defined]
    assert page.inner_text("#pending") != before  # type: ignore[attr-defined]
    page.screenshot(path=str(SHOTS / "05-steward-confirmed.png"), full_page=True)  # type: ignore[attr-defined]
    page.click("text=运行状况")  # type: ignore[attr-defined]
    assert "有效画像" in page.inner_text("#profiles")  # type: ignore[attr-defined]
    page.screenshot(path=str(SHOTS / "06-steward-health.png"), full_page=True)  # type: ignore[attr-defined]
    page.click("text=死信")  # type: ignore[attr-defined]
    assert "Kafka" in page.inner_text("#error")  # type: ignore[attr-defined]  # no broker in this test: said plainly
    page.screenshot(path=str(SHOTS / "07-steward-dead-letters.png"), full_page=True)  # type: ignore[attr-defined]


def test_an_auditor_sees_who_looked_and_an_intact_chain(world: World, browser: object, base_url: str) -> None:
    resident = world.one(world.community_a, with_id=True)
    page = _login(browser, base_url, "auditor")
    assert page.url.endswith("/console/audit")  # type: ignore[attr-defined]
    assert "完整" in page.inner_text("#verify")  # type: ignore[attr-defined]
    page.fill("#resident", resident.profile_id)  # type: ignore[attr-defined]
    page.click("#who")  # type: ignore[attr-defined]
    entries = page.inner_text("#entries")  # type: ignore[attr-defined]
    assert "worker_a" in entries and "入户走访核对身份" in entries and "+id_number" in entries
    page.screenshot(path=str(SHOTS / "08-auditor-who-looked.png"), full_page=True)  # type: ignore[attr-defined]
