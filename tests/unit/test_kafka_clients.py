"""Issue 16: the hub's Kafka clients are built in one place, ``kafka_adapter.clients``: the cluster's
credentials and the hub's defaults applied, the caller's own options passed through.

No broker is needed: with ``api_version`` given, kafka-python builds its clients without connecting,
and an aiokafka producer connects only when started."""

from __future__ import annotations

import asyncio

import pytest

from kafka_adapter import clients
from kafka_adapter.security import KafkaSecurity, register

SECURED = "kafka.clients-unit:9093"
PLAIN = "127.0.0.1:1"  # nobody registered it: PLAINTEXT
NO_PROBE = {"api_version": (3, 0)}


@pytest.fixture(autouse=True, scope="module")
def _secured_cluster() -> None:
    register(SECURED, KafkaSecurity("SASL_SSL", "SCRAM-SHA-512", "onceonly-hub", "pw"))


def test_a_consumer_reads_by_assignment_with_the_clusters_credentials_and_the_callers_options() -> None:
    consumer = clients.consumer(SECURED, client_id="onceonly-unit", max_poll_records=7, **NO_PROBE)
    try:
        config = consumer.config
        assert (config["group_id"], config["enable_auto_commit"]) == (None, False)
        assert (config["client_id"], config["max_poll_records"], config["bootstrap_servers"]) == (
            "onceonly-unit", 7, SECURED)
        assert (config["security_protocol"], config["sasl_mechanism"], config["sasl_plain_username"]) == (
            "SASL_SSL", "SCRAM-SHA-512", "onceonly-hub")
    finally:
        consumer.close()


def test_a_consumer_joins_a_group_only_when_asked() -> None:
    consumer = clients.consumer(PLAIN, client_id="onceonly-unit", group_id="g", enable_auto_commit=True, **NO_PROBE)
    try:
        assert (consumer.config["group_id"], consumer.config["enable_auto_commit"]) == ("g", True)
        assert consumer.config["security_protocol"] == "PLAINTEXT"
    finally:
        consumer.close()


def test_a_producer_waits_for_every_replica_unless_the_caller_says_otherwise() -> None:
    producer = clients.producer(SECURED, client_id="onceonly-unit", linger_ms=5, **NO_PROBE)
    try:
        assert producer.config["acks"] == -1  # "all"
        assert (producer.config["client_id"], producer.config["linger_ms"]) == ("onceonly-unit", 5)
        assert (producer.config["security_protocol"], producer.config["sasl_plain_username"]) == (
            "SASL_SSL", "onceonly-hub")
    finally:
        producer.close(timeout=1)
    relaxed = clients.producer(PLAIN, client_id="onceonly-unit", acks=1, **NO_PROBE)
    try:
        assert (relaxed.config["acks"], relaxed.config["security_protocol"]) == (1, "PLAINTEXT")
    finally:
        relaxed.close(timeout=1)


def test_a_caller_cannot_replace_the_clusters_credentials() -> None:
    with pytest.raises(TypeError, match="security_protocol"):
        clients.consumer(SECURED, client_id="onceonly-unit", security_protocol="PLAINTEXT", **NO_PROBE)


def test_the_aiokafka_producer_gets_the_credentials_and_acks_all() -> None:
    async def build() -> tuple[object, ...]:
        producer = clients.async_producer(SECURED, client_id="onceonly-unit-sink", enable_idempotence=True,
                                          request_timeout_ms=1234)
        try:
            client = producer.client
            return (client._client_id, client._security_protocol, client._sasl_plain_username,
                    client._ssl_context is not None, producer._sender._acks, producer._request_timeout_ms)
        finally:
            await producer.stop()

    assert asyncio.run(build()) == ("onceonly-unit-sink", "SASL_SSL", "onceonly-hub", True, -1, 1234)
