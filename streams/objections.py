"""The objections sweep: a timer that closes objections the source corrected and escalates the overdue."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust

log = logging.getLogger(__name__)


def add_objections_sweep(app: faust.App, *, objections: Any, interval_s: float) -> Any:
    """Register the ``objections_sweep`` timer on ``app``; return it.

    ``objections``: a ``services.objections.ObjectionService``, swept every ``interval_s`` seconds."""

    @app.timer(interval=interval_s, name="objections_sweep")  # type: ignore[untyped-decorator]
    async def sweep_objections() -> None:
        """Close objections whose disputed value the source corrected; escalate the overdue."""
        try:
            swept = await asyncio.to_thread(objections.sweep)
        except Exception as exc:  # the broker or the store is away: the next tick tries again
            log.warning("objections: sweep failed, will retry: %s", type(exc).__name__)
            return
        if swept.closed or swept.escalated:
            log.info("objections: %d closed after a correction at source, %d escalated", swept.closed,
                     swept.escalated)

    return sweep_objections
