"""The door-check loop (入户核实, issue #10) end to end, as a community worker and a steward live it,
through the entry points they use: the departments' files put 王秀英 in two communities (住址有冲突),
the worker of the community the hub places her in finds her under the contested filter, plans the
elderly survey for that community through the API, downloads the workbook (a real .xlsx), fills
her door-check cells as a worker does at the door (the address she lives at, 入户核实, the day),
uploads it; the real broker and a real stream worker take the visit in, and her profile is then
placed where she lives, with the flag gone: she is planned by the new community's worker, without
a door check."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api.app import create_app
from localinfra.processes import spawn, stop
from onceonly import bootstrap
from onceonly.settings import Settings
from schemas.source_record import DeadLetter, SourceRecord
from simulators.district_files import ingest_department_files
from store.auth_tables import UserStore
from tests.helpers import cli, cli_env, eventually, placed, read_topic, write_department_files
from tests.integration.api_world import PASSWORD, form_token
from tests.integration.test_door_checks import DEPARTMENTS

pytestmark = pytest.mark.kafka

SURVEY = "elderly_survey"
OLD_COMMUNITY, NEW_COMMUNITY = "瑞金北村社区", "中和村社区"
# What the worker writes in 现住地址 at the door: the flat as spoken (栋, no 室), no community named.
# The gazetteer's 中和村小区9幢 is in 中和村社区, 第1网格 (DEPARTMENTS["grid_centre"]).
FOUND = "中和村小区9栋1单元501"
VISITED = date(2026, 7, 10)  # after every department's last change of her row
ID_NUMBER = DEPARTMENTS["public_security"][0]["公民身份号码"]


def _login(client: TestClient, username: str) -> TestClient:
    answer = client.post("/console/login", data={"username": username, "password": PASSWORD,
                                                 "csrf": form_token(client)}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return client


def _contested(client: TestClient) -> set[str]:
    """The residents the caller's contested filter (住址有冲突) lists, through the residents API."""
    answer = client.get("/api/v1/residents", params={"contested": "true", "size": 100})
    assert answer.status_code == 200, answer.text
    return {hit["profile_id"] for hit in answer.json()["results"]}


def _plan(client: TestClient, **body: Any) -> Any:
    answer = client.post("/api/v1/planner", json={"form": SURVEY, **body})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_worker_s_door_check_workbook_settles_a_contested_resident_end_to_end(
        hub_settings: Settings, tmp_path: Path) -> None:
    settings = hub_settings
    write_department_files(tmp_path / "departments", DEPARTMENTS)
    bootstrap.prepare_topics(settings)
    engine = bootstrap.engine(settings)
    users = UserStore(engine)
    users.add("worker_ruijin", PASSWORD, "community_worker", communities=[OLD_COMMUNITY])
    users.add("worker_zhonghe", PASSWORD, "community_worker", communities=[NEW_COMMUNITY])
    users.add("steward", PASSWORD, "steward")
    worker = spawn(cli("worker"), tmp_path / "worker.log", env=cli_env(settings))
    app = create_app(engine, bootstrap.sources(settings), settings)
    try:
        # 1. The departments' records: two place her in 瑞金北村 (undated, and a visit from the roster),
        #    the station's dated move in 中和村. One profile, placed in 瑞金北村社区 and flagged.
        assert ingest_department_files(settings, tmp_path / "departments") == 3
        linked = eventually(lambda: (p := placed(engine, "community:ZF0001")) is not None
                            and p == placed(engine, "public_security:GA0001") and p[1] is not None and p,
                            timeout=180, every=1.0)
        profile_id, community, _, flagged = linked
        assert (community, flagged) == (OLD_COMMUNITY, True)

        with TestClient(app) as ruijin, TestClient(app) as zhonghe, TestClient(app) as steward:
            _login(ruijin, "worker_ruijin")
            _login(zhonghe, "worker_zhonghe")
            _login(steward, "steward")

            # 2. She shows as contested to the worker of her (supposed) community, API and console alike.
            assert _contested(ruijin) == {profile_id}
            assert profile_id in _contested(steward) and profile_id not in _contested(zhonghe)
            home = ruijin.get("/console/", params={"contested": "1"})
            assert home.status_code == 200, home.text
            assert set(re.findall(r'<tr class="resident" data-profile="([^"]+)"', home.text)) == {profile_id}

            # 3. The worker plans the elderly survey for the community: she is asked for a door check.
            plan = _plan(ruijin, community=OLD_COMMUNITY)
            assert [r["profile_id"] for r in plan["residents"]] == [profile_id]
            her = plan["residents"][0]
            labels = {f["field"]: f["label"] for f in plan["form"]["fields"]}
            assert (labels["attributes.verification"], labels["attributes.visited_on"]) == ("核实方式", "走访日期")
            door_check = ["residential_address", "attributes.verification", "attributes.visited_on"]
            assert set(door_check) <= set(her["missing"])
            assert "residential_address" not in {k["field"] for k in her["known"]}  # the disputed addresses: not shown

            # 4. The workbook, as downloaded: the door-check columns are her gaps, 核实方式 a list with 入户核实.
            download = ruijin.post("/api/v1/planner/xlsx", json={"form": SURVEY, "community": OLD_COMMUNITY})
            assert download.status_code == 200, download.text
            book = load_workbook(io.BytesIO(download.content))
            sheet = book["form"]
            fields = [c.value for c in sheet[2]]
            assert [c.value for c in sheet[1]][1:] == [labels[f] for f in fields[1:]]  # the plan's headings
            column = {f: fields.index(f) + 1 for f in door_check}
            (row,) = [n for n in range(3, sheet.max_row + 1) if sheet.cell(row=n, column=1).value == profile_id]
            assert [sheet.cell(row=row, column=column[f]).value for f in door_check] == [None, None, None]
            text = " ".join(str(c) for line in sheet.iter_rows(values_only=True) for c in line if c is not None)
            assert "瑞金北村19幢" not in text and ID_NUMBER not in text  # no disputed address, no ID number in clear
            verification = sheet.cell(row=row, column=column["attributes.verification"]).coordinate
            (choices,) = [v for v in sheet.data_validations.dataValidation if verification in v.sqref]
            assert "入户核实" in choices.formula1

            # 5. At the door: the address she lives at, 入户核实 from the list, the day (a date cell).
            sheet.cell(row=row, column=column["residential_address"]).value = FOUND
            sheet.cell(row=row, column=column["attributes.verification"]).value = "入户核实"
            sheet.cell(row=row, column=column["attributes.visited_on"]).value = VISITED
            filled = io.BytesIO()
            book.save(filled)

            # 6. Uploaded: one visit record sent, none rejected; the counts add up.
            upload = ruijin.post("/api/v1/planner/answers",
                                 files={"file": ("plan.xlsx", filled.getvalue())})
            assert upload.status_code == 200, upload.text
            taken = upload.json()
            assert taken["rows"] == taken["empty"] + taken["read"] == 1
            assert taken["read"] == taken["events"] + taken["unchanged"] + taken["dead_letters"]
            assert (taken["read"], taken["events"], taken["dead_letters"]) == (1, 1, 0)
            assert taken["residents"] == [profile_id] and taken["not_carried"] == {}

            # The visit on the community source's topic: verified at the door, that day, no community
            # written (the hub's guess is what the check settles), no ID number anywhere.
            raw = [r for r in read_topic(settings.kafka_bootstrap or "", settings.raw_topic("community"))
                   if isinstance(r, SourceRecord) and r.record_id.startswith("JH-")]
            assert len(raw) == 1
            visit = raw[0]
            assert (visit.payload["核实方式"], visit.payload["走访日期"], visit.payload["居住地址"]) == (
                "入户核实", VISITED.isoformat(), FOUND)
            assert "社区" not in visit.payload and "网格" not in visit.payload
            assert ID_NUMBER not in visit.model_dump_json()
            letters = [d for d in read_topic(settings.kafka_bootstrap or "", settings.deadletter_topic)
                       if isinstance(d, DeadLetter)]
            assert letters == []

            # 7. The worker resolves the visit into her own profile: placed where she lives, flag cleared.
            after = eventually(lambda: (p := placed(engine, f"community:{visit.record_id}")) is not None
                               and not p[3] and p, timeout=180, every=1.0)
            assert after == (profile_id, NEW_COMMUNITY, f"{NEW_COMMUNITY}/第1网格", False)

            profile = zhonghe.get(f"/api/v1/residents/{profile_id}")
            assert profile.status_code == 200, profile.text
            assert profile.json()["community"] == NEW_COMMUNITY
            address = {f["field"]: f for f in profile.json()["fields"]}["residential_address"]
            assert (address["source"], address["record_id"]) == ("community", visit.record_id)
            assert profile_id not in _contested(zhonghe) | _contested(steward) | _contested(ruijin)

            # 8. The plans follow: she left the old community's plan; the new community's worker
            #    plans her without a door check, her address known from the check.
            assert profile_id not in {r["profile_id"] for r in _plan(ruijin, community=OLD_COMMUNITY)["residents"]}
            again = _plan(zhonghe, community=NEW_COMMUNITY)
            (mine,) = [r for r in again["residents"] if r["profile_id"] == profile_id]
            assert "attributes.verification" not in {f["field"] for f in again["form"]["fields"]}
            known = {k["field"]: k for k in mine["known"]}
            assert (known["residential_address"]["source"], known["residential_address"]["record_id"]) == (
                "community", visit.record_id)
            assert not set(door_check) & set(mine["missing"])
    finally:
        stop(worker)
        engine.dispose()
