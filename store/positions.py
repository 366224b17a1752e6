"""Consumer positions: the offset each consumer has applied, kept beside its effects."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, select, text

from store.engine import write_transaction
from store.tables import consumer_positions
from store.upsert import upsert

Position = tuple[str, int, int]  # topic, partition, offset


def applied_offsets(conn: Connection, consumer: str) -> dict[tuple[str, int], int]:
    rows = conn.execute(
        select(consumer_positions.c.topic, consumer_positions.c.partition, consumer_positions.c.offset).where(
            consumer_positions.c.consumer == consumer
        )
    )
    return {(r.topic, r.partition): r.offset for r in rows}


def is_new(seen: dict[tuple[str, int], int], topic: str, partition: int, offset: int) -> bool:
    """A message is new unless this consumer already applied its offset (redelivery is harmless)."""
    return offset > seen.get((topic, partition), -1)


def advance(conn: Connection, consumer: str, positions: Iterable[Position]) -> None:
    latest: dict[tuple[str, int], int] = {}
    for topic, partition, offset in positions:
        latest[(topic, partition)] = max(offset, latest.get((topic, partition), -1))
    rows = [
        {"consumer": consumer, "topic": t, "partition": p, "offset": o} for (t, p), o in latest.items()
    ]
    upsert(conn, consumer_positions, rows, keys=("consumer", "topic", "partition"), update=("offset",))


class TrackedConsumer:
    """What the agents' poison-message path needs from a projection with tracked positions: whether
    its store answers, and a way to record messages as handled without applying them."""

    CONSUMER: str
    engine: Engine

    def healthy(self) -> bool:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True

    def skip(self, delivered: Sequence[Any]) -> None:
        """Record ``delivered`` (topic, partition, offset) as handled; a lower offset never moves a
        position back."""
        with write_transaction(self.engine) as conn:
            seen = applied_offsets(conn, self.CONSUMER)
            advance(conn, self.CONSUMER, [(d.topic, d.partition, d.offset) for d in delivered
                                          if is_new(seen, d.topic, d.partition, d.offset)])


def store_generation(conn: Connection, consumers: Sequence[str] = ("profiles", "places")) -> tuple[Any, ...]:
    """Where the store's read side stands: the positions of the consumers that write profiles (the
    profile projection, the gazetteer's re-derivations). Equal generations: the same profiles, so
    what was counted from them still holds (a read model's cache key)."""
    t = consumer_positions
    return tuple(conn.execute(select(t.c.consumer, t.c.topic, t.c.partition, t.c.offset)
                              .where(t.c.consumer.in_(consumers))
                              .order_by(t.c.consumer, t.c.topic, t.c.partition)).tuples())
