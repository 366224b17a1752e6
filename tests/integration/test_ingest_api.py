"""The ingest API on a real uvicorn server and the real broker: community workers push visits.

The server runs the real ``api.app.create_app`` with the real mapping files, in a thread of this
process on a free port; the client is ``simulators.community.CommunityWorker`` (httpx).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from api.app import create_app
from connectors.state import ConnectorState
from localinfra.processes import free_port
from onceonly import bootstrap
from onceonly.settings import Settings
from schemas.source_record import DeadLetter, SourceRecord
from simulators.community import CommunityWorker, bad_visits, visits
from tests.helpers import read_topic

pytestmark = pytest.mark.kafka

TOKENS = {"community": "community-token-qinhuai", "housing": "housing-token"}


@dataclass
class Hub:
    url: str
    settings: Settings

    def worker(self, token: str = TOKENS["community"]) -> CommunityWorker:
        return CommunityWorker(self.url, token)

    def raw(self) -> list[SourceRecord]:
        found = read_topic(self.settings.kafka_bootstrap or "", self.settings.raw_topic("community"))
        return [r for r in found if isinstance(r, SourceRecord)]

    def dead_letters(self) -> list[DeadLetter]:
        found = read_topic(self.settings.kafka_bootstrap or "", self.settings.deadletter_topic)
        return [d for d in found if isinstance(d, DeadLetter)]


@pytest.fixture
def hub(hub_settings: Settings) -> Iterator[Hub]:
    settings = hub_settings.model_copy(update={"ingest_tokens": Settings(ingest_tokens=TOKENS).ingest_tokens})
    bootstrap.prepare_topics(settings)
    engine = bootstrap.engine(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(engine, bootstrap.sources(settings), settings),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield Hub(f"http://127.0.0.1:{port}", settings)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        engine.dispose()


def _post(hub: Hub, body: bytes | Mapping[str, object], token: str = TOKENS["community"],
          source: str = "community") -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if isinstance(body, bytes):
        return httpx.post(f"{hub.url}/api/v1/ingest/{source}", content=body,
                          headers=headers | {"Content-Type": "application/json"}, timeout=60)
    return httpx.post(f"{hub.url}/api/v1/ingest/{source}", json=body, headers=headers, timeout=60)


def test_an_accepted_batch_is_counted_and_every_visit_reaches_the_raw_topic_once(hub: Hub) -> None:
    rows = visits(200)
    with hub.worker() as worker:
        counts = worker.post(rows, batch_id="round-1")
    assert {k: counts[k] for k in ("read", "events", "unchanged", "dead_letters")} == \
        {"read": 200, "events": 200, "unchanged": 0, "dead_letters": 0}
    raw = hub.raw()
    assert sorted(r.record_id for r in raw) == sorted(r["走访编号"] for r in rows)
    assert all(r.location.startswith("round-1#") and r.identity == f"community:{r.record_id}" for r in raw)


def test_posting_the_same_batch_again_sends_nothing_and_a_corrected_visit_sends_one_version(hub: Hub) -> None:
    rows = visits(50)
    with hub.worker() as worker:
        worker.post(rows)
        again = worker.post(rows)
        rows[7] = {**rows[7], "联系电话": "13912345678"}  # the worker corrects one phone number
        corrected = worker.post(rows)
    assert (again["events"], again["unchanged"]) == (0, 50)
    assert (corrected["events"], corrected["unchanged"]) == (1, 49)
    assert len(hub.raw()) == 51


def test_the_same_batch_posted_twice_at_once_still_reaches_the_topic_once(hub: Hub) -> None:
    rows = visits(100)
    with hub.worker() as one, hub.worker() as two, ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda w: w.post(rows), (one, two)))
    assert sorted(r["events"] for r in results) == [0, 100]
    assert len(hub.raw()) == 100


def test_bad_rows_become_dead_letters_and_the_counts_add_up(hub: Hub) -> None:
    good = visits(20)
    bad = bad_visits(good[0])
    with hub.worker() as worker:
        counts = worker.post(good + bad, batch_id="round-2")
    assert counts["read"] == counts["events"] + counts["unchanged"] + counts["dead_letters"] == 20 + len(bad)
    # 性别 "3" and 与户主关系 "邻居家的" are kept, the field empty with a warning (issue 13)
    kept = {"ZF-BAD-SEX", "ZF-BAD-RELATION"}
    refused = [n for n, row in enumerate(bad, start=21) if row["走访编号"] not in kept]
    assert counts["dead_letters"] == len(refused) == len(bad) - 2
    letters = hub.dead_letters()
    assert len(letters) == len(refused)
    assert {d.location for d in letters} == {f"round-2#{n}" for n in refused}
    assert all(d.source == "community" and d.reason for d in letters)
    runs = ConnectorState(bootstrap.engine(hub.settings), "community").runs()
    assert runs[-1]["dead_letters"] == len(refused) and runs[-1]["read"] == 20 + len(bad)


def test_a_missing_or_unknown_token_is_401_and_another_sources_token_is_403(hub: Hub) -> None:
    body = {"rows": visits(1)}
    missing = _post(hub, body, token="")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert _post(hub, body, token="guessed").status_code == 401
    forbidden = _post(hub, body, token=TOKENS["housing"])
    assert forbidden.status_code == 403 and "community" in forbidden.json()["detail"]
    assert hub.raw() == []


def test_a_pulled_source_cannot_be_pushed_to(hub: Hub) -> None:
    response = _post(hub, {"rows": [{"备案编号": "x"}]}, token=TOKENS["housing"], source="housing")
    assert response.status_code == 404 and "pulled" in response.json()["detail"]


def test_malformed_bodies_get_a_4xx_with_a_message_and_never_a_traceback_or_the_values(hub: Hub) -> None:
    id_number = "320104198703260055"  # a value that must not come back in any answer
    answers = {
        "not json": _post(hub, b'{"rows": [{"\xe5\xa7\x93\xe5\x90\x8d": "' + id_number.encode() + b'"'),
        "not utf-8": _post(hub, b'{"rows": [\xff]}'),
        "no rows": _post(hub, {"rows": []}),
        "rows not objects": _post(hub, {"rows": [id_number]}),
        "nested value": _post(hub, {"rows": [{"姓名": {"id": id_number}}]}),
        "unknown field": _post(hub, {"rows": [{"姓名": "王芳"}], "extra": id_number}),
    }
    for case, response in answers.items():
        assert response.status_code in (400, 422), case
        detail = response.json()["detail"]
        assert detail, case
        assert "Traceback" not in response.text and id_number not in response.text, case
    assert answers["not json"].status_code == 400 and "not valid JSON" in answers["not json"].json()["detail"]
    assert answers["rows not objects"].json()["detail"]["problems"][0].startswith("rows.0")
    assert hub.raw() == [] and hub.dead_letters() == []
