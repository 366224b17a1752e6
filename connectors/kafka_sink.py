"""Sending envelopes to Kafka: acknowledged by all replicas, or retried until the delivery timeout.

The connectors send a record per row, tens of thousands a second, so the per-record path is
kept short: the caller's thread encodes the envelope, picks the partition as Kafka's default
partitioner does (murmur2 of the key), and appends the record to that partition's open batch
(aiokafka's record-batch builder, in C); whole batches go to an aiokafka producer running on an
event loop in a thread of its own, which sends them and collects the broker's acknowledgements.
``flush`` hands over the open batches and returns once every record sent so far is acknowledged.
(kafka-python's producer spent ~55 µs of pure Python per record, more than everything else a
connector does for a row.) Records go uncompressed: gzip, the one codec both Kafka clients here
read without another package, cost 45 µs a record at its level 9 (to about a fifth of the
bytes); a deployment that wants the disk space back can set the topics' ``compression.type``.

Order is kept per partition: batches reach the producer in the order they were closed, one
submission at a time, and the producer has one request in flight per broker, so a retried
batch is never overtaken; it is idempotent, so the broker drops a retried batch it already has.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from struct import Struct
from types import TracebackType
from typing import Any, NamedTuple

from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]
from aiokafka.errors import KafkaError  # type: ignore[import-untyped]
from pydantic import BaseModel

from kafka_adapter import clients
from schemas.codec import encode

# Batches small enough that the full ones go out while a page is still being read (a page's
# flush then waits for its last few only), handed over a few at a time (each hand-over wakes the
# producer's thread, which costs the sending thread the GIL for a while).
BATCH_BYTES = 64 * 1024
HAND_OVER_BATCHES = 4
# How long a record may wait for its acknowledgement while the producer retries (the broker
# restarting, a leader moving), as kafka-python's delivery timeout was.
DELIVERY_TIMEOUT_MS = 120_000


class SinkError(RuntimeError):
    pass


class Acked(NamedTuple):
    """Where the broker put one record (a tuple: a page makes a thousand of them)."""

    topic: str
    partition: int
    offset: int


_WORDS = Struct("<I")
_NO_HEADERS: list[tuple[str, bytes]] = []  # the batch builder wants a list; it only reads it


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (``org.apache.kafka.common.utils.Utils.murmur2``), as kafka-python's and
    aiokafka's default partitioners compute it (unsigned), a word at a time.

    >>> murmur2(b"21"), murmur2(b"foobar"), murmur2(b"a-little-bit-long-string")
    (3321034988, 3504634814, 3308985760)
    """
    length = len(data)
    m = 0x5BD1E995
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    whole = length & ~3
    for (k,) in _WORDS.iter_unpack(data[:whole]):
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    extra = length & 3
    if extra:
        if extra == 3:
            h ^= data[whole + 2] << 16
        if extra >= 2:
            h ^= data[whole + 1] << 8
        h ^= data[whole]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


@dataclass
class _Batch:
    """The open batch of one partition, and how many records it holds."""

    builder: Any
    records: int = 0


_Closed = tuple[Any, str, int, "Future[Any]"]  # a full batch: builder, topic, partition, its acknowledgement


@dataclass(frozen=True)
class _Submitted:
    topic: str
    partition: int
    records: int
    delivered: Future[Any]  # resolves to the batch's RecordMetadata (its base offset)


class KafkaSink:
    """A producer that only reports success once the broker acknowledged every record."""

    def __init__(self, bootstrap: str, *, client_id: str = "onceonly-connector") -> None:
        self._bootstrap = bootstrap
        self._lock = threading.Lock()
        self._open: dict[tuple[str, int], _Batch] = {}
        self._submitted: list[_Submitted] = []
        self._partitions: dict[str, int] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"{client_id}-sink", daemon=True)
        self._thread.start()
        self._closed_batches: list[_Closed] = []  # not yet handed to the producer's thread
        self._queue: asyncio.Queue[list[_Closed] | None] | None = None
        self._producer: AIOKafkaProducer | None = None
        self._submitter: asyncio.Future[None] | None = None
        self._closed = False
        try:
            self._call(self._start(bootstrap, client_id), timeout=DELIVERY_TIMEOUT_MS / 1000)
        except BaseException:
            self._stop_loop()
            raise

    async def _start(self, bootstrap: str, client_id: str) -> None:
        producer = clients.async_producer(bootstrap, client_id=client_id, acks="all", enable_idempotence=True,
                                          max_batch_size=BATCH_BYTES, request_timeout_ms=DELIVERY_TIMEOUT_MS,
                                          compression_type=None)
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self._producer = producer
        self._queue = asyncio.Queue()
        self._submitter = asyncio.ensure_future(self._submit_in_order(self._queue, producer))

    @staticmethod
    async def _submit_in_order(queue: asyncio.Queue[list[_Closed] | None], producer: AIOKafkaProducer) -> None:
        """Hand batches to the producer one at a time, in the order they were closed. After one
        could not be handed over none is: a later batch must not reach a partition before it."""
        failed: Exception | None = None
        while (closed := await queue.get()) is not None:
            for builder, topic, partition, done in closed:
                if failed is not None:
                    done.set_exception(failed)
                    continue
                try:
                    delivery = await producer.send_batch(builder, topic, partition=partition)
                except Exception as exc:  # told to the caller waiting on ``done``
                    failed = exc
                    done.set_exception(exc)
                    continue
                delivery.add_done_callback(lambda d, done=done: _settle(d, done))

    @property
    def api_version(self) -> tuple[int, ...] | None:
        """The broker's API version as a kafka-python client names it, when known: a consumer of
        the same cluster given it skips probing for it (``connectors.reconcile`` remembers it)."""
        from connectors.reconcile import known_api_version

        return known_api_version(self._bootstrap)

    def send(self, topic: str, key: str, event: BaseModel) -> None:
        # Keys are source identities (source:record_id), never ID numbers.
        raw_key = key.encode("utf-8")
        value = encode(event)
        with self._lock:
            partitions = self._partitions.get(topic) or self._partition_count(topic)
            slot = (topic, (murmur2(raw_key) & 0x7FFFFFFF) % partitions)
            batch = self._open.get(slot)
            if batch is None:
                batch = self._open[slot] = _Batch(self._new_builder())
            if batch.builder.append(timestamp=None, key=raw_key, value=value, headers=_NO_HEADERS) is None:
                self._close_batch(slot, batch)  # full: the record opens the next one
                batch = self._open[slot] = _Batch(self._new_builder())
                batch.builder.append(timestamp=None, key=raw_key, value=value, headers=_NO_HEADERS)  # always fits
                if len(self._closed_batches) >= HAND_OVER_BATCHES:
                    self._hand_over()
            batch.records += 1

    def flush(self, timeout: float = 300.0) -> list[Acked]:
        """Block until every sent record is acknowledged; return where each one landed.

        The producer retries on its own while the broker is away; only when the delivery timeout
        or ``timeout`` runs out does this raise, and then nothing after the last acknowledged page
        is checkpointed.
        """
        with self._lock:
            self._close_open_batches()
            submitted, self._submitted = self._submitted, []
        acked: list[Acked] = []
        for batch in submitted:
            try:
                meta = batch.delivered.result(timeout=timeout)
            except FutureTimeout as exc:
                raise SinkError(f"broker did not acknowledge a record of {batch.topic} in {timeout:.0f} s") from exc
            except Exception as exc:  # a KafkaError, or the producer stopped under it
                raise SinkError(f"broker did not acknowledge a record: {type(exc).__name__}") from exc
            acked.extend(Acked(batch.topic, batch.partition, meta.offset + i) for i in range(batch.records))
        return acked

    def close(self) -> None:
        """Send what is still open, wait (a while) for it, and stop the producer."""
        if self._closed:
            return
        self._closed = True
        try:
            with self._lock:
                self._close_open_batches()
            if self._queue is not None:
                self._loop.call_soon_threadsafe(self._queue.put_nowait, None)
            if self._producer is not None:
                self._call(self._stop(self._producer), timeout=30)
        except (FutureTimeout, KafkaError, OSError):
            pass  # what was not acknowledged was not checkpointed either: the next run re-sends it
        finally:
            self._stop_loop()

    async def _stop(self, producer: AIOKafkaProducer) -> None:
        if self._submitter is not None:
            await self._submitter
        await producer.stop()

    # -- inside ----------------------------------------------------------------------------------
    def _new_builder(self) -> Any:
        assert self._producer is not None
        return self._producer.create_batch()

    def _partition_count(self, topic: str) -> int:
        assert self._producer is not None
        try:
            found = self._call(self._producer.partitions_for(topic), timeout=DELIVERY_TIMEOUT_MS / 1000)
        except (FutureTimeout, KafkaError) as exc:
            raise SinkError(f"no partitions known for topic {topic}: {type(exc).__name__}") from exc
        self._partitions[topic] = len(found)
        return len(found)

    def _close_batch(self, slot: tuple[str, int], batch: _Batch) -> None:
        done: Future[Any] = Future()
        self._closed_batches.append((batch.builder, slot[0], slot[1], done))
        self._submitted.append(_Submitted(slot[0], slot[1], batch.records, done))

    def _close_open_batches(self) -> None:
        for slot, batch in self._open.items():
            self._close_batch(slot, batch)
        self._open.clear()
        self._hand_over()

    def _hand_over(self) -> None:
        """Closed batches to the producer's thread, several at a time: each hand-over wakes that
        thread, and a wake-up costs the sending thread the GIL for a while."""
        if self._closed_batches and self._queue is not None:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, self._closed_batches)
            self._closed_batches = []

    def _call(self, coroutine: Any, *, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=timeout)

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> KafkaSink:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _settle(delivery: asyncio.Future[Any], done: Future[Any]) -> None:
    if delivery.cancelled():
        done.cancel()
    elif (error := delivery.exception()) is not None:
        done.set_exception(error)
    else:
        done.set_result(delivery.result())


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
