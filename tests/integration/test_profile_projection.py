"""The profile store as a projection of profile events, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from core.profile import checksum, merge, replay
from schemas.profile_events import ProfileCreated, ProfileEvent, RecordLinked
from schemas.resident import ResidentRecord
from store.profile_projection import DeliveredEvent, ProfileProjection

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _record(source: str, record_id: str, **fields: Any) -> ResidentRecord:
    return ResidentRecord(source=source, record_id=record_id, observed_at=T0, **fields)


def _events() -> list[ProfileEvent]:
    # two profiles of one resident, then the late evidence that merges them (p-1 is older: survives)
    a = _record("public_security", "GA-1", name="王芳", birth_date=date(1960, 5, 1), id_number="11010519600501002X")
    b = _record("community", "SQ-9", name="王芳", phones=("+8613900000000",))
    events: list[ProfileEvent] = [
        ProfileCreated(profile_id="p-1", version=1, occurred_at=T0, caused_by="e1"),
        RecordLinked(profile_id="p-1", version=2, occurred_at=T0, caused_by="e1", record=a, rule="id_number", score=1),
        ProfileCreated(profile_id="p-2", version=1, occurred_at=T0 + timedelta(1), caused_by="e2"),
        RecordLinked(profile_id="p-2", version=2, occurred_at=T0 + timedelta(1), caused_by="e2", record=b,
                     rule="probabilistic", score=0.4),
    ]
    folded = replay(events)
    events += list(merge(folded["p-1"], folded["p-2"], reason="bridging record", caused_by="e3",
                         occurred_at=T0 + timedelta(2)))
    return events


def _delivered(events: list[ProfileEvent]) -> list[DeliveredEvent]:
    return [DeliveredEvent("profile-events", hash(e.profile_id) % 2, i, e) for i, e in enumerate(events)]


def test_the_store_equals_the_fold_of_the_log(store_engine: Engine) -> None:
    events = _events()
    projection = ProfileProjection(store_engine, id_hash_key="k")
    for d in _delivered(events):  # one event per batch, as a slow stream would deliver them
        projection.apply([d])
    expected = replay(events)
    assert projection.checksum() == checksum(expected)
    links = list(projection.links())
    assert links == [("community", "SQ-9", "p-1"), ("public_security", "GA-1", "p-1")]


def test_redelivery_changes_nothing(store_engine: Engine) -> None:
    projection = ProfileProjection(store_engine, id_hash_key="k")
    delivered = _delivered(_events())
    assert projection.apply(delivered) == len(delivered)
    before = projection.checksum()
    assert projection.apply(delivered) == 0
    assert projection.checksum() == before


def test_the_store_never_holds_a_raw_id_number_outside_the_profile_document(store_engine: Engine) -> None:
    from sqlalchemy import select

    from store.profile_tables import profiles

    projection = ProfileProjection(store_engine, id_hash_key="k")
    projection.apply(_delivered(_events()))
    with store_engine.connect() as conn:
        row = conn.execute(select(profiles).where(profiles.c.profile_id == "p-1")).one()
    assert row.id_hash and row.id_hash != "11010519600501002X"
    assert row.name == "王芳" and row.status == "active"


def _terms(engine: Engine, profile_id: str) -> dict[str, set[str]]:
    from sqlalchemy import select

    from store.profile_tables import profile_search_terms as t

    out: dict[str, set[str]] = {}
    with engine.connect() as conn:
        for row in conn.execute(select(t.c.kind, t.c.term).where(t.c.profile_id == profile_id)):
            out.setdefault(row.kind, set()).add(row.term)
    return out


def test_search_terms_follow_the_profile_through_link_merge_and_end(store_engine: Engine) -> None:
    from core.standardise import parse_address
    from schemas.profile_events import RecordEnded, RecordUpdated

    projection = ProfileProjection(store_engine, id_hash_key="k")
    events = _events()
    premerge = [e for e in events if e.version <= 2]
    projection.apply(_delivered(premerge))
    # before the merge each profile is found by what its own record holds
    assert _terms(store_engine, "p-2")["phone"] == {"+8613900000000"}
    assert "王芳" in _terms(store_engine, "p-1")["name"] and "phone" not in _terms(store_engine, "p-1")

    projection.apply(_delivered(events))
    # merged: the survivor holds the merged-away record's phone; the redirect holds no terms at all
    assert _terms(store_engine, "p-1")["phone"] == {"+8613900000000"}
    assert _terms(store_engine, "p-2") == {}

    # a new address from the community record: its lines and bigrams replace nothing else's
    survivor = replay(events)["p-1"]
    old = survivor.records["community:SQ-9"].record
    moved = old.model_copy(update={"addresses": {"residential": parse_address("秦淮区瞻园路12-3-2-301")}})
    at = T0 + timedelta(3)
    updated = RecordUpdated(profile_id="p-1", version=survivor.version + 1, occurred_at=at, caused_by="e4", record=moved)
    projection.apply([DeliveredEvent("profile-events", 5, 0, updated)])
    terms = _terms(store_engine, "p-1")
    assert "瞻园路12号3栋2单元301室" in "".join(terms["address_line"])  # the housing short form spelled out
    assert {"瞻园", "园路", "01"} <= terms["address"]

    # the source deletes the community record: its phone and address go from the index
    ended = RecordEnded(profile_id="p-1", version=survivor.version + 2, occurred_at=at + timedelta(1),
                        caused_by="e5", source="community", record_id="SQ-9")
    projection.apply([DeliveredEvent("profile-events", 5, 1, ended)])
    terms = _terms(store_engine, "p-1")
    assert "phone" not in terms and "address" not in terms
    assert terms["name"] >= {"王芳"}


def test_the_grid_is_qualified_by_the_community_its_record_names(store_engine: Engine) -> None:
    from sqlalchemy import select

    from store.profile_tables import profiles

    visit = _record("community", "SQ-1", name="李娜", attributes={"community": "秦虹社区", "grid": "第2网格"})
    other = _record("community", "SQ-2", name="赵敏", attributes={"community": "瞻园社区", "grid": "第2网格"})
    events: list[ProfileEvent] = []
    for pid, record in (("p-a", visit), ("p-b", other)):
        events += [ProfileCreated(profile_id=pid, version=1, occurred_at=T0, caused_by=pid),
                   RecordLinked(profile_id=pid, version=2, occurred_at=T0, caused_by=pid, record=record,
                                rule="probabilistic", score=1)]
    ProfileProjection(store_engine, id_hash_key="k").apply(_delivered(events))
    with store_engine.connect() as conn:
        grids: dict[str, str | None] = {pid: grid for pid, grid in conn.execute(
            select(profiles.c.profile_id, profiles.c.grid)).all()}
    assert grids == {"p-a": "秦虹社区/第2网格", "p-b": "瞻园社区/第2网格"}  # same grid number, two grids


def test_two_projections_taking_turns_write_what_one_writes(store_engine: Engine, tmp_path: Any) -> None:
    """Each projection keeps the profiles it wrote; when another one (a worker that took over the
    partition) wrote a newer version since, the kept copy must not be folded on."""
    from store.engine import make_engine

    events = _events()
    first, second = (ProfileProjection(store_engine, id_hash_key="k") for _ in range(2))
    for n, d in enumerate(_delivered(events)):
        (first, second, second, first, first, second, first)[n % 7].apply([DeliveredEvent(d.topic, 0, n, d.event)])
    alone = ProfileProjection(make_engine(f"sqlite:///{tmp_path / 'alone.db'}"), id_hash_key="k")
    alone.apply([DeliveredEvent("profile-events", 0, n, e) for n, e in enumerate(events)])
    assert first.store_checksum() == second.store_checksum() == alone.store_checksum()
    assert first.checksum() == checksum(replay(events))
    assert sorted(first.links()) == sorted(alone.links())
