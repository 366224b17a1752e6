"""The ledger agent: raw.* → the SQL ledger of source-record versions (``source_records``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial
from typing import Any

import faust

from core.ports import Delivered
from metrics.definitions import WorkerMetrics
from streams.batches import BATCH_SIZE, BATCH_WITHIN_S, decode_batch, highwater
from streams.retry import until_applied


def add_ledger_agent(app: faust.App, *, raw: faust.TopicT, ledger_apply: Callable[[Sequence[Delivered]], int],
                     metrics: WorkerMetrics) -> Any:
    """Register the ``ledger`` agent on ``app``; return it.

    ``ledger_apply``: the ledger's ``apply``, timed by ``metrics`` (``build_app`` times it whether
    or not this worker runs the agent, as it always has)."""

    ends = highwater(app)

    async def land_source_records(stream: faust.StreamT[bytes]) -> AsyncIterator[int]:
        """Land every source-record version in the SQL ledger (raw.* → source_records)."""
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN_S):  # type: ignore[attr-defined]
            metrics.read("ledger", events, ends)
            batch, _ = decode_batch(events)  # the standardise agent dead-letters what is unreadable
            landed = await until_applied("ledger", partial(ledger_apply, batch))
            metrics.wrote("ledger", landed)
            yield landed

    return app.agent(raw, name="ledger")(land_source_records)
