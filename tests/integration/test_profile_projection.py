"""The profile store as a projection of profile events, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine

from core.profile import checksum, merge, replay
from schemas.profile_events import ProfileCreated, ProfileEvent, RecordLinked
from schemas.resident import ResidentRecord
from store.profile_projection import DeliveredEvent, ProfileProjection

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


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
