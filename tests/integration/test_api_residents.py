"""The query service over a real store: search, profile with provenance, household, history, time
travel, and clear 4xx answers to bad input (httpx against the real app, real SQLite store)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import opencc
import pytest
from fastapi.testclient import TestClient

from tests.integration.api_world import World, build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("api-residents"), tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def steward(world: World) -> Iterator[TestClient]:
    with world.app_client() as client:
        yield world.login(client, "steward")


def test_a_name_is_found_written_simplified_traditional_or_in_pinyin(world: World, steward: TestClient) -> None:
    resident = world.one(world.community_a)
    name = resident.golden.name.value  # type: ignore[union-attr]
    traditional = opencc.OpenCC("s2t").convert(name)
    pinyin = next(r.record.name_pinyin for r in resident.records.values() if r.record.name_pinyin)
    for written in (name, traditional, pinyin, pinyin.replace(" ", "")):
        answer = steward.get("/api/v1/residents", params={"name": written})
        assert answer.status_code == 200, answer.text
        ids = [hit["profile_id"] for hit in answer.json()["results"]]
        assert resident.profile_id in ids, written
    exact = steward.get("/api/v1/residents", params={"name": name}).json()["results"]
    assert exact[0]["name"] == name and exact[0]["score"] == 1.0  # the exact name ranks first


def test_an_id_number_is_searched_by_post_and_refused_in_a_url(world: World, steward: TestClient) -> None:
    resident = world.one(world.community_a, with_id=True)
    number = resident.golden.id_number.value  # type: ignore[union-attr]
    answer = steward.post("/api/v1/residents/search", json={"id_number": number})
    assert answer.status_code == 200
    hits = answer.json()["results"]
    assert [h["profile_id"] for h in hits] == [resident.profile_id]
    assert number not in answer.text and hits[0]["id_number"] == number[:6] + "********" + number[-4:]
    refused = steward.get("/api/v1/residents", params={"id_number": number})
    assert refused.status_code == 400 and "POST" in refused.json()["detail"]
    assert number not in refused.text


def test_phone_address_and_household_searches_find_the_resident(world: World, steward: TestClient) -> None:
    resident = world.one(world.community_a, with_phone=True)
    phone = resident.golden.phones.value[0]  # type: ignore[union-attr]
    found = steward.post("/api/v1/residents/search", json={"phone": phone[-11:]}).json()["results"]
    assert resident.profile_id in [h["profile_id"] for h in found]
    household = next(p for p in world.profiles_in(world.community_a) if p.household_id)
    members = steward.get("/api/v1/residents", params={"household": household.household_id}).json()["results"]
    assert household.profile_id in [h["profile_id"] for h in members]
    address = (household.golden.residential_address or household.golden.registered_address).value.raw  # type: ignore[union-attr]
    by_address = steward.get("/api/v1/residents", params={"address": address[-8:]}).json()["results"]
    assert household.profile_id in [h["profile_id"] for h in by_address]


def _project_resident(world: World, profile_id: str, record: object) -> None:
    """One more resident, projected by the real projection (offsets of a topic no other test uses)."""
    from schemas.profile_events import ProfileCreated, RecordLinked
    from store.profile_projection import DeliveredEvent, ProfileProjection
    from tests.integration.api_world import KEY

    at = record.observed_at  # type: ignore[attr-defined]
    events = [ProfileCreated(profile_id=profile_id, version=1, occurred_at=at, caused_by=profile_id),
              RecordLinked(profile_id=profile_id, version=2, occurred_at=at, caused_by=profile_id,
                           record=record, rule="probabilistic", score=1.0)]
    ProfileProjection(world.engine, id_hash_key=KEY).apply(
        [DeliveredEvent(f"test-{profile_id}", 0, i, e) for i, e in enumerate(events)])


def _record(world: World, source: str, record_id: str, name: str, **fields: object) -> object:
    from schemas.resident import ResidentRecord

    at = world.one(world.community_a).updated_at
    return ResidentRecord(source=source, record_id=record_id, observed_at=at, name=name, **fields)


def test_phone_and_address_searches_miss_when_nobody_holds_them(world: World, steward: TestClient) -> None:
    from core.standardise import parse_address

    nobody = steward.post("/api/v1/residents/search", json={"phone": "13700001111"})
    assert nobody.status_code == 200 and nobody.json()["results"] == []
    nowhere = steward.get("/api/v1/residents", params={"address": "不存在路999号"})
    assert nowhere.status_code == 200 and nowhere.json()["results"] == []
    # "2号12": each of its character pairs is in this address, but not the fragment as a whole
    _project_resident(world, "p-miss", _record(world, "community", "MISS-1", "丙三",
                                               addresses={"residential": parse_address("秦淮区测试街12号1栋")}))
    assert "p-miss" in [h["profile_id"] for h in steward.get(
        "/api/v1/residents", params={"address": "测试街12号1栋"}).json()["results"]]
    hits = steward.get("/api/v1/residents", params={"address": "2号12"}).json()["results"]
    assert "p-miss" not in [h["profile_id"] for h in hits]


def test_an_address_fragment_is_found_however_it_is_typed(world: World, steward: TestClient) -> None:
    resident = next(p for p in world.profiles_in(world.community_a)
                    if p.golden.residential_address and p.golden.residential_address.value.building
                    and p.golden.residential_address.value.compound)
    address = resident.golden.residential_address.value  # type: ignore[union-attr]
    assert address.building is not None
    # compound and building as a worker types them: 幢 for 栋, full-width digits, a stray space
    typed = f"{address.compound} {address.building.translate(str.maketrans('0123456789', '０１２３４５６７８９'))}幢"
    hits = steward.get("/api/v1/residents", params={"address": typed}).json()["results"]
    assert resident.profile_id in [h["profile_id"] for h in hits]
    assert all(h["score"] > 0 for h in hits)


def test_search_ranks_the_surviving_value_above_an_older_records(world: World, steward: TestClient) -> None:
    from core.standardise import parse_address

    place = parse_address("南京市秦淮区测试路77号")  # on no other resident's address
    _project_resident(world, "p-rank-lives", _record(world, "community", "RANK-1", "甲一",
                                                     addresses={"residential": place}, phones=("+8613755550001",)))
    _project_resident(world, "p-rank-registered", _record(world, "public_security", "RANK-2", "乙二",
                                                          addresses={"registered": place}))
    hits = steward.get("/api/v1/residents", params={"address": "测试路77号"}).json()["results"]
    # where the resident lives now ranks above a registered (户籍) address
    assert [(h["profile_id"], h["score"]) for h in hits] == [("p-rank-lives", 1.0), ("p-rank-registered", 0.9)]
    found = steward.post("/api/v1/residents/search", json={"phone": "137 5555 0001"}).json()["results"]
    assert [h["profile_id"] for h in found] == ["p-rank-lives"] and found[0]["score"] == 1.0
    both = steward.post("/api/v1/residents/search", json={"phone": "13755550001", "address": "测试路77号"}).json()
    assert [h["profile_id"] for h in both["results"]] == ["p-rank-lives"]


def test_results_are_paged(world: World, steward: TestClient) -> None:
    from collections import Counter

    names = [p.golden.name.value for c in (world.community_a, world.community_b) for p in world.profiles_in(c)
             if p.golden.name]
    surname = Counter(n[0] for n in names).most_common(1)[0][0]
    first = steward.get("/api/v1/residents", params={"name": surname, "size": 2}).json()
    second = steward.get("/api/v1/residents", params={"name": surname, "size": 2, "page": 2}).json()
    assert first["total"] > 2 and len(first["results"]) == 2
    assert not {h["profile_id"] for h in first["results"]} & {h["profile_id"] for h in second["results"]}


def test_a_profile_shows_each_field_with_source_observed_time_records_household_and_history(
        world: World, steward: TestClient) -> None:
    resident = next(p for p in world.profiles_in(world.community_a) if p.household_id and len(p.records) > 1)
    view = steward.get(f"/api/v1/residents/{resident.profile_id}").json()
    fields = {f["field"]: f for f in view["fields"]}
    assert fields["name"]["value"] == resident.golden.name.value  # type: ignore[union-attr]
    assert fields["name"]["source"] == resident.golden.name.provenance.source  # type: ignore[union-attr]
    assert fields["name"]["observed_at"].startswith("2025-06-01")
    assert {r["record_id"] for r in view["records"]} == {r.record.record_id for r in resident.records.values()}
    assert resident.profile_id in [m["profile_id"] for m in view["household"]["members"]]
    assert [h["version"] for h in view["history"]] == list(range(resident.version, 0, -1))
    history = steward.get(f"/api/v1/residents/{resident.profile_id}/history").json()
    assert [h["version"] for h in history] == list(range(1, resident.version + 1))


def test_sensitive_fields_are_masked_until_unmasked_with_a_purpose(world: World, steward: TestClient) -> None:
    resident = world.one(world.community_a, with_id=True)
    number = resident.golden.id_number.value  # type: ignore[union-attr]
    masked = steward.get(f"/api/v1/residents/{resident.profile_id}")
    assert number not in masked.text
    assert {f["field"]: f for f in masked.json()["fields"]}["id_number"]["masked"] is True
    no_purpose = steward.post(f"/api/v1/residents/{resident.profile_id}/unmask", json={"fields": ["id_number"]})
    assert no_purpose.status_code == 422 and "purpose" in no_purpose.text
    clear = steward.post(f"/api/v1/residents/{resident.profile_id}/unmask",
                         json={"fields": ["id_number"], "purpose": "低保资格复核"})
    assert clear.status_code == 200
    assert {f["field"]: f for f in clear.json()["fields"]}["id_number"]["value"] == number
    last = world.app_client()
    entries = world.login(last, "auditor").get("/api/v1/audit", params={"resident": resident.profile_id}).json()
    assert entries["entries"][0]["action"] == "unmask" and entries["entries"][0]["purpose"] == "低保资格复核"
    assert "+id_number" in entries["entries"][0]["fields"]


def test_as_of_shows_the_profile_as_it_was(world: World, steward: TestClient) -> None:
    from schemas.profile_events import RecordUpdated
    from store.profile_projection import DeliveredEvent, ProfileProjection
    from tests.integration.api_world import KEY

    # A month later a source reports a new phone for one resident of community B.
    resident = world.one(world.community_b)
    linked = next(iter(resident.records.values()))
    later = linked.record.observed_at + timedelta(days=30)
    changed = linked.record.model_copy(update={"observed_at": later, "phones": ("+8613911112222",)})
    update = RecordUpdated(profile_id=resident.profile_id, version=resident.version + 1, occurred_at=later,
                           caused_by="test-new-phone", record=changed)
    ProfileProjection(world.engine, id_hash_key=KEY).apply([DeliveredEvent("profile-events", 0, 10**9, update)])

    now = steward.get(f"/api/v1/residents/{resident.profile_id}").json()
    then = steward.get(f"/api/v1/residents/{resident.profile_id}",
                       params={"as_of": (later - timedelta(days=1)).isoformat()}).json()
    assert now["version"] == resident.version + 1 and then["version"] == resident.version
    assert "139****2222" in str(now["fields"]) and "139****2222" not in str(then["fields"])
    assert then["as_of"] is not None
    before = steward.get(f"/api/v1/residents/{resident.profile_id}",
                         params={"as_of": (linked.record.observed_at - timedelta(days=3650)).isoformat()})
    assert before.status_code == 404 and "did not exist yet" in before.json()["detail"]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "says"), [
    ("get", "/api/v1/residents", {}, 400, "at least one"),
    ("get", "/api/v1/residents", {"params": {"name": "x", "size": 0}}, 422, "size"),
    ("get", "/api/v1/residents", {"params": {"name": "x", "page": "abc"}}, 422, "page"),
    ("get", "/api/v1/residents", {"params": {"name": "!!!"}}, 400, "no letters"),
    ("post", "/api/v1/residents/search", {"json": {"id_number": "11010519491231002Y"}}, 400, "not a valid"),
    ("post", "/api/v1/residents/search", {"content": b"{not json", "headers": {"content-type": "application/json"}},
     422, "not valid"),
    ("post", "/api/v1/residents/search", {"json": {"phone": "hello"}}, 400, "phone"),
    ("post", "/api/v1/residents/search", {"json": {"name": "王", "surprise": 1}}, 422, "surprise"),
    ("get", "/api/v1/residents/no-such-profile", {}, 404, "no resident"),
    ("get", "/api/v1/residents/x", {"params": {"as_of": "yesterday"}}, 422, "as_of"),
    ("post", "/api/v1/residents/x/unmask", {"json": {"fields": ["religion"], "purpose": "检查用途"}}, 422, "fields"),
])
def test_bad_input_gets_a_clear_4xx_never_a_stack_trace(steward: TestClient, method: str, path: str,
                                                         kwargs: dict[str, object], status: int, says: str) -> None:
    answer = getattr(steward, method)(path, **kwargs)
    assert answer.status_code == status, answer.text
    assert says in answer.text
    assert "Traceback" not in answer.text and "sqlalchemy" not in answer.text.lower()
    assert "11010519491231002Y" not in answer.text  # a submitted ID number is never echoed


def test_the_openapi_schema_documents_every_route(steward: TestClient) -> None:
    paths = steward.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/residents", "/api/v1/residents/search", "/api/v1/residents/{profile_id}",
                 "/api/v1/residents/{profile_id}/unmask", "/api/v1/reviews", "/api/v1/audit/verify",
                 "/api/v1/pipeline/health", "/api/v1/dead-letters"):
        assert path in paths


def test_no_resident_data_without_credentials(world: World, tmp_path: Path) -> None:
    with world.app_client() as anonymous:
        assert anonymous.get("/api/v1/residents", params={"name": "王"}).status_code == 401
        assert anonymous.get("/api/v1/residents", params={"name": "王"},
                             headers={"Authorization": "Bearer nope"}).status_code == 401
        assert anonymous.get("/console/", follow_redirects=False).headers["location"] == "/console/login"
