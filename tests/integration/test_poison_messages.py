"""Poison messages (#15): a profile event the projection cannot fold, or a message that is not an
event at all, goes to the dead-letter topic with its stage, reason and offset, and the partition
moves on; a store that does not answer sets nothing aside. On SQLite and PostgreSQL, and through a
real worker on the real broker."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka import KafkaProducer
from sqlalchemy import Engine

from onceonly import bootstrap
from onceonly.settings import Settings
from schemas.codec import encode
from schemas.profile_events import ProfileCreated, RecordLinked
from schemas.resident import ResidentRecord
from schemas.source_record import DeadLetter
from store import positions
from store.profile_projection import DeliveredEvent, ProfileProjection
from streams.poison import apply_or_set_aside
from tests.helpers import cli, cli_env, eventually, read_topic

T0 = datetime(2025, 1, 1, tzinfo=UTC)
KEY = "poison-test-key"


def events() -> list[DeliveredEvent]:
    """p-1 created and linked, then a RecordLinked for p-9 at version 5 (no earlier events: it can
    never fold), then p-2 created: the bad one sits between two good ones on one partition."""
    record = ResidentRecord(source="community", record_id="SQ-1", observed_at=T0, name="王芳")
    stream = [ProfileCreated(profile_id="p-1", version=1, occurred_at=T0, caused_by="e1"),
              RecordLinked(profile_id="p-1", version=2, occurred_at=T0, caused_by="e1", record=record, rule="steward",
                           score=1.0),
              RecordLinked(profile_id="p-9", version=5, occurred_at=T0, caused_by="e9", record=record.model_copy(
                  update={"record_id": "SQ-9"}), rule="steward", score=1.0),
              ProfileCreated(profile_id="p-2", version=1, occurred_at=T0, caused_by="e2")]
    return [DeliveredEvent("profile-events", 0, offset, event) for offset, event in enumerate(stream)]


def test_a_poison_event_is_set_aside_and_the_rest_applied(store_engine: Engine) -> None:
    projection = ProfileProjection(store_engine, id_hash_key=KEY)
    letters: list[DeadLetter] = []

    async def dead(found: list[DeadLetter]) -> None:
        letters.extend(found)

    applied = asyncio.run(apply_or_set_aside("project", events(), projection.apply, locate=_where, dead=dead,
                                             healthy=projection.healthy, skip=projection.skip, first_wait_s=0.01))
    assert applied == 3
    assert {p.profile_id for p in projection.profiles()} == {"p-1", "p-2"}
    assert [(letter.stage, letter.location) for letter in letters] == [("project", "profile-events[0]@2")]
    assert "VersionGap" in letters[0].reason
    with store_engine.connect() as conn:
        assert positions.applied_offsets(conn, ProfileProjection.CONSUMER) == {("profile-events", 0): 3}
    # redelivered: nothing applied twice, nothing set aside twice
    again = asyncio.run(apply_or_set_aside("project", events(), projection.apply, locate=_where, dead=dead,
                                           healthy=projection.healthy, skip=projection.skip, first_wait_s=0.01))
    assert again == 0 and len(letters) == 1


def test_a_store_that_does_not_answer_sets_nothing_aside(store_engine: Engine) -> None:
    projection = ProfileProjection(store_engine, id_hash_key=KEY)
    calls: list[int] = []
    letters: list[DeadLetter] = []

    def flaky(batch: Sequence[DeliveredEvent]) -> int:  # down for four calls, then back
        calls.append(len(batch))
        if len(calls) <= 4:
            raise ConnectionError("store restarting")
        return projection.apply(batch)

    async def dead(found: list[DeadLetter]) -> None:
        letters.extend(found)

    down = iter([False, True])
    good = events()[:2]
    applied = asyncio.run(apply_or_set_aside("project", good, flaky, locate=_where, dead=dead,
                                             healthy=lambda: next(down), first_wait_s=0.01))
    assert applied == 2 and letters == [] and calls[:3] == [2, 2, 2]


@pytest.mark.kafka
def test_a_worker_moves_past_a_poison_message_and_an_unreadable_one(hub_settings: Settings, tmp_path: Path) -> None:
    from localinfra.processes import spawn, stop

    bootstrap.prepare_topics(hub_settings)
    producer = KafkaProducer(bootstrap_servers=hub_settings.kafka_bootstrap)
    topic = hub_settings.profile_events_topic
    for delivered in events()[:3]:
        producer.send(topic, key=delivered.event.profile_id.encode(), value=encode(delivered.event), partition=0)
    producer.send(topic, key=b"p-x", value=b"\x00not json at all", partition=0)
    producer.send(topic, key=b"p-2", value=encode(events()[3].event), partition=0)
    producer.flush()
    producer.close()
    worker = spawn(cli("worker"), tmp_path / "worker.log", env=cli_env(hub_settings))
    projection = bootstrap.profile_projection(hub_settings)
    try:
        eventually(lambda: {p.profile_id for p in projection.profiles()} == {"p-1", "p-2"}, timeout=180, every=1.0)
        def both() -> list[DeadLetter] | None:
            found = project_letters(hub_settings)
            return found if len(found) >= 2 else None

        letters = eventually(both, timeout=60, every=1.0)
    finally:
        stop(worker)
    reasons = sorted(letter.reason.split(":")[0] for letter in letters)
    assert reasons == ["project failed on this message", "undecodable message"], reasons
    assert {letter.location.rsplit("@", 1)[1] for letter in letters} == {"2", "3"}


def project_letters(settings: Settings) -> list[DeadLetter]:
    return [letter for letter in read_topic(settings.kafka_bootstrap or "", settings.deadletter_topic)
            if getattr(letter, "stage", "") == "project"]


def _where(delivered: DeliveredEvent) -> str:
    return f"{delivered.topic}[{delivered.partition}]@{delivered.offset}"
