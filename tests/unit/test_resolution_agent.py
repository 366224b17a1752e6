"""The resolve agent in faust's test harness (no broker, no database): decode, resolve, publish."""

from __future__ import annotations

import asyncio

import faust

from core.matching import default_matcher
from metrics.definitions import WorkerMetrics
from schemas.codec import decode, encode
from schemas.profile_events import ProfileEvent
from streams.resolve import add_resolve_agent
from tests.fakes import MemoryResolverState
from tests.unit.test_resolution_records import GA, SB, arrived


class RecordingSender:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes]] = []
        self.acked: list[tuple[bytes, bytes]] = []
        self.closed = False

    def send(self, key: bytes, value: bytes) -> None:
        self.sent.append((key, value))

    def flush(self) -> None:
        self.acked, self.sent = self.acked + self.sent, []

    def close(self) -> None:
        self.closed = True


def test_the_agent_resolves_delivered_records_and_publishes_the_events_keyed_by_profile() -> None:
    app = faust.App("unit-resolve", broker="kafka://127.0.0.1:1", store="memory://", key_serializer="raw",
                    value_serializer="raw")
    state, sender, metrics = MemoryResolverState(), RecordingSender(), WorkerMetrics()
    agent = add_resolve_agent(app, records_topic="records", profile_events_topic="profile-events",
                              state=state, matcher=default_matcher(), sender=sender,  # type: ignore[arg-type]
                              metrics=metrics)

    async def run() -> None:
        async with agent.test_context() as ctx:
            await ctx.put(key=b"public_security:GA-1", value=encode(arrived(GA)))
            await ctx.put(key=b"junk", value=b"\xff not an event 11010519491231002X")
            await ctx.put(key=b"social_security:SB-1", value=encode(arrived(SB)))
            await ctx.put(key=b"public_security:GA-1", value=encode(arrived(GA)))  # redelivered

    asyncio.run(run())
    assert [item.key for batch in state.batches for item in batch] == [
        "public_security:GA-1", "social_security:SB-1", "public_security:GA-1"]
    events = [decode(value) for _, value in sender.acked]
    assert [type(e).__name__ for e in events] == ["ProfileCreated", "RecordLinked", "RecordLinked"]
    keys = [key for key, _ in sender.acked]
    assert all(isinstance(e, ProfileEvent) and key == e.profile_id.encode() for key, e in zip(keys, events))
    assert sender.sent == []  # everything sent was flushed
    # the matcher's outcomes, counted by event type, as the worker's /metrics shows them
    outcomes = {event: metrics.registry.get_sample_value("onceonly_matcher_events_total", {"event": event})
                for event in ("ProfileCreated", "RecordLinked")}
    assert outcomes == {"ProfileCreated": 1.0, "RecordLinked": 2.0}
    assert metrics.registry.get_sample_value("onceonly_stage_records_in_total", {"stage": "resolve"}) == 4.0
