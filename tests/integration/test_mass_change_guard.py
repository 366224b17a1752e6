"""The mass-change guard on the real broker and both stores (SQLite, PostgreSQL): a pull that would
end too much of a source, or meets a ledger with a changed header or encoding, ends nothing and
waits for a steward, who accepts (the held ends are sent, once) or rejects (nothing ends).

Department systems: public security's table (``simulators.public_security``, the real mapping) and
civil affairs' drop folder (``simulators.civil_affairs``, GB18030 CSV, the real mapping).
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, insert, select

from api.app import create_app
from connectors.kafka_sink import KafkaSink
from connectors.pull import RunCounts
from connectors.spec import ConnectorSpec
from connectors.state import ConnectorState
from core.access import Principal
from onceonly import bootstrap
from onceonly.settings import Settings
from schemas.source_record import SourceRecord
from services.pull_holds import HoldDecided, PullHoldService
from simulators import public_security as ps
from simulators.civil_affairs import HEADER, LedgerFolder, ledger_rows, write_ledger
from store.audit import AuditLog, audit_log
from store.auth_tables import UserStore
from store.engine import make_engine
from tests.helpers import PROJECT, cli, cli_env, read_topic
from tests.integration.api_world import form_token
from tests.integration.test_connector_sql import spec_for

pytestmark = pytest.mark.kafka

STEWARD = Principal(user_id="u-steward", username="steward1", role="steward")
CIVIL_AFFAIRS: dict[str, Any] = yaml.safe_load((PROJECT / "mappings" / "civil_affairs.yaml").read_text(encoding="utf-8"))
ROWS = 30


@dataclass
class Hub:
    settings: Settings
    engine: Engine
    audit: AuditLog

    def pull(self, spec: ConnectorSpec) -> RunCounts:
        with KafkaSink(self.settings.kafka_bootstrap or "") as sink:
            counts = bootstrap.connector(self.settings, spec, sink, db=self.engine).run()
        assert counts.read == counts.events + counts.unchanged + counts.dead_letters
        return counts

    def holds(self, spec: ConnectorSpec) -> PullHoldService:
        return bootstrap.pull_hold_service(self.settings, self.engine, self.audit, specs=lambda _: spec)

    def raw(self, source: str) -> list[SourceRecord]:
        return [r for r in read_topic(self.settings.kafka_bootstrap or "", self.settings.raw_topic(source))
                if isinstance(r, SourceRecord)]

    def ends(self, source: str) -> list[str]:
        return [r.record_id for r in self.raw(source) if r.change == "end"]

    def runs(self, source: str) -> list[dict[str, Any]]:
        return ConnectorState(self.engine, source).runs()

    def audited(self, action: str) -> list[tuple[str, ...]]:
        with self.audit.engine.connect() as conn:
            return [tuple(json.loads(r.fields)) for r in conn.execute(select(audit_log.c.fields).where(audit_log.c.action == action))]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def hub(request: pytest.FixtureRequest, hub_settings: Settings) -> Iterator[Hub]:
    settings = hub_settings
    if request.param == "postgres":
        server = request.getfixturevalue("postgres_server")
        settings = hub_settings.model_copy(update={"database_url": server.fresh_database("guard_" + request.node.name)})
    engine = make_engine(settings.store_url)
    audit = AuditLog(engine)
    try:
        yield Hub(settings, engine, audit)
    finally:
        audit.close()
        engine.dispose()


# -- the department systems -------------------------------------------------------------------------
def household_register(tmp_path: Path) -> tuple[ConnectorSpec, Engine]:
    """Public security's table with ``ROWS`` residents, and the real mapping reading it."""
    url = f"sqlite:///{tmp_path / 'public_security.db'}"
    department = ps.create_department(url, n_residents=ROWS, seed=7, n_rows=ROWS)
    return ConnectorSpec.model_validate(spec_for(url)), department


def empty_table(department: Engine) -> list[dict[str, Any]]:
    """A clerk's mistake: every row deleted. Returns the rows, to put them back."""
    with department.begin() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(ps.household_register))]
        conn.execute(delete(ps.household_register))
    return rows


def ledger_folder(tmp_path: Path, **mapping: Any) -> tuple[ConnectorSpec, LedgerFolder]:
    """Civil affairs' drop folder (GB18030 CSV by street) and the real mapping, with ``mapping`` changes."""
    ledger = write_ledger(tmp_path / "inbox", ledger_rows(ROWS), fmt="gb18030", split_by="所属街道")
    spec = {**CIVIL_AFFAIRS, "transport": {**CIVIL_AFFAIRS["transport"], "path": str(ledger.folder)}, **mapping}
    return ConnectorSpec.model_validate(spec), ledger


def re_export(ledger: LedgerFolder, name: str, *, header: tuple[str, ...] = HEADER, encoding: str = "gb18030") -> list[str]:
    """The clerk exports file ``name`` again, with ``header`` (same rows, same order) in ``encoding``;
    returns the record ids the file holds."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([row.get(old, "") for old in HEADER] for row in ledger.files[name])
    (ledger.folder / name).write_bytes(buffer.getvalue().encode(encoding))
    return [row["档案编号"] for row in ledger.files[name]]


def biggest_file(ledger: LedgerFolder) -> str:
    return max(ledger.files, key=lambda name: len(ledger.files[name]))


# -- the threshold ------------------------------------------------------------------------------------
def test_an_emptied_department_table_ends_nothing_and_waits_for_a_steward(hub: Hub, tmp_path: Path) -> None:
    spec, department = household_register(tmp_path)
    assert hub.pull(spec).events == ROWS
    rows = empty_table(department)

    held = hub.pull(spec)
    assert (held.read, held.events, held.ended, held.held) == (0, 0, 0, ROWS)
    assert hub.ends(spec.source) == []
    assert ConnectorState(hub.engine, spec.source).live_count() == ROWS  # nothing recorded as ended
    last = hub.runs(spec.source)[-1]
    assert (last["ended"], last["held"], last["status"]) == (0, ROWS, "ok")
    [hold] = hub.holds(spec).pending(STEWARD)
    assert (hold.hold_id, hold.source, hold.to_end, hold.live) == (held.hold_id, spec.source, ROWS, ROWS)
    assert hold.reasons == (f"would end {ROWS} of {ROWS} live records (100.0 %), over the 5.0 % allowed",)

    # The scheduled pull comes again before anyone looked: one question, not two.
    again = hub.pull(spec)
    assert again.held == ROWS and again.hold_id != held.hold_id
    assert again.hold_id is not None
    assert [h.hold_id for h in hub.holds(spec).pending(STEWARD)] == [again.hold_id]

    rejected = hub.holds(spec).reject(STEWARD, again.hold_id, "导出时误删，已恢复")
    assert (rejected.hold.status, rejected.hold.decided_by, rejected.ended) == ("rejected", "steward1", 0)
    assert hub.holds(spec).pending(STEWARD) == []
    assert hub.audited("reject_pull_hold") == [(f"hold={again.hold_id}", f"source={spec.source}",
                                                f"held={ROWS}", "ended=0")]

    # The department restores its table: the next pull is an ordinary one.
    with department.begin() as conn:
        conn.execute(insert(ps.household_register), rows)
    after = hub.pull(spec)
    assert (after.events, after.ended, after.held, after.dead_letters) == (0, 0, 0, 0)
    assert hub.ends(spec.source) == []
    assert len(hub.raw(spec.source)) == ROWS
    department.dispose()


def test_a_small_deletion_under_the_threshold_ends_normally_and_one_over_it_is_held(hub: Hub, tmp_path: Path) -> None:
    spec, department = household_register(tmp_path)
    hub.pull(spec)
    people = ps.person_ids(department)
    ps.delete_person(department, people[0])  # 1 of 30: 3.3 %
    one = hub.pull(spec)
    assert (one.ended, one.held, one.hold_id) == (1, 0, None)
    assert hub.ends(spec.source) == [people[0]]
    ps.delete_person(department, people[1])
    ps.delete_person(department, people[2])  # 2 of 29: 6.9 %
    two = hub.pull(spec)
    assert (two.ended, two.held) == (0, 2)
    assert hub.ends(spec.source) == [people[0]]
    department.dispose()


def test_accepting_a_hold_sends_exactly_the_held_ends_once(hub: Hub, tmp_path: Path) -> None:
    spec, department = household_register(tmp_path)
    hub.pull(spec)
    everyone = sorted(ps.person_ids(department))
    empty_table(department)
    held = hub.pull(spec)
    assert held.hold_id is not None

    accepted = hub.holds(spec).accept(STEWARD, held.hold_id, "该批人员确已迁出")
    assert (accepted.ended, accepted.hold.status, accepted.hold.ended) == (ROWS, "accepted", ROWS)
    assert sorted(hub.ends(spec.source)) == everyone  # every held record ends, once
    assert ConnectorState(hub.engine, spec.source).live_count() == 0
    run = hub.runs(spec.source)[-1]  # the acceptance is a run whose counts say what it sent
    assert (run["read"], run["events"], run["ended"], run["held"]) == (0, 0, ROWS, 0)
    assert held.hold_id in run["note"]
    assert hub.audited("accept_pull_hold") == [(f"hold={held.hold_id}", f"source={spec.source}",
                                                f"held={ROWS}", f"ended={ROWS}")]

    with pytest.raises(HoldDecided):
        hub.holds(spec).accept(STEWARD, held.hold_id)
    later = hub.pull(spec)
    assert (later.ended, later.held) == (0, 0)
    assert Counter(hub.ends(spec.source)) == Counter(everyone)
    department.dispose()


# -- a changed header or encoding -------------------------------------------------------------------
def test_a_ledger_re_exported_with_a_renamed_column_holds_its_ends_until_accepted(hub: Hub, tmp_path: Path) -> None:
    # A share of 1: only the changed header can hold here.
    spec, ledger = ledger_folder(tmp_path, max_end_share=1.0)
    assert hub.pull(spec).events == ROWS
    name = biggest_file(ledger)
    renamed = tuple("公民身份号码" if c == "身份证号" else c for c in HEADER)
    in_file = re_export(ledger, name, header=renamed)

    held = hub.pull(spec)
    assert (held.read, held.dead_letters, held.ended, held.held) == (len(in_file), len(in_file), 0, len(in_file))
    [hold] = hub.holds(spec).pending(STEWARD)
    assert hold.reasons == (f"{name}: header changed: column(s) 身份证号 missing (new: 公民身份号码)",)

    # The file stays as it is: the next pull skips it, and must not count its held records as seen.
    quiet = hub.pull(spec)
    assert (quiet.read, quiet.ended, quiet.held) == (0, 0, 0)

    accepted = hub.holds(spec).accept(STEWARD, hold.hold_id)
    assert accepted.ended == len(in_file)
    assert sorted(hub.ends(spec.source)) == sorted(in_file)


def test_a_ledger_re_exported_in_another_encoding_holds_and_the_fixed_export_pulls_normally(
        hub: Hub, tmp_path: Path) -> None:
    spec, ledger = ledger_folder(tmp_path, max_end_share=1.0)
    hub.pull(spec)
    name = biggest_file(ledger)
    in_file = re_export(ledger, name, encoding="utf-8")  # "CSV UTF-8" without the BOM, read as GB18030

    held = hub.pull(spec)
    assert (held.events, held.ended, held.held) == (0, 0, len(in_file))
    [hold] = hub.holds(spec).pending(STEWARD)
    assert f"{name}: encoding changed from gb18030 to utf-8" in hold.reasons
    hub.holds(spec).reject(STEWARD, hold.hold_id)

    re_export(ledger, name)  # the clerk exports it again, as before
    fixed = hub.pull(spec)
    assert (fixed.events, fixed.unchanged, fixed.dead_letters, fixed.ended, fixed.held) == (0, len(in_file), 0, 0, 0)
    assert hub.ends(spec.source) == []


# -- the entry points ----------------------------------------------------------------------------------
def test_a_steward_lists_and_accepts_a_held_pull_with_the_cli(hub: Hub, tmp_path: Path) -> None:
    spec, department = household_register(tmp_path)
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    written = spec_for(f"sqlite:///{tmp_path / 'public_security.db'}")
    (mappings / f"{spec.source}.yaml").write_text(yaml.safe_dump(written, allow_unicode=True), encoding="utf-8")
    hub.pull(spec)
    empty_table(department)
    held = hub.pull(spec)
    env = cli_env(hub.settings) | {"ONCEONLY_MAPPINGS_DIR": str(mappings), "COLUMNS": "200"}

    listed = subprocess.run(cli("pulls", "pending"), env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert f"{held.hold_id}  {spec.source}" in listed.stdout and f"{ROWS} ends held of {ROWS} live" in listed.stdout
    done = subprocess.run(cli("pulls", "accept", held.hold_id or "", "--steward", "王管理"), env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"accepted: {ROWS} end events sent" in done.stdout
    assert len(hub.ends(spec.source)) == ROWS
    again = subprocess.run(cli("pulls", "reject", held.hold_id or "", "--steward", "王管理"), env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "already accepted" in again.stdout
    department.dispose()


def test_the_console_and_api_show_a_held_pull_to_stewards_only(hub: Hub, tmp_path: Path) -> None:
    spec, department = household_register(tmp_path)
    hub.pull(spec)
    empty_table(department)
    held = hub.pull(spec)
    users = UserStore(hub.engine)
    users.add("steward", "steward-password", "steward")
    users.add("worker", "worker-password", "community_worker", communities=["夫子庙社区"])
    with TestClient(create_app(hub.engine, [spec.source], hub.settings), raise_server_exceptions=False) as client:
        def login(username: str, password: str) -> None:
            client.cookies.clear()
            answer = client.post("/console/login", data={"username": username, "password": password,
                                                         "csrf": form_token(client)}, follow_redirects=False)
            assert answer.status_code == 303, answer.text

        login("worker", "worker-password")
        assert client.get("/api/v1/pull-holds").status_code == 403
        assert client.get("/console/pull-holds").status_code == 403

        login("steward", "steward-password")
        [listed] = client.get("/api/v1/pull-holds").json()
        assert (listed["hold_id"], listed["to_end"], listed["status"]) == (held.hold_id, ROWS, "pending")
        page = client.get("/console/pull-holds")
        assert page.status_code == 200 and f'data-hold="{held.hold_id}"' in page.text
        # The form without its CSRF token is refused; with it, the rejection is done.
        forged = client.post("/console/pull-holds", data={"hold_id": held.hold_id, "decision": "reject"})
        assert forged.status_code == 403
        rejected = client.post("/console/pull-holds", data={"hold_id": held.hold_id, "decision": "reject",
                                                            "csrf": form_token(client, "/console/pull-holds")})
        assert rejected.status_code == 200 and "已驳回" in rejected.text
        assert client.get("/api/v1/pull-holds").json() == []
        late = client.post(f"/api/v1/pull-holds/{held.hold_id}/accept", json={"note": ""})
        assert late.status_code == 409 and "rejected" in late.json()["detail"]
        assert client.post("/api/v1/pull-holds/no-such-hold/accept", json={}).status_code == 404
    assert hub.ends(spec.source) == []
    department.dispose()
