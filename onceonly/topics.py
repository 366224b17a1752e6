"""Creating the hub's topics up front, with the configured partition count."""

from __future__ import annotations

from collections.abc import Iterable

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError


def ensure_topics(bootstrap: str, names: Iterable[str], *, partitions: int,
                  compacted: Iterable[str] = ()) -> None:
    """Create missing topics; existing ones are left as they are."""
    compact = set(compacted)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="onceonly-admin")
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


def cluster_reachable(bootstrap: str) -> bool:
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="onceonly-check", request_timeout_ms=5000)
    except (KafkaError, OSError, ValueError):
        return False
    try:
        admin.describe_cluster()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()
