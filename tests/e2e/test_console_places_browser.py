"""The steward's 标准地址库 page in a real headless Chromium, on the real broker: a building whose
records (two departments) contradict the grid centre's file is listed with each fact; the steward
corrects it; the correction travels the places topic, and the resident located through that building
moves to the corrected community and grid."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from core.places import PlaceFact
from core.profile import replay
from core.standardise.addresses import parse_address
from schemas.profile_events import ProfileCreated, RecordLinked
from schemas.resident import ResidentRecord
from store.profile_projection import DeliveredEvent, ProfileProjection
from store.profile_tables import profiles
from tests.e2e.browser import SHOTS, serve

pytestmark = [pytest.mark.browser, pytest.mark.kafka]

PASSWORD = "correct horse battery"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
KEY = "c:秦虹#3"


@pytest.fixture(scope="module")
def places_console(kafka_broker: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object, object]]:
    from api.app import create_app
    from onceonly import bootstrap
    from onceonly.settings import Settings
    from store.auth_tables import UserStore
    from store.engine import make_engine
    from store.places import PlaceIndex

    tmp: Path = tmp_path_factory.mktemp("console-places")
    settings = Settings(data_dir=tmp / "var", kafka_bootstrap=kafka_broker.bootstrap,  # type: ignore[attr-defined]
                        topic_prefix=f"places{abs(hash(tmp)) % 10**6}.", _env_file=None)
    bootstrap.prepare_topics(settings)
    engine = make_engine(settings.store_url)
    # the grid centre puts 秦虹小区 3栋 in 秦虹社区; public security and civil affairs both say 扇骨里社区
    index = PlaceIndex()
    with engine.begin() as conn:
        index.replace_facts(conn, "grid_centre", "GC-1", [PlaceFact(KEY, "standard_address", "grid_centre", "GC-1",
                                                                     "秦虹社区", "第2网格")])
        index.replace_facts(conn, "public_security", "GA-7", [PlaceFact(KEY, "record", "public_security", "GA-7",
                                                                         "扇骨里社区")])
        index.replace_facts(conn, "civil_affairs", "MZ-7", [PlaceFact(KEY, "record", "civil_affairs", "MZ-7",
                                                                       "扇骨里社区")])
        index.reassign(conn, [KEY])
    # a resident whose only address is that building (social security writes no community)
    record = ResidentRecord(source="social_security", record_id="SB-1", observed_at=T0, name="王芳",
                            addresses={"residential": parse_address("秦虹路12号秦虹小区3幢2单元301室")})
    events = [ProfileCreated(profile_id="p-1", version=1, occurred_at=T0, caused_by="c"),
              RecordLinked(profile_id="p-1", version=2, occurred_at=T0, caused_by="c", record=record,
                           rule="probabilistic", score=0.9)]
    assert replay(events)
    ProfileProjection(engine, id_hash_key="k").apply([DeliveredEvent("profile-events", 0, i, e)
                                                       for i, e in enumerate(events)])
    UserStore(engine).add("steward", PASSWORD, "steward")
    with serve(create_app(engine, [], settings)) as url:
        yield url, settings, engine
    engine.dispose()


def _community(engine: object) -> tuple[str | None, str | None]:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        row = conn.execute(select(profiles.c.community, profiles.c.grid).where(profiles.c.profile_id == "p-1")).one()
    return row.community, row.grid


def test_a_steward_sees_a_disagreement_and_corrects_where_the_building_belongs(
        places_console: tuple[str, object, object], browser: object) -> None:
    from store.place_projection import PlaceProjection
    from store.replay import replay_places_into

    url, settings, engine = places_console
    assert _community(engine) == ("扇骨里社区", None)  # two departments outvote the file, flagged
    page = browser.new_context(locale="zh-CN").new_page()  # type: ignore[attr-defined]
    page.goto(f"{url}/console/login")
    page.fill("#username", "steward")
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.click("#nav-places")
    listed = page.inner_text(f"fieldset[data-place='{KEY}']")
    assert "秦虹 3栋" in listed and "现归属 扇骨里社区" in listed
    assert "网格中心" in listed and "秦虹社区" in listed and "第2网格" in listed  # each fact, with its source
    page.screenshot(path=str(SHOTS / "30-steward-places-disagreement.png"), full_page=True)

    form = page.locator(f"fieldset[data-place='{KEY}'] form.correct")
    form.locator("input[name=community]").fill("秦虹社区")
    form.locator("input[name=grid]").fill("第2网格")
    form.locator("input[name=reason]").fill("现场核实：3栋属秦虹社区")
    form.locator("button").click()
    assert "已更正 秦虹 3栋 → 秦虹社区 第2网格" in page.inner_text("#done")
    page.screenshot(path=str(SHOTS / "31-steward-places-corrected.png"), full_page=True)

    # the correction is in the log; the places agent's projection moves the resident
    replay_places_into(PlaceProjection(engine), settings.kafka_bootstrap, settings.places_topic)  # type: ignore[attr-defined,arg-type]
    assert _community(engine) == ("秦虹社区", "秦虹社区/第2网格")
    page.reload()
    assert "人工更正 1" in page.inner_text("#place-summary")
