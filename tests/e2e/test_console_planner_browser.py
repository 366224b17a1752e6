"""The collection planner (采集计划) in a real headless Chromium: a community worker opens the
planner, plans the elderly survey for their community, sees what is known (value, source, time)
and what is missing, downloads the pre-filled .xlsx, and uploads it back filled in, through the
ingest loop onto the real broker. Screenshots go to ``test-artifacts/console/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from core.planner import plan_collection
from services.planning import load_form
from tests.e2e.browser import SHOTS
from tests.integration.api_world import PASSWORD, World, build_world, kafka_settings

pytestmark = [pytest.mark.browser, pytest.mark.kafka]



@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, kafka_broker: Any) -> World:
    """The district, with settings pointing at the session's real broker (answers go into Kafka)."""
    tmp = tmp_path_factory.mktemp("console-planner")
    built = build_world(tmp, tmp_path_factory.getbasetemp())
    built.settings = kafka_settings(tmp, kafka_broker.bootstrap, "cplan", database_url=f"sqlite:///{tmp / 'store.db'}")
    return built


def _login(browser: Any, base_url: str, username: str) -> Any:
    page = browser.new_context(locale="zh-CN", accept_downloads=True).new_page()
    page.goto(f"{base_url}/console/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login")
    return page


def test_a_worker_plans_the_elderly_survey_downloads_the_xlsx_and_returns_it_filled(
        world: World, browser: Any, base_url: str, tmp_path: Path) -> None:
    from schemas.source_record import SourceRecord
    from tests.helpers import read_topic

    people = world.profiles_in(world.community_a)
    expected = plan_collection(people, load_form("elderly_survey"))
    page = _login(browser, base_url, "worker_a")
    page.click("#nav-planner")
    assert page.url.endswith("/console/planner")
    # Only the worker's own community (and its grids) can be chosen.
    scopes = [o for o in page.locator("#scope option").evaluate_all("els => els.map(e => e.value)") if o]
    assert scopes and all(s.split(":", 1)[1].split("|")[0] == world.community_a for s in scopes)
    assert any(s.startswith("g:") for s in scopes)
    page.select_option("#form", "elderly_survey")
    page.select_option("#scope", f"c:{world.community_a}")
    page.click("#plan")

    rows = page.locator("#plan-table tr.resident")
    assert rows.count() == len(expected.residents)
    avoided = page.inner_text("#avoided")
    assert "已避免重复采集" in avoided and f"{expected.share_known * 100:.1f}%" in avoided
    for resident in expected.residents:
        row = page.locator(f"#plan-table tr[data-profile='{resident.profile_id}']")
        known = row.locator(".known-field")
        assert known.count() == len(resident.known)
        assert [g for g in row.locator(".gap").evaluate_all("els => els.map(e => e.dataset.field)")] == list(
            resident.missing)
        if "id_number" in resident.known:
            number = resident.known["id_number"].value
            cell = row.locator(".known-field[data-field='id_number']").inner_text()
            assert number not in cell and number[:6] + "********" + number[-4:] in cell
            assert "公安" in cell  # the source badge
    assert page.locator("#plan-table .badge").count() == expected.known
    page.screenshot(path=str(SHOTS / "planner-01-worker-plan.png"), full_page=True)

    with page.expect_download() as download_info:
        page.click("#download")
    download = download_info.value
    assert download.suggested_filename.startswith("plan-elderly_survey") and download.suggested_filename.endswith(
        ".xlsx")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    book = load_workbook(saved)
    sheet = book["form"]
    fields = [c.value for c in sheet[2]][1:]
    assert fields == list(expected.form.fields)
    cells = {r[0]: dict(zip(fields, r[1:])) for r in sheet.iter_rows(min_row=3, values_only=True)}
    assert set(cells) == {r.profile_id for r in expected.residents}
    for resident in expected.residents:
        for name in fields:
            assert (cells[resident.profile_id][name] is None) == (name in resident.missing)
    assert all("*" in str(cells[r.profile_id]["id_number"]) for r in expected.residents if "id_number" in r.known)

    # The way back: the worker answers one gap and uploads the workbook through the console.
    target = next(r for r in expected.residents if "attributes.living_alone" in r.missing)
    row_number = 3 + [r.profile_id for r in expected.residents].index(target.profile_id)
    sheet.cell(row=row_number, column=2 + fields.index("attributes.living_alone")).value = "是"
    filled = tmp_path / "filled.xlsx"
    book.save(filled)
    page.set_input_files("#answers-file", str(filled))
    page.click("#upload")
    assert "已提交采集结果" in page.inner_text("#done")
    taken = page.locator("#taken tr").nth(1).locator("td").all_inner_texts()
    rows_total, empty, read, events, unchanged, dead = (int(t) for t in taken[:6])
    assert (rows_total, read, events, unchanged, dead) == (len(expected.residents), 1, 1, 0, 0)
    assert rows_total == empty + read
    raw = [r for r in read_topic(world.settings.kafka_bootstrap or "", world.settings.raw_topic("community"))
           if isinstance(r, SourceRecord)]
    assert [r.payload.get("是否独居") for r in raw] == ["是"]
    assert raw[0].record_id.startswith(f"JH-{target.profile_id}-")
    page.screenshot(path=str(SHOTS / "planner-02-answers-taken.png"), full_page=True)


def test_a_worker_cannot_plan_another_community_from_the_console(world: World, browser: Any, base_url: str) -> None:
    page = _login(browser, base_url, "worker_a")
    page.goto(f"{base_url}/console/planner")
    # Forge the choice of another community: the page refuses it plainly.
    page.evaluate("""([c]) => { const o = document.createElement('option'); o.value = 'c:' + c; o.text = c;
                     document.querySelector('#scope').appendChild(o); }""", [world.community_b])
    page.select_option("#form", "elderly_survey")
    page.select_option("#scope", f"c:{world.community_b}")
    with page.expect_response(lambda r: r.url.endswith("/console/planner")) as answer:
        page.click("#plan")
    assert answer.value.status == 403
    assert "未能生成采集计划" in page.inner_text("#error") and world.community_b in page.inner_text("#error")
    assert page.locator("#plan-table").count() == 0
    page.screenshot(path=str(SHOTS / "planner-03-other-community-refused.png"), full_page=True)


def test_a_steward_builds_a_form_in_the_console_from_ticked_fields(world: World, browser: Any, base_url: str) -> None:
    ids = [p.profile_id for p in world.profiles_in(world.community_b)][:2]
    page = _login(browser, base_url, "steward")
    page.goto(f"{base_url}/console/planner")
    page.click("#field-picker summary")
    for field in ("name", "phones", "attributes.living_alone"):
        page.check(f"#field-picker input[value='{field}']")
    page.fill("#title", "独居老人核查表")
    page.fill("#profile-ids", "\n".join(ids))
    page.click("#plan")
    assert "独居老人核查表" in page.inner_text("#plan-title")
    assert page.locator("#plan-table tr.resident").count() == len(ids)
    gaps = page.locator("#plan-table .gap[data-field='attributes.living_alone']").count()
    assert gaps == len(ids)  # no department holds it
    page.screenshot(path=str(SHOTS / "planner-04-steward-console-form.png"), full_page=True)
