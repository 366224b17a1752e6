"""Sending envelopes to Kafka with kafka-python: acknowledged by all replicas, or retried."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType

from kafka import KafkaProducer
from kafka.errors import KafkaError
from pydantic import BaseModel

from connectors.kafka_security import client_options
from schemas.codec import encode


class SinkError(RuntimeError):
    pass


@dataclass(frozen=True)
class Acked:
    topic: str
    partition: int
    offset: int


class KafkaSink:
    """A producer that only reports success once the broker acknowledged every record."""

    def __init__(self, bootstrap: str, *, client_id: str = "onceonly-connector") -> None:
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            **client_options(bootstrap),
            client_id=client_id,
            acks="all",
            retries=2**31 - 1,
            max_in_flight_requests_per_connection=1,
            linger_ms=10,
            batch_size=256 * 1024,
            compression_type="gzip",
            request_timeout_ms=30_000,
            max_block_ms=120_000,
        )
        self._pending = []  # type: ignore[var-annotated]

    @property
    def api_version(self) -> tuple[int, ...] | None:
        """The broker's API version, as the producer found it when it connected: a consumer of
        the same cluster given it skips probing for it again (a tenth of a second per run)."""
        found = self._producer.config.get("api_version")
        return tuple(found) if found else None

    def send(self, topic: str, key: str, event: BaseModel) -> None:
        # Keys are source identities (source:record_id), never ID numbers.
        self._pending.append(self._producer.send(topic, key=key.encode("utf-8"), value=encode(event)))

    def flush(self, timeout: float = 300.0) -> list[Acked]:
        """Block until every sent record is acknowledged; return where each one landed.

        The producer retries on its own while the broker is away; only when ``timeout`` runs out
        does this raise, and then nothing after the last acknowledged page is checkpointed.
        """
        self._producer.flush(timeout=timeout)
        pending, self._pending = self._pending, []
        acked: list[Acked] = []
        for future in pending:
            try:
                meta = future.get(timeout=timeout)
            except KafkaError as exc:
                raise SinkError(f"broker did not acknowledge a record: {type(exc).__name__}") from exc
            acked.append(Acked(meta.topic, meta.partition, meta.offset))
        return acked

    def close(self) -> None:
        self._producer.close(timeout=30)

    def __enter__(self) -> KafkaSink:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def acknowledged_batch_publisher(address: Callable[[], str], topic: str, *, client_id: str = "onceonly-steward",
                                 timeout: float = 30.0) -> Callable[[Sequence[tuple[str, BaseModel]]], None]:
    """Send (key, event) pairs to ``topic`` in order and return once the broker acknowledged them
    all (a decision's events: rare, and the caller answers only after they are in the log)."""

    def publish(events: Sequence[tuple[str, BaseModel]]) -> None:
        if not events:
            return
        with KafkaSink(address(), client_id=client_id) as sink:
            for key, event in events:
                sink.send(topic, key, event)
            sink.flush(timeout=timeout)

    return publish


def acknowledged_publisher(address: Callable[[], str], topic: str, *, client_id: str = "onceonly-steward",
                           timeout: float = 30.0) -> Callable[[str, BaseModel], None]:
    """One event at a time, acknowledged (:func:`acknowledged_batch_publisher` of one)."""
    batch = acknowledged_batch_publisher(address, topic, client_id=client_id, timeout=timeout)

    def publish(key: str, event: BaseModel) -> None:
        batch([(key, event)])

    return publish
