"""Recovering what a killed run sent but did not checkpoint, from the raw topic itself.

A connector checkpoints the raw topic's offsets with each acknowledged page. On start it reads
the topic from those offsets to its end: every record found there was sent, so it is marked
sent and will not be sent again. With that, a run killed at any instant (SIGKILL mid-page)
leaves the topic with every source row exactly once per version.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from kafka import TopicPartition

from connectors.state import Sent
from kafka_adapter import clients
from schemas.codec import decode
from schemas.source_record import SourceRecord

_API_VERSIONS: dict[str, tuple[int, ...]] = {}
_versions_lock = threading.Lock()


def known_api_version(bootstrap: str) -> tuple[int, ...] | None:
    """The cluster's API version as a consumer of this process found it, if one did."""
    with _versions_lock:
        return _API_VERSIONS.get(bootstrap)


def sent_since(bootstrap: str, topic: str, source: str, next_offsets: dict[str, int], *,
               api_version: tuple[int, ...] | None = None) -> Iterator[tuple[Sent, dict[str, int]]]:
    """Source records of ``source`` in ``topic`` past ``next_offsets`` (partition → offset).

    ``api_version``: the cluster's, when a client already found it (else the consumer probes, a
    tenth of a second, once per cluster in this process: the version found is remembered)."""
    api_version = api_version or known_api_version(bootstrap)
    consumer = clients.consumer(bootstrap, client_id=f"onceonly-reconcile-{source}",
                                **({"api_version": api_version} if api_version else {}))
    found = consumer.config.get("api_version")
    if found and not api_version:
        with _versions_lock:
            _API_VERSIONS[bootstrap] = tuple(found)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return
        consumer.assign(tps)
        ends = consumer.end_offsets(tps)
        todo = {}
        for tp in tps:
            start = int(next_offsets.get(str(tp.partition), 0))
            if start < ends[tp]:
                consumer.seek(tp, start)
                todo[tp] = ends[tp]
        position = {str(tp.partition): int(next_offsets.get(str(tp.partition), 0)) for tp in tps}
        while todo:
            batch = consumer.poll(timeout_ms=1000)
            for tp, messages in batch.items():
                for message in messages:
                    if message.offset >= todo.get(tp, -1):
                        continue
                    position[str(tp.partition)] = message.offset + 1
                    event = decode(message.value)
                    if isinstance(event, SourceRecord) and event.source == source:
                        yield Sent(event.record_id, event.content_hash, event.scope), dict(position)
            for tp in list(todo):
                if consumer.position(tp) >= todo[tp]:
                    del todo[tp]
    finally:
        consumer.close()
