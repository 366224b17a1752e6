"""Small helpers for integration tests: waiting, reading topics, running the CLI as a process."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer

from onceonly.settings import Settings


def eventually(check: Callable[[], Any], *, timeout: float = 60.0, every: float = 0.3) -> Any:
    """Wait until ``check()`` is truthy and return it; fail with the last value otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every message now on ``topic`` (up to its end offsets), decoded, in partition order."""
    from kafka_adapter.reader import read_log

    return [logged.event for batch in read_log(bootstrap, topic, client_id="test-reader") for logged in batch]


def cli_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "ONCEONLY_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "",
        "ONCEONLY_DATA_DIR": str(settings.data_dir),
        "ONCEONLY_TOPIC_PREFIX": settings.topic_prefix,
        "ONCEONLY_APP_ID": settings.app_id,
    })
    if settings.database_url:
        env["ONCEONLY_DATABASE_URL"] = settings.database_url
    return env


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "onceonly.cli", *args]


PROJECT = Path(__file__).resolve().parent.parent


def topic_size(bootstrap: str, topic: str) -> int:
    """How many messages ``topic`` holds (sum of its partitions' end offsets), without reading them."""
    from kafka import TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return sum(ends.values())
    finally:
        consumer.close()
