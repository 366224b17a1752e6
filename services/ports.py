"""What the use cases need from the adapters around them, as protocols (the store's and Kafka's
implementations satisfy them; unit tests may pass their own)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from core.access import Principal

__all__ = ["Auditor", "OutboxPublisher", "SendOutbox"]

SendOutbox = Callable[[Callable[[bytes, bytes], None], Callable[[], None]], int]
"""``ResolverState.publish_outbox``: sends the unpublished events with ``send``, then ``flush``."""

OutboxPublisher = Callable[[SendOutbox], "int | None"]
"""Runs a ``SendOutbox`` against the broker; ``None`` when Kafka is not reachable (the workers'
outbox timer publishes later)."""


class Auditor(Protocol):
    def append(self, principal: Principal, action: str, purpose: str, residents: list[str],
               fields: list[str]) -> object: ...
