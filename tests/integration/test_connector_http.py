"""The HTTP connector against the social security (人社) API running as a real local server.

The contract suite runs with faults injected on a fixed schedule (every 3rd data request a 5xx,
every 7th a 429 with Retry-After, every 5th answered after the client's timeout), so every test
of the contract also crosses retries. The tests below add what only an HTTP source does: a
server down at the start, tokens that stop working, a page that never comes back.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.http import CURSOR, HttpSourceError, SourceUnavailable
from connectors.kafka_sink import KafkaSink
from connectors.pull import RunCounts
from connectors.state import ConnectorState
from core.privacy import redact_id_numbers
from localinfra.processes import free_port
from onceonly import bootstrap
from onceonly.settings import Settings
from simulators.social_security import Faults, SocialSecurityApi
from tests.integration.connector_contract import ConnectorContract, DepartmentSystem

MAPPING = Path(__file__).resolve().parents[2] / "mappings" / "social_security.yaml"
CLIENT_ID, CLIENT_SECRET = "onceonly-test", "s3cret-for-tests"
URL_ENV, ID_ENV, SECRET_ENV = (
    "ONCEONLY_SOCIAL_SECURITY_URL", "ONCEONLY_SOCIAL_SECURITY_CLIENT_ID", "ONCEONLY_SOCIAL_SECURITY_CLIENT_SECRET")


def scheduled_faults() -> Faults:
    # slow_s above the reader's timeout_s: a slow answer is a timeout the reader must retry
    return Faults(error_every=3, throttle_every=7, slow_every=5, slow_s=1.5, seed=7)


def department_spec(page_size: int, **transport: Any) -> dict[str, Any]:
    """The real mapping file, with pages small enough that a few dozen rows make several pages."""
    spec: dict[str, Any] = yaml.safe_load(MAPPING.read_text(encoding="utf-8"))
    spec["transport"].update({"page_size": page_size, "timeout_s": 1.0, "backoff_s": 0.05, "backoff_cap_s": 1.0,
                              "give_up_after_s": 60, **transport})
    return spec


def start_department(monkeypatch: pytest.MonkeyPatch, rows: int, faults: Faults | None = None,
                     **kwargs: Any) -> SocialSecurityApi:
    api = SocialSecurityApi.from_district(rows * 2, seed=11, rows=rows, clients={CLIENT_ID: CLIENT_SECRET},
                                          faults=faults or Faults(), **kwargs)
    api.start()
    point_at(monkeypatch, api.base_url)
    return api


def point_at(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """The settings a deployment gives the connector (the pull subprocess inherits them)."""
    monkeypatch.setenv(URL_ENV, url)
    monkeypatch.setenv(ID_ENV, CLIENT_ID)
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)


def pull(settings: Settings, spec: dict[str, Any], **kwargs: Any) -> RunCounts:
    from connectors.spec import ConnectorSpec

    with KafkaSink(settings.kafka_bootstrap or "") as sink:
        return bootstrap.connector(settings, ConnectorSpec.model_validate(spec), sink, **kwargs).run()


class TestHttpConnectorContract(ConnectorContract):
    """The contract, against the API with faults on."""

    kept_bad_rows = 2  # a birth month in the future, sex code "5": kept, the field empty

    @pytest.fixture(autouse=True)
    def _environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch

    def department(self, tmp_path: Path, n_rows: int) -> DepartmentSystem:
        api = start_department(self.monkeypatch, n_rows, scheduled_faults(), db=tmp_path / "social_security.db")
        # about 5 pages for the small suite, 30 for the SIGKILL test
        return DepartmentSystem(spec=department_spec(max(7, n_rows // 30)), state={"api": api})

    def change_one(self, system: DepartmentSystem) -> str:
        return api_of(system).change_phone()

    def delete_one(self, system: DepartmentSystem) -> str:
        return api_of(system).remove()

    def add_bad_rows(self, system: DepartmentSystem) -> int:
        return api_of(system).add_bad_records()

    def stop(self, system: DepartmentSystem) -> None:
        api_of(system).close()


def api_of(system: DepartmentSystem) -> SocialSecurityApi:
    api: SocialSecurityApi = system.state["api"]
    return api


def test_the_contract_runs_through_5xx_429_and_timeouts(hub_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    api = start_department(monkeypatch, 60, scheduled_faults())
    try:
        counts = pull(hub_settings, department_spec(7))
        assert (counts.read, counts.events, counts.dead_letters) == (60, 60, 0)
        # each fault really happened, and each was retried to a full pull
        assert api.stats.errors >= 3 and api.stats.throttled >= 1 and api.stats.slow >= 1
    finally:
        api.close()


def test_a_server_down_at_the_start_is_retried_and_nothing_is_skipped(
        hub_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    api = SocialSecurityApi.from_district(60, seed=11, rows=40, clients={CLIENT_ID: CLIENT_SECRET})
    point_at(monkeypatch, f"http://127.0.0.1:{port}")
    comes_up = threading.Timer(2.0, api.start, kwargs={"port": port})  # connection refused until then
    comes_up.start()
    started = time.monotonic()
    try:
        counts = pull(hub_settings, department_spec(7))
        assert time.monotonic() - started >= 2.0
        assert (counts.read, counts.events, counts.dead_letters) == (40, 40, 0)
        raw = [r.record_id for r in read_raw(hub_settings)]
        assert len(raw) == len(set(raw)) == 40
    finally:
        comes_up.join()
        api.close()


def test_a_token_that_stops_working_is_replaced_and_the_pull_goes_on(
        hub_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    api = start_department(monkeypatch, 35)
    try:
        # every token is revoked after each page is saved: the next request gets 401
        counts = pull(hub_settings, department_spec(7), on_page=lambda _: api.revoke_tokens())
        assert (counts.read, counts.events) == (35, 35)
        assert api.stats.unauthorized >= 4 and api.stats.tokens >= 5
    finally:
        api.close()


def test_a_row_restamped_without_a_change_is_read_again_but_sends_nothing(
        hub_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    api = start_department(monkeypatch, 10)
    try:
        pull(hub_settings, department_spec(7))  # 10 versions
        changed = api.change_phone()
        pull(hub_settings, department_spec(7))  # 1 new version
        api.update(changed)  # a batch job re-stamps gxsj; nothing else changes
        counts = pull(hub_settings, department_spec(7))
        assert (counts.read, counts.events, counts.unchanged) == (1, 0, 1)
        assert len(read_raw(hub_settings)) == 11
    finally:
        api.close()


def test_refused_credentials_fail_at_once_naming_the_setting_not_the_secret(
        hub_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    api = start_department(monkeypatch, 10)
    monkeypatch.setenv(SECRET_ENV, "not-the-secret")
    started = time.monotonic()
    try:
        with pytest.raises(HttpSourceError) as failure:
            pull(hub_settings, department_spec(7))
        assert time.monotonic() - started < 5
        assert SECRET_ENV in str(failure.value) and "not-the-secret" not in str(failure.value)
    finally:
        api.close()


def test_a_page_failing_past_the_bound_fails_the_run_and_keeps_the_last_good_page(
        hub_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    api = start_department(monkeypatch, 30)
    spec = department_spec(7, give_up_after_s=2)
    try:
        api.break_after(2)  # pages 1 and 2 come back, page 3 never does
        started = time.monotonic()
        with pytest.raises(SourceUnavailable) as failure:
            pull(hub_settings, spec)
        message = str(failure.value)
        assert time.monotonic() - started < 10
        assert "page 3" in message and "gave up" in message and redact_id_numbers(message) == message
        state = ConnectorState(bootstrap.engine(hub_settings), "social_security")
        assert state.runs()[-1]["status"] == "failed"
        second_page_last = json.loads(api.feed(None, None, 13, 1)[0])
        assert state.checkpoint(CURSOR) == {"updated_since": second_page_last["gxsj"], "after": second_page_last["grbh"]}
        assert len(read_raw(hub_settings)) == 14

        api.break_after(None)  # the department is back: the next run resumes after page 2
        counts = pull(hub_settings, spec)
        assert (counts.read, counts.events) == (16, 16)
        raw = [r.record_id for r in read_raw(hub_settings)]
        assert len(raw) == len(set(raw)) == 30
    finally:
        api.close()


def read_raw(settings: Settings) -> list[Any]:
    from schemas.source_record import SourceRecord
    from tests.helpers import read_topic

    return [r for r in read_topic(settings.kafka_bootstrap or "", settings.raw_topic("social_security"))
            if isinstance(r, SourceRecord)]
