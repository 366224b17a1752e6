"""Kafka administration: creating the hub's topics up front, with the configured partition count;
whether a cluster answers; and :class:`NoBroker`, raised when no cluster is configured or running."""

from __future__ import annotations

from collections.abc import Iterable

from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from kafka_adapter import clients
from kafka_adapter.security import client_options
from localinfra.kafka_broker import cluster_reachable as _reachable

__all__ = ["NoBroker", "cluster_reachable", "ensure_topics"]


class NoBroker(RuntimeError):
    """No Kafka cluster to talk to: none configured (``ONCEONLY_KAFKA_BOOTSTRAP``) and no local broker
    running (``onceonly broker``)."""


def cluster_reachable(bootstrap: str, *, timeout_ms: int = 5000) -> bool:
    """True when the hub's client (with its credentials) can read the cluster's metadata."""
    return _reachable(bootstrap, timeout_ms=timeout_ms, options=client_options(bootstrap))


def ensure_topics(bootstrap: str, names: Iterable[str], *, partitions: int,
                  compacted: Iterable[str] = ()) -> None:
    """Create missing topics; existing ones are left as they are."""
    compact = set(compacted)
    admin = clients.admin(bootstrap, client_id="onceonly-admin")
    try:
        existing = set(admin.list_topics())
        wanted = [
            NewTopic(name, num_partitions=partitions, replication_factor=1,
                     topic_configs={"cleanup.policy": "compact"} if name in compact else {})
            for name in dict.fromkeys(names) if name not in existing
        ]
        if wanted:
            try:
                admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()
