"""Data objections (数据异议) in a real headless Chromium, on the real broker: a community worker opens
a resident of her community and raises an objection on the name through the profile page's form;
the field shows 有异议 and the objection is listed on her 数据异议 page, not on another community's
worker's. The department whose record holds the name answers 核实无误 with a reason (none is refused),
and the worker reads it closed with that reason. Screenshots go to ``test-artifacts/console/``.
"""

from __future__ import annotations

from typing import Any

import pytest

from api.console import label, source_name
from core.planner.fields import read_field
from tests.e2e.browser import SHOTS
from tests.integration.api_world import PASSWORD, World, build_world, kafka_settings

pytestmark = [pytest.mark.browser, pytest.mark.kafka]

FIELD = "name"
REASON = "居民说姓名登记错了一个字"
PROPOSED = "王小明"
NOTE = "与户籍底册核对无误"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, kafka_broker: Any) -> World:
    """The district, with settings pointing at the session's real broker (objections go into Kafka)."""
    tmp = tmp_path_factory.mktemp("console-objections")
    built = build_world(tmp, tmp_path_factory.getbasetemp())
    built.settings = kafka_settings(tmp, kafka_broker.bootstrap, "cobj")
    return built


def _login(browser: Any, base_url: str, username: str) -> Any:
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(f"{base_url}/console/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_load_state()
    assert "用户名或密码错误" not in page.content()
    return page


def test_a_worker_objects_to_a_name_and_the_holding_department_confirms_it_with_a_reason(
        world: World, browser: Any, base_url: str) -> None:
    from schemas.objection_events import ObjectionClosed, ObjectionRaised, ObjectionRouted
    from tests.helpers import read_topic

    resident = world.one(world.community_a)
    known = read_field(resident.golden, FIELD)
    assert known is not None
    holder = known.source  # the department whose record holds the name
    row = f"#fields tr.field[data-field='{FIELD}']"

    # -- the worker raises it on the profile page --------------------------------------------------
    worker = _login(browser, base_url, "worker_a")
    worker.goto(f"{base_url}/console/residents/{resident.profile_id}")
    assert "disputed" not in (worker.get_attribute(row, "class") or "")
    assert worker.locator(f"{row} .disputed-mark").count() == 0
    worker.select_option("#objection-field", FIELD)
    worker.fill("#objection-reason", REASON)
    worker.fill("#objection-value", PROPOSED)
    with worker.expect_navigation():
        worker.click("#objection-raise")
    assert worker.url.endswith(f"/console/residents/{resident.profile_id}?objection=raised")
    assert "disputed" in (worker.get_attribute(row, "class") or "").split()
    assert worker.locator(f"{row} .disputed-mark").inner_text() == "有异议"
    assert worker.locator("#fields tr.field.disputed").count() == 1  # only that field
    pending = worker.inner_text("#open-objections")
    assert label(FIELD) in pending and source_name(holder) in pending
    # a second objection on the same field cannot be chosen while this one is open
    options = worker.locator("#objection-field option").evaluate_all("els => els.map(e => e.value)")
    assert FIELD not in options and options
    worker.screenshot(path=str(SHOTS / "objections-01-worker-profile-disputed.png"), full_page=True)

    worker.click("#nav-objections")
    assert worker.url.endswith("/console/objections")
    listed = worker.locator(f"#objections tr.objection[data-field='{FIELD}']")
    assert listed.count() == 1
    oid = listed.get_attribute("data-objection")
    assert oid and listed.get_attribute("data-status") == "open"
    text = listed.inner_text()
    assert resident.profile_id in text and REASON in text and PROPOSED in text
    assert label(FIELD) in text and source_name(holder) in text and "worker_a" in text
    assert listed.locator("form.answer").count() == 0  # a worker does not answer for the department
    assert listed.locator("form.withdraw").count() == 1  # but may take back what she raised
    worker.screenshot(path=str(SHOTS / "objections-02-worker-list.png"), full_page=True)

    # the raising and the routing are in the objections topic, keyed by the objection
    events = read_topic(world.settings.kafka_bootstrap or "", world.settings.objections_topic)
    assert [type(e) for e in events] == [ObjectionRaised, ObjectionRouted]
    assert {e.objection_id for e in events} == {oid}

    # -- another community's worker sees nothing of it ----------------------------------------------
    other = _login(browser, base_url, "worker_b")
    other.click("#nav-objections")
    assert other.locator(f"tr.objection[data-objection='{oid}']").count() == 0
    assert other.inner_text("#empty") == "没有异议。"
    other.goto(f"{base_url}/console/objections?show=all")
    assert other.locator("tr.objection").count() == 0
    other.context.close()

    # -- the holding department answers 核实无误, with a reason ---------------------------------------
    world.users.add("dept_holder", PASSWORD, "department_reader", department=holder)
    department = _login(browser, base_url, "dept_holder")
    department.click("#nav-objections")
    assert department.url.endswith("/console/objections")
    mine = department.locator(f"tr.objection[data-objection='{oid}']")
    assert mine.count() == 1 and REASON in mine.inner_text()
    assert mine.locator("form.withdraw").count() == 0  # the department did not raise it
    department.screenshot(path=str(SHOTS / "objections-03-department-list.png"), full_page=True)
    mine.locator("form.answer select[name=action]").select_option("confirmed")
    with department.expect_navigation():
        mine.locator("form.answer button").click()  # no reason: refused, still open
    assert "未能处理" in department.inner_text("#error")
    mine = department.locator(f"tr.objection[data-objection='{oid}']")
    assert mine.get_attribute("data-status") == "open"
    mine.locator("form.answer select[name=action]").select_option("confirmed")
    mine.locator("form.answer input[name=note]").fill(NOTE)
    with department.expect_navigation():
        mine.locator("form.answer button").click()
    assert f"已处理异议 {oid}" in department.inner_text("#done")
    assert department.locator(f"tr.objection[data-objection='{oid}']").count() == 0  # no longer open
    department.screenshot(path=str(SHOTS / "objections-04-department-confirmed.png"), full_page=True)
    department.context.close()

    # -- the worker reads it closed, with the department's reason -----------------------------------
    worker.goto(f"{base_url}/console/objections")
    assert worker.locator(f"tr.objection[data-objection='{oid}']").count() == 0  # not among the open ones
    worker.click("#show-closed")
    assert worker.url.endswith("/console/objections?show=closed")
    closed = worker.locator(f"tr.objection[data-objection='{oid}']")
    assert closed.get_attribute("data-status") == "closed"
    state = closed.locator("td.state").inner_text()
    assert "已办结" in state and "核实无误" in state and NOTE in state and "部门核实无误" in state
    assert closed.locator("form").count() == 0  # nothing left to do on it
    worker.screenshot(path=str(SHOTS / "objections-05-worker-closed.png"), full_page=True)
    worker.goto(f"{base_url}/console/residents/{resident.profile_id}")
    assert "disputed" not in (worker.get_attribute(row, "class") or "").split()
    assert worker.locator("#open-objections").count() == 0
    assert FIELD in worker.locator("#objection-field option").evaluate_all("els => els.map(e => e.value)")
    worker.context.close()

    events = read_topic(world.settings.kafka_bootstrap or "", world.settings.objections_topic)
    assert isinstance(events[-1], ObjectionClosed) and events[-1].outcome == "confirmed"

    # and still nothing for the other community, closed or open
    other = _login(browser, base_url, "worker_b")
    other.goto(f"{base_url}/console/objections?show=all")
    assert other.locator("tr.objection").count() == 0
    other.context.close()
