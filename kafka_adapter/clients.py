"""Where the hub builds its Kafka clients: producers, consumers and admin clients (kafka-python) and
the connectors' aiokafka producer.

Each factory takes the cluster's address and the client's id, applies the cluster's credentials
(:func:`kafka_adapter.security.client_options` / :func:`~kafka_adapter.security.aiokafka_options`)
and the hub's defaults, and passes every other keyword argument through to the client unchanged:
the caller keeps its own options (idempotence, linger, timeouts, serializers, API version). A caller
cannot override the credentials (a security option given twice is a ``TypeError``).

The client libraries are imported when a client is built, so importing this module costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kafka_adapter.security import aiokafka_options, client_options

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

__all__ = ["PRODUCER_DEFAULTS", "CONSUMER_DEFAULTS", "admin", "async_producer", "consumer", "producer"]

# A send counts once every in-sync replica has it.
PRODUCER_DEFAULTS: dict[str, Any] = {"acks": "all"}
# The hub's consumers read by assignment and keep their positions themselves (checkpoints, ledgers):
# no consumer group, no committed offsets, unless a caller asks for them.
CONSUMER_DEFAULTS: dict[str, Any] = {"group_id": None, "enable_auto_commit": False}


def producer(bootstrap: str, *, client_id: str, **options: Any) -> KafkaProducer:
    """A kafka-python ``KafkaProducer`` for the cluster at ``bootstrap`` (``acks="all"`` unless given)."""
    from kafka import KafkaProducer

    return KafkaProducer(bootstrap_servers=bootstrap, client_id=client_id, **(PRODUCER_DEFAULTS | options),
                         **client_options(bootstrap))


def consumer(bootstrap: str, *, client_id: str, **options: Any) -> KafkaConsumer:
    """A kafka-python ``KafkaConsumer`` for the cluster at ``bootstrap``, subscribed to nothing
    (``group_id=None``, ``enable_auto_commit=False`` unless given)."""
    from kafka import KafkaConsumer

    return KafkaConsumer(bootstrap_servers=bootstrap, client_id=client_id, **(CONSUMER_DEFAULTS | options),
                         **client_options(bootstrap))


def admin(bootstrap: str, *, client_id: str, **options: Any) -> KafkaAdminClient:
    """A kafka-python ``KafkaAdminClient`` for the cluster at ``bootstrap``."""
    from kafka import KafkaAdminClient

    return KafkaAdminClient(bootstrap_servers=bootstrap, client_id=client_id, **options, **client_options(bootstrap))


def async_producer(bootstrap: str, *, client_id: str, **options: Any) -> AIOKafkaProducer:
    """An aiokafka ``AIOKafkaProducer`` for the cluster at ``bootstrap`` (``acks="all"`` unless given),
    not started. Call it inside the event loop the producer will run on."""
    from aiokafka import AIOKafkaProducer

    return AIOKafkaProducer(bootstrap_servers=bootstrap, client_id=client_id, **(PRODUCER_DEFAULTS | options),
                            **aiokafka_options(bootstrap))
