"""The web console in a real headless Chromium (Debian's ``chromium``, driven by Playwright): a
community worker searches, opens a profile and unmasks it with a purpose; a steward decides a
review and looks at health and dead letters; an auditor sees who looked; a steward opens 数据质量,
a quality report and the Data Docs, watches the health charts and re-processes a dead letter after
a mapping fix (on the real broker); an admin creates a user who then logs in. Screenshots of each
step go to ``test-artifacts/console/``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC

import pytest

from tests.e2e.browser import SHOTS, serve
from tests.helpers import PROJECT
from tests.integration.api_world import PASSWORD, World, build_world

pytestmark = pytest.mark.browser



@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("console"), tmp_path_factory.getbasetemp())


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


# -- stewards' data quality, health charts, dead-letter re-processing; admins' users -------------------
def _local_only(page: object) -> None:
    """The machine has no internet: GX's Data Docs link CDNs, which are refused at once, not waited for."""
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("http://127.0.0.1")  # type: ignore[attr-defined]
               else route.abort())


@pytest.fixture(scope="module")
def validated(world: World) -> World:
    """A real validation run (GX, report, Data Docs) over community visits in this world's store:
    one batch with relations outside GB/T 4761, so it is quarantined."""
    from datetime import datetime

    from onceonly import bootstrap
    from schemas.source_record import SourceRecord
    from store.ledger import Delivered, SourceRecordLedger

    now = datetime.now(UTC)
    SourceRecordLedger(world.engine).apply([Delivered("raw.community", 0, i, SourceRecord.of(
        source="community", record_id=f"V-{900 + i}", mapping_version="cm-1", observed_at=now,
        payload={"走访编号": f"V-{900 + i}", "姓名": f"测试{i}", "性别": "女", "与户主关系": "火星人"}))
        for i in range(3)])
    from services.validation import ValidateBatches

    settings = world.settings.model_copy(update={"database_url": str(world.engine.url)})
    bootstrap.hub(settings).validation.validate(ValidateBatches())
    return world


def test_a_steward_opens_data_quality_a_report_and_the_data_docs(validated: World, browser: object,
                                                                 base_url: str) -> None:
    page = _login(browser, base_url, "steward")
    _local_only(page)
    page.click("#nav-quality")  # type: ignore[attr-defined]
    assert "最近一次校验" in page.inner_text("#quality-summary")  # type: ignore[attr-defined]
    first = page.locator("#batches tr.batch").first  # type: ignore[attr-defined]
    assert "已隔离" in first.inner_text() and "relation_to_head" in first.inner_text()
    page.screenshot(path=str(SHOTS / "09-steward-data-quality.png"), full_page=True)  # type: ignore[attr-defined]
    first.locator("a.report-link").click()
    assert "FAILED" in page.inner_text("#report") and "relation_to_head" in page.inner_text("#report")  # type: ignore[attr-defined]
    page.screenshot(path=str(SHOTS / "10-steward-quality-report.png"), full_page=True)  # type: ignore[attr-defined]
    docs = page.get_attribute("#validation-link", "href")  # type: ignore[attr-defined]
    answer = page.goto(f"{base_url}{docs}", wait_until="domcontentloaded")  # type: ignore[attr-defined]
    assert answer.status == 200 and "relation_to_head" in page.content()  # type: ignore[attr-defined]
    page.screenshot(path=str(SHOTS / "11-steward-data-docs.png"), full_page=True)  # type: ignore[attr-defined]
    refused = page.goto(f"{base_url}/console/data-docs/..%2F..%2F..%2Fonceonly.db")  # type: ignore[attr-defined]
    assert refused.status == 400


def test_a_steward_sees_health_charts_drawn_as_svg(world: World, browser: object, base_url: str) -> None:
    from datetime import datetime, timedelta

    from store.pipeline_samples import PipelineSamples

    samples = PipelineSamples(world.engine)
    now = datetime.now(UTC)
    for i, (rate, lag) in enumerate([(120.0, 900), (340.0, 400), (260.0, 50), (300.0, 0)]):
        samples.add({"records_per_s": {"ledger": rate, "profiles": rate * 0.8}, "lag": {"ledger": lag, "profiles": lag // 3},
                     "validation_pass_rate": 0.5 + i * 0.15, "dead_letters": {"per_source": {"community": i},
                                                                              "in_topic": i * 2}},
                    now - timedelta(minutes=40 - 10 * i))
    page = _login(browser, base_url, "steward")
    page.click("text=运行状况")  # type: ignore[attr-defined]
    for chart in ("#chart-throughput", "#chart-lag", "#chart-quality", "#chart-dead-letters"):
        assert page.locator(f"svg{chart} polyline").count() >= 1  # type: ignore[attr-defined]
    assert "吞吐量" in page.inner_text("#charts")  # type: ignore[attr-defined]
    page.screenshot(path=str(SHOTS / "12-steward-health-charts.png"), full_page=True)  # type: ignore[attr-defined]


def test_an_admin_creates_a_user_who_then_logs_in(world: World, browser: object, base_url: str) -> None:
    page = _login(browser, base_url, "admin")
    page.click("#nav-users")  # type: ignore[attr-defined]
    page.fill("#new-username", "worker_browser")  # type: ignore[attr-defined]
    page.fill("#new-display-name", "浏览器测试社工")  # type: ignore[attr-defined]
    page.fill("#new-password", "browser-secret-42")  # type: ignore[attr-defined]
    page.select_option("#new-role", "community_worker")  # type: ignore[attr-defined]
    page.fill("#new-communities", world.community_a)  # type: ignore[attr-defined]
    page.click("#create-user")  # type: ignore[attr-defined]
    # a reading account waits for a second person (issue 14, item 4)
    assert "已申请创建用户 worker_browser" in page.inner_text("#done")  # type: ignore[attr-defined]
    assert "browser-secret-42" not in page.content()  # type: ignore[attr-defined]
    assert page.locator("tr.user[data-user='worker_browser'] .awaiting").count() == 1  # type: ignore[attr-defined]
    page.screenshot(path=str(SHOTS / "13-admin-users.png"), full_page=True)  # type: ignore[attr-defined]
    steward = _login(browser, base_url, "steward")
    steward.click("#nav-account-requests")  # type: ignore[attr-defined]
    steward.click("tr.account-request:has-text('worker_browser') button.approve")  # type: ignore[attr-defined]
    assert "已批准 worker_browser" in steward.inner_text("#done")  # type: ignore[attr-defined]
    fresh = browser.new_context(locale="zh-CN").new_page()  # type: ignore[attr-defined]
    fresh.goto(f"{base_url}/console/login")
    fresh.fill("#username", "worker_browser")
    fresh.fill("#password", "browser-secret-42")
    fresh.click("#login")
    assert fresh.url.endswith("/console/") and "worker_browser" in fresh.inner_text("header")
    assert world.community_a in fresh.inner_text("header")
    fresh.screenshot(path=str(SHOTS / "14-new-user-logged-in.png"), full_page=True)


@pytest.fixture(scope="module")
def kafka_console(kafka_broker: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    """The console on the real broker, with two community visits dead-lettered (their relation to the
    household head is not in the mapping) and a tmp copy of ``mappings/`` the steward can fix."""
    from api.app import create_app
    from connectors.batch import BatchReader
    from connectors.kafka_sink import KafkaSink
    from onceonly import bootstrap
    from onceonly.settings import Settings
    from store.auth_tables import UserStore
    from store.engine import make_engine

    tmp = tmp_path_factory.mktemp("console-kafka")
    shutil.copytree(PROJECT / "mappings", tmp / "mappings")
    # This department refuses a visit whose relation it cannot read (by default it is kept with the
    # field empty): the steward fixes the mapping and re-processes.
    with (tmp / "mappings" / "community.yaml").open("a", encoding="utf-8") as fh:
        fh.write("\nreject_warnings: [relation_to_head_unknown]\n")
    settings = Settings(data_dir=tmp / "var", kafka_bootstrap=kafka_broker.bootstrap,  # type: ignore[attr-defined]
                        topic_prefix=f"console{abs(hash(tmp)) % 10**6}.", mappings_dir=tmp / "mappings",
                        _env_file=None)
    bootstrap.prepare_topics(settings)
    engine = make_engine(settings.store_url)
    rows = [{"走访编号": "V-1", "姓名": "李雷", "性别": "男", "与户主关系": "表舅", "备注": "身份证 11010519491231002X"},
            {"走访编号": "V-2", "姓名": "韩梅", "性别": "女", "与户主关系": "火星来客"}]
    with KafkaSink(settings.kafka_bootstrap or "") as sink:
        counts = bootstrap.connector(settings, bootstrap.mappings(settings)["community"], sink, db=engine,
                                     reader=BatchReader("visits", rows)).run()
    assert counts.dead_letters == 2
    UserStore(engine).add("steward", PASSWORD, "steward")
    with serve(create_app(engine, ["community"], settings)) as url:
        yield url, settings
    engine.dispose()


def test_a_steward_reprocesses_a_dead_letter_after_a_mapping_fix(kafka_console: tuple[str, object],
                                                                 browser: object) -> None:
    from tests.helpers import read_topic

    url, settings = kafka_console
    page = _login(browser, url, "steward")
    page.click("text=死信")  # type: ignore[attr-defined]
    letters = page.inner_text("#letters")  # type: ignore[attr-defined]
    assert "11010519491231002X" not in letters and "110105********002X" in letters  # the row, redacted
    assert page.locator("#letters span.status.open").count() == 2  # type: ignore[attr-defined]
    page.screenshot(path=str(SHOTS / "15-steward-dead-letters-open.png"), full_page=True)  # type: ignore[attr-defined]
    mapping = settings.mappings_dir / "community.yaml"  # type: ignore[attr-defined]
    text = mapping.read_text(encoding="utf-8")  # the steward's fix: 表舅 is "other relative" (99)
    mapping.write_text(text.replace('合租: "99"}', '合租: "99", 表舅: "99"}'), encoding="utf-8")
    row = page.locator("#letters tr.letter", has_text="表舅")  # type: ignore[attr-defined]
    row.locator("input[name=event_ids]").check()
    page.click("#reprocess-selected")  # type: ignore[attr-defined]
    assert "可读 1 条（发送 1 条）" in page.inner_text("#done")  # type: ignore[attr-defined]
    assert "已重处理" in page.locator("#letters tr.letter", has_text="表舅").inner_text()  # type: ignore[attr-defined]
    page.screenshot(path=str(SHOTS / "16-steward-dead-letter-reprocessed.png"), full_page=True)  # type: ignore[attr-defined]
    sent = [r for r in read_topic(settings.kafka_bootstrap, settings.raw_topic("community"))  # type: ignore[attr-defined]
            if getattr(r, "record_id", None) == "V-1"]
    assert len(sent) == 1
