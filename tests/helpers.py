"""Small helpers for integration tests: waiting, reading topics, running the CLI as a process,
writing department files, reading where the store places a record's profile."""

from __future__ import annotations

import csv
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer
from sqlalchemy import Engine, select

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


def write_department_files(folder: Path, departments: Mapping[str, Sequence[Mapping[str, str]]]) -> None:
    """One ``<source>.csv`` per department in ``folder`` (UTF-8 with BOM, as departments export them)."""
    folder.mkdir(parents=True)
    for source, rows in departments.items():
        with (folder / f"{source}.csv").open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


def placed(engine: Engine, record: str) -> tuple[str, str | None, str | None, bool] | None:
    """The profile holding ``record`` (source:record_id): its id, community, grid and 住址有冲突 flag."""
    from store.profile_tables import profiles, record_links

    source, record_id = record.split(":", 1)
    with engine.connect() as conn:
        row = conn.execute(
            select(profiles.c.profile_id, profiles.c.community, profiles.c.grid, profiles.c.place_contested)
            .join(record_links, record_links.c.profile_id == profiles.c.profile_id)
            .where(record_links.c.source == source, record_links.c.record_id == record_id)).one_or_none()
    return None if row is None else (row.profile_id, row.community, row.grid, bool(row.place_contested))
