"""The housing (住建/房管) registration system: it publishes every change to its own Kafka topic.

The department owns the topic (``housing.changes``) and its published schema
(``schemas/published/housing_change.schema.json``, version 1); the hub only reads. Each message
is keyed by 备案编号, so the changes of one registration stay in order on one partition, and
its body carries the native row, 证件号码 included: the hub must not reuse the department's
key or the ID number as its own keys.

Example::

    with HousingRegistry(bootstrap, "housing.changes") as registry:
        registry.register(sample_rows("housing", 30))   # 30 upsert events
        registry.update(phone="13900000000")            # one upsert with the new row
        registry.remove()                               # one delete event
        bad = registry.publish_bad()                    # messages the hub must refuse
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

__all__ = ["DEFAULT_TOPIC", "SCHEMA_PATH", "SCHEMA_VERSION", "HousingRegistry", "change_event"]

DEFAULT_TOPIC = "housing.changes"
SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "published" / "housing_change.schema.json"
RECORD_ID = "备案编号"
EventType = Literal["upsert", "delete"]
Row = dict[str, str]


def change_event(event_type: EventType, row: Row, *, occurred_at: datetime | None = None) -> dict[str, Any]:
    """One message body as the published schema (version 1) defines it; a delete keeps the id only."""
    return {
        "schema_version": SCHEMA_VERSION,
        "event_id": uuid.uuid4().hex,
        "event_type": event_type,
        "occurred_at": (occurred_at or datetime.now(UTC)).isoformat(),
        "row": dict(row) if event_type == "upsert" else {RECORD_ID: row[RECORD_ID]},
    }


class HousingRegistry:
    """The department's current registrations and the producer that announces each change."""

    def __init__(self, bootstrap: str, topic: str = DEFAULT_TOPIC, *, partitions: int = 3) -> None:
        self.bootstrap, self.topic, self.partitions = bootstrap, topic, partitions
        self.rows: dict[str, Row] = {}
        self._producer = KafkaProducer(bootstrap_servers=bootstrap, client_id="housing-registry", acks="all",
                                       linger_ms=5)

    def create_topic(self) -> None:
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="housing-registry-admin")
        try:
            admin.create_topics([NewTopic(self.topic, num_partitions=self.partitions, replication_factor=1)])
        except TopicAlreadyExistsError:
            pass
        finally:
            admin.close()

    # -- changes, each published -------------------------------------------------------------------
    def register(self, rows: Iterable[Row]) -> int:
        """New or re-registered flats: one upsert each."""
        count = 0
        for row in rows:
            self.rows[row[RECORD_ID]] = dict(row)
            self.publish(change_event("upsert", row))
            count += 1
        self.flush()
        return count

    def update(self, record_id: str | None = None, **changes: str) -> str:
        """Change a registration (a new phone number unless told otherwise); return its 备案编号."""
        record_id = record_id or next(iter(self.rows))
        row = self.rows[record_id]
        digits = int(hashlib.sha256((record_id + row["联系电话"]).encode()).hexdigest(), 16) % 10**8
        row.update(changes or {"联系电话": f"139{digits:08d}"})
        self.publish(change_event("upsert", row))
        self.flush()
        return record_id

    def remove(self, record_id: str | None = None) -> str:
        """A registration cancelled (注销): one delete event; return its 备案编号."""
        record_id = record_id or next(iter(self.rows))
        self.publish(change_event("delete", self.rows.pop(record_id)))
        self.flush()
        return record_id

    def publish_bad(self) -> int:
        """Messages a careless release of the department's system might send; return their count.

        Not UTF-8, not JSON, a tombstone, a missing event_type, an unknown schema_version, an
        upsert without its columns (all schema-invalid), and two that match the schema but whose
        row a hub refuses: a spreadsheet formula and a 100 KB field.
        """
        template = next(iter(self.rows.values()))
        wrong_version = {**change_event("upsert", template), "schema_version": 2}
        no_type = change_event("upsert", template)
        del no_type["event_type"]
        short_row = {**change_event("upsert", template), "row": {RECORD_ID: "宁秦租备字(2024)第BAD0001号"}}
        formula = change_event("upsert", {**template, RECORD_ID: "宁秦租备字(2024)第BAD0002号",
                                          "房屋坐落": '=HYPERLINK("http://example.invalid","12-3-2-301")'})
        huge = change_event("upsert", {**template, RECORD_ID: "宁秦租备字(2024)第BAD0003号", "共有人": "某" * 35_000})
        raw: list[bytes | None] = [b"\xff\xfe\x00garbage", b'{"event_type": "upsert", ', None]
        raw += [_encode(m) for m in (wrong_version, no_type, short_row, formula, huge)]
        for value in raw:
            self._producer.send(self.topic, key=b"bad", value=value)
        self.flush()
        return len(raw)

    # -- plumbing ----------------------------------------------------------------------------------
    def publish(self, event: dict[str, Any]) -> None:
        self._producer.send(self.topic, key=event["row"][RECORD_ID].encode("utf-8"), value=_encode(event))

    def flush(self) -> None:
        self._producer.flush(timeout=60)

    def close(self) -> None:
        self._producer.close(timeout=30)

    def __enter__(self) -> HousingRegistry:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode("utf-8")
