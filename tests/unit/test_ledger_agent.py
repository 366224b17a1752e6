"""The ledger agent in faust's test harness (no broker): decoding, batching, dead letters."""

from __future__ import annotations

import asyncio

from schemas.codec import encode
from schemas.source_record import SourceRecord
from streams.app import StreamWiring, build_app
from tests.fakes import MemoryLedger


def _app(ledger: MemoryLedger):  # type: ignore[no-untyped-def]
    return build_app(StreamWiring(app_id="unit", bootstrap="127.0.0.1:1", raw_topics=["raw.civil_affairs"],
                                  records_topic="records", deadletter_topic="deadletter", ledger=ledger))


def test_agent_hands_decoded_source_records_to_the_ledger() -> None:
    ledger = MemoryLedger()
    agent = _app(ledger).conf.onceonly_agents["ledger"]
    record = SourceRecord.of(source="civil_affairs", record_id="MZ-1", payload={"姓名": "王芳"}, mapping_version="1")
    landed: dict[int, int] = {}

    async def run() -> None:
        async with agent.test_context() as ctx:
            await ctx.put(key=b"civil_affairs:MZ-1", value=encode(record))
            await ctx.put(key=b"civil_affairs:MZ-1", value=encode(record))  # the connector sent it again
            landed.update(ctx.results)

    asyncio.run(run())
    assert ledger.versions("civil_affairs", "MZ-1") == [record]  # the version once, as decoded
    assert [d.offset for batch in ledger.batches for d in batch] == [0, 1]
    assert ledger.position("raw.civil_affairs", 0) == 1
    assert landed == {0: 1, 1: 0}  # what the agent yields per message: how many versions were new


def test_agent_dead_letters_an_undecodable_message_and_carries_on() -> None:
    from streams.batches import decode_batch

    class Msg:
        topic, partition, offset = "raw.civil_affairs", 2, 17

    class Event:
        def __init__(self, value: bytes) -> None:
            self.message, self.value = Msg(), value

    good = SourceRecord.of(source="civil_affairs", record_id="1", payload={}, mapping_version="1")
    batch, rejected = decode_batch([Event(b"\xff not json 11010519491231002X"), Event(encode(good))])
    assert [d.record for d in batch] == [good]
    assert len(rejected) == 1
    assert rejected[0].location == "raw.civil_affairs[2]@17"
    assert "11010519491231002X" not in rejected[0].model_dump_json()
