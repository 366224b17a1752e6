"""The connectors' sink picks each record's partition itself: it must be the partition Kafka's
default partitioner (kafka-python's, aiokafka's, the Java client's) picks for the same key, or
one key's versions would land in two partitions and lose their order."""

from __future__ import annotations

import random

from aiokafka.partitioner import DefaultPartitioner  # type: ignore[import-untyped]
from kafka.partitioner.default import murmur2 as kafka_python_murmur2

from connectors.kafka_sink import murmur2


def test_murmur2_equals_kafka_pythons_for_every_length_and_byte() -> None:
    rng = random.Random(11)
    keys = [bytes(rng.randrange(256) for _ in range(length)) for length in range(70) for _ in range(40)]
    keys += [f"public_security:{n:012d}".encode() for n in range(2000)]
    keys += ["civil_affairs:救助台账_东街.csv:17".encode(), b"", b"\xff\xff\xff\xff\xff"]
    assert [murmur2(k) for k in keys] == [kafka_python_murmur2(k) for k in keys]


def test_a_key_goes_to_the_partition_aiokafkas_default_partitioner_gives() -> None:
    partitioner = DefaultPartitioner()  # faust's agents produce with it
    for partitions in (1, 4, 7):
        every = list(range(partitions))
        for n in range(500):
            key = f"social_security:{n}".encode()
            assert (murmur2(key) & 0x7FFFFFFF) % partitions == partitioner(key, every, every)
