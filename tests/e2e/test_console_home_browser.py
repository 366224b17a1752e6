"""A community worker's console in a real headless Chromium: the home page lists exactly the residents
of the worker's community (none of another), 60岁以上 narrows it, changes since a date are listed; a
profile shows Chinese labels and code names (汉族, 户主; never ``employer`` or ``01``), why each
record was linked and its history in Chinese; home and profile fit a 1366×768 laptop and a 768×1024
tablet without horizontal scrolling. Screenshots go to ``test-artifacts/console/``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.profile import Profile
from tests.e2e.browser import SHOTS
from tests.integration.api_world import PASSWORD, World, build_world

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1366, "height": 768}
TABLET = {"width": 768, "height": 1024}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("console-home"), tmp_path_factory.getbasetemp())


def _login(browser: Any, base_url: str, username: str, viewport: dict[str, int] = LAPTOP) -> Any:
    page = browser.new_context(locale="zh-CN", viewport=viewport).new_page()
    page.goto(f"{base_url}/console/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login")
    return page


def _living(p: Profile) -> bool:
    return p.golden.deceased_on is None and p.golden.moved_out_on is None


def _listed(page: Any) -> set[str]:
    return set(page.locator("#residents tr.resident").evaluate_all("rows => rows.map(r => r.dataset.profile)"))


def _no_horizontal_scroll(page: Any) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width[0] <= width[1], f"page is {width[0]} px wide in a {width[1]} px window"


def test_the_home_page_lists_exactly_the_residents_of_the_workers_community(world: World, browser: Any,
                                                                            base_url: str) -> None:
    mine = world.profiles_in(world.community_a)
    others = {p.profile_id for p in world.profiles_in(world.community_b)}
    page = _login(browser, base_url, "worker_a")
    assert page.url.endswith("/console/")  # the landing page after login
    assert world.community_a in page.inner_text("#home-title")
    assert _listed(page) == {p.profile_id for p in mine if _living(p)}
    assert not _listed(page) & others
    assert f"{len([p for p in mine if _living(p)])}" in page.inner_text("#tile-all")
    households = {p.household_id for p in mine if _living(p) and p.household_id}
    assert page.inner_text("#tile-households").startswith(str(len(households)))
    page.screenshot(path=str(SHOTS / "20-worker-home.png"), full_page=True)
    page.check("#f-gone")
    page.click("#f-go")
    assert _listed(page) == {p.profile_id for p in mine}
    # another community's page is refused, and says so
    answer = page.goto(f"{base_url}/console/?community={world.community_b}")
    assert answer.status == 403


def test_the_60_plus_filter_narrows_the_list_to_residents_aged_60_or_more(world: World, browser: Any,
                                                                          base_url: str) -> None:
    today = datetime.now(UTC).date()

    def aged_60(p: Profile) -> bool:
        born = p.golden.birth_date.value if p.golden.birth_date else None
        return born is not None and (today.year - born.year - ((today.month, today.day) < (born.month, born.day))) >= 60

    mine = [p for p in world.profiles_in(world.community_a) if _living(p)]
    expected = {p.profile_id for p in mine if aged_60(p)}
    assert expected and len(expected) < len(mine)  # the filter has something to narrow
    page = _login(browser, base_url, "worker_a")
    page.select_option("#f-age", "60+")
    page.click("#f-go")
    assert _listed(page) == expected
    assert all(int(a) >= 60 for a in page.locator("#residents td.age").all_inner_texts())
    assert "60+" in page.url or "60%2B" in page.url
    page.screenshot(path=str(SHOTS / "21-worker-home-60-plus.png"), full_page=True)
    page.click("#sort-age")  # sortable by age: the youngest of them first
    ages = [int(a) for a in page.locator("#residents td.age").all_inner_texts()]
    assert ages == sorted(ages)


def test_the_contested_filter_lists_the_residents_whose_records_disagree(world: World, browser: Any,
                                                                          base_url: str) -> None:
    from sqlalchemy import update

    from store.profile_tables import profiles

    living = [p for p in world.profiles_in(world.community_a) if _living(p)]
    flagged, clear = living[0], living[1]  # 住址有冲突 as the projection writes it when the records disagree
    with world.engine.begin() as conn:
        conn.execute(update(profiles).where(profiles.c.profile_id == flagged.profile_id).values(place_contested=True))
        conn.execute(update(profiles).where(profiles.c.profile_id == clear.profile_id).values(place_contested=False))
    page = _login(browser, base_url, "worker_a")
    assert "住址有冲突（需入户核实）" in page.inner_text("#filters")
    page.check("#f-contested")
    page.click("#f-go")
    listed = _listed(page)
    assert flagged.profile_id in listed and clear.profile_id not in listed
    assert "住址有冲突" in page.locator(f"tr[data-profile='{flagged.profile_id}']").inner_text()
    assert "contested=1" in page.url


def test_a_sensitive_filter_asks_for_a_purpose(browser: Any, base_url: str) -> None:
    page = _login(browser, base_url, "worker_a")
    page.check("#f-assistance")
    page.click("#f-go")
    assert "用途" in page.inner_text("#error")


def test_changes_since_a_date_are_listed_in_chinese(world: World, browser: Any, base_url: str) -> None:
    page = _login(browser, base_url, "worker_a")
    page.fill("#since", "2025-01-01")
    page.click("#since-go")
    rows = page.locator("#changes tr.change")
    assert rows.count() >= 1
    assert "新建档" in page.inner_text("#changes")
    listed = set(rows.evaluate_all("rows => rows.map(r => r.dataset.profile)"))
    assert listed <= {p.profile_id for p in world.profiles_in(world.community_a)}


def test_a_steward_picks_a_community(world: World, browser: Any, base_url: str) -> None:
    page = _login(browser, base_url, "steward")
    options = page.locator("#community option").all_inner_texts()
    assert world.community_a in options and world.community_b in options
    page.select_option("#community", world.community_b)
    page.click("#community-go")
    assert _listed(page) == {p.profile_id for p in world.profiles_in(world.community_b) if _living(p)}


def _resident_with_labels(world: World) -> Profile:
    """A resident of community a with an employer or a floor area, whose household has its head."""
    people = world.profiles_in(world.community_a)
    heads = {p.household_id for p in people if p.golden.relation_to_head and p.golden.relation_to_head.value == "02"}
    for p in people:
        attrs = p.golden.attributes
        if ("employer" in attrs or "floor_area" in attrs) and p.household_id in heads and p.golden.ethnicity \
                and any(r.evidence for r in p.records.values()):
            return p
    raise AssertionError("no suitable resident")


def test_a_profile_shows_chinese_labels_code_names_why_linked_and_history(world: World, browser: Any,
                                                                          base_url: str) -> None:
    resident = _resident_with_labels(world)
    number = resident.golden.id_number.value if resident.golden.id_number else None
    page = _login(browser, base_url, "worker_a")
    page.goto(f"{base_url}/console/residents/{resident.profile_id}")
    fields = page.inner_text("#fields")
    for key in ("employer", "floor_area", "insured_since", "register_status", "person_category", "ethnicity",
                "attributes."):
        assert key not in fields
    assert "工作单位" in fields or "建筑面积" in fields
    ethnicity = page.locator("#fields tr[data-field='ethnicity'] td").nth(1).inner_text()
    assert ethnicity == "汉族" or ethnicity.endswith("族")
    relations = page.locator("#household tr td:nth-child(2)").all_inner_texts()
    assert "户主" in relations and not any(r.isdigit() for r in relations)
    # why each record was linked, field by field with its weight
    why = page.inner_text("#records")
    assert "身份证号一致" in why and "姓名一致" in why and "权重" in why
    assert page.locator("#records li.reason").count() >= 3
    # history lines in Chinese, times in Beijing time
    history = page.inner_text("#history")
    assert "建立档案" in history and "关联 公安 记录" in history and "得分 1.00" in history
    assert "linked" not in history and "profile opened" not in history and "RecordLinked" not in history
    first = resident.history[0].occurred_at.astimezone(ZoneInfo("Asia/Shanghai"))
    assert first.strftime("%Y-%m-%d %H:%M") in history
    if number is not None:
        assert number not in page.content()  # never a raw ID number, also not in the evidence
    page.screenshot(path=str(SHOTS / "22-worker-profile-labels.png"), full_page=True)


@pytest.mark.parametrize(("viewport", "name"), [(LAPTOP, "laptop"), (TABLET, "tablet")])
def test_home_and_profile_fit_a_laptop_and_a_tablet_without_horizontal_scrolling(
        world: World, browser: Any, base_url: str, viewport: dict[str, int], name: str) -> None:
    page = _login(browser, base_url, "worker_a", viewport)
    _no_horizontal_scroll(page)
    page.screenshot(path=str(SHOTS / f"23-home-{name}.png"), full_page=True)
    page.goto(f"{base_url}/console/residents/{_resident_with_labels(world).profile_id}")
    _no_horizontal_scroll(page)
    page.screenshot(path=str(SHOTS / f"24-profile-{name}.png"), full_page=True)


def test_changes_default_to_the_last_week_then_to_the_previous_login(browser: Any, base_url: str) -> None:
    first = _login(browser, base_url, "worker_b")
    assert "首次登录" in first.inner_text("#since-form")  # no earlier login: the last 7 days
    again = _login(browser, base_url, "worker_b")
    assert "上次登录" in again.inner_text("#since-form") and str(date.today().year) in again.inner_text("#since-form")
