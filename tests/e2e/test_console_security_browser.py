"""The console's safe defaults in a real Chromium (issue 14, item 6): the session cookie as the
browser keeps it (HttpOnly, SameSite=Strict), the security headers on what it loads (and that the
console still renders and posts under its CSP), a form posted with a tampered CSRF token refused,
and a session copied before logout refused after it."""

from __future__ import annotations

from typing import Any

import pytest

from api.auth import SESSION_COOKIE
from tests.e2e.browser import SHOTS
from tests.integration.api_world import PASSWORD, World, build_world

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("console_security"), tmp_path_factory.getbasetemp())


def _login(browser: Any, base_url: str, username: str) -> tuple[Any, Any, list[str]]:
    """A logged-in page, its context and the CSP violations the browser reported on it."""
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{base_url}/console/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_load_state()
    return context, page, violations


def test_the_session_cookie_is_httponly_and_strict_and_pages_carry_the_headers(world: World, browser: Any,
                                                                               base_url: str) -> None:
    context, page, violations = _login(browser, base_url, "worker_a")
    session = next(c for c in context.cookies() if c["name"] == SESSION_COOKIE)
    assert session["httpOnly"] is True and session["sameSite"] == "Strict"
    assert session["secure"] is False  # http on loopback; off loopback or over https it is Secure
    assert page.evaluate("document.cookie").find(SESSION_COOKIE) == -1  # no script can read it
    answer = page.goto(f"{base_url}/console/search")
    headers = answer.headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer"
    # The console renders under its CSP: the inline stylesheet applies and nothing was blocked.
    assert page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor") == "rgb(183, 28, 28)"
    assert violations == []
    context.close()


def test_a_form_with_a_tampered_csrf_token_is_refused_and_the_real_one_works(world: World, browser: Any,
                                                                             base_url: str) -> None:
    context, page, _ = _login(browser, base_url, "steward")
    resident = world.one(world.community_a, with_phone=True)
    page.goto(f"{base_url}/console/search")
    page.fill("#q-phone", resident.golden.phones.value[0])  # type: ignore[union-attr]
    page.evaluate("document.querySelectorAll('input[name=csrf]').forEach(i => i.value = 'forged')")
    with page.expect_navigation():
        page.click("#search-post")
    assert "安全令牌" in page.content() and resident.profile_id not in page.content()
    page.screenshot(path=str(SHOTS / "40-csrf-refused.png"))
    page.goto(f"{base_url}/console/search")
    page.fill("#q-phone", resident.golden.phones.value[0])  # type: ignore[union-attr]
    with page.expect_navigation():
        page.click("#search-post")
    assert resident.profile_id in page.content()
    context.close()


def test_a_session_copied_before_logout_is_refused_after_it(world: World, browser: Any, base_url: str) -> None:
    context, page, _ = _login(browser, base_url, "worker_a")
    copied = [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
    page.click("#logout")
    page.wait_for_url("**/console/login")
    thief = browser.new_context(locale="zh-CN")
    thief.add_cookies(copied)
    stolen = thief.new_page()
    stolen.goto(f"{base_url}/console/")
    assert stolen.url.endswith("/console/login")  # the server no longer accepts it
    thief.close()
    context.close()
