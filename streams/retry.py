"""Applying a batch until it sticks: the agents' guard against losing what Kafka delivered.

faust acks a ``take_events`` batch when the agent's loop moves on, even if the body raised; so a
body must never raise. Effects are idempotent (tracked offsets, derived event ids), so retrying a
batch after a failure (a locked SQLite file, a database restart) is always safe. If the process
dies instead, nothing was acked and Kafka delivers the batch again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

from core.privacy import redact

log = logging.getLogger(__name__)
T = TypeVar("T")


async def until_applied(what: str, fn: Callable[[], T], *, first_wait_s: float = 0.5, max_wait_s: float = 30.0,
                        attempts: int | None = None) -> T:
    """Run ``fn`` in a thread until it returns; back off between failures, logging each one. With
    ``attempts``, give up after that many and raise the last failure (``streams.poison`` then looks
    for the message to blame)."""
    wait = first_wait_s
    attempt = 1
    while True:
        try:
            return await asyncio.to_thread(fn)
        except Exception as exc:
            # The exception's text may hold SQL parameters: log its type and a redacted first line only.
            detail = redact(str(exc).splitlines()[0] if str(exc) else "")[:200]
            log.warning("%s failed (attempt %d, retrying in %.1fs): %s: %s", what, attempt, wait,
                        type(exc).__name__, detail)
            if attempts is not None and attempt >= attempts:
                raise
            await asyncio.sleep(wait)
            wait = min(wait * 2, max_wait_s)
            attempt += 1
