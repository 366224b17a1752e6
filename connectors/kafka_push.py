"""The Kafka push transport: a department that publishes its own change events to its own topic.

The hub reads that topic without a consumer group: the offsets it has read up to are the
connector's cursor, saved with the page's hashes after the hub's broker acknowledged the page,
so the connector's own checkpoint (not a group commit) decides what was taken in. One pull reads
from the saved offsets up to the end offsets seen when it started, then stops.

Every message must validate against the department's published JSON Schema
(``transport.schema``); one that does not, or is not UTF-8 JSON, becomes an ``UnreadableRow`` at
``topic[partition]@offset``. An ``upsert`` event carries the native row; a ``delete`` event carries
the record id and is marked as the mapping's ``deleted_when`` says, so the shared loop ends the
record. The department's own message keys are ignored: the loop re-keys by record id.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from connectors.rows import CursorLookup, NativeRow, Page, Row, UnreadableRow
from connectors.schema_precheck import prechecker
from connectors.spec import ConnectorSpec

log = logging.getLogger(__name__)

PUBLISHED_SCHEMAS = Path(__file__).resolve().parent.parent / "schemas" / "published"
CHECKPOINT = "topic_offsets"  # {topic: {partition: next offset}}
STALL_S = 60.0  # no progress for this long while short of the end offsets: the run fails


class KafkaPushError(RuntimeError):
    pass


class KafkaPushReader:
    """Reads ``transport.topic`` (on ``transport.bootstrap_env``'s cluster, else the hub's)."""

    def __init__(self, spec: ConnectorSpec, bootstrap: str | None = None) -> None:
        transport = spec.transport
        if "topic" not in transport or "schema" not in transport:
            raise ValueError(f"{spec.source}: kind kafka needs transport.topic and transport.schema")
        if spec.deleted_when is None:
            raise ValueError(f"{spec.source}: kind kafka needs deleted_when to mark delete events")
        self.spec = spec
        self.topic: str = transport["topic"]
        env = transport.get("bootstrap_env")
        self.bootstrap = (os.environ.get(env) if env else None) or transport.get("bootstrap") or bootstrap
        self.page_rows = int(transport.get("page_rows", 1000))
        schema = Path(transport["schema"])
        self.schema_path = schema if schema.is_absolute() else PUBLISHED_SCHEMAS / schema
        self._delete_mark = (spec.deleted_when.column, spec.deleted_when.values[0])

    # -- the Reader protocol -------------------------------------------------------------------
    def pages(self, cursors: CursorLookup) -> Iterator[Page]:
        from kafka import TopicPartition

        from kafka_adapter import clients

        if not self.bootstrap:
            raise KafkaPushError(f"{self.spec.source}: no Kafka bootstrap for topic {self.topic}")
        saved = (cursors.checkpoint(CHECKPOINT, {}) or {}).get(self.topic, {})
        consumer = clients.consumer(self.bootstrap, client_id=f"onceonly-pull-{self.spec.source}")
        try:
            partitions = consumer.partitions_for_topic(self.topic)
            if not partitions:
                raise KafkaPushError(f"{self.spec.source}: topic {self.topic} does not exist")
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            ends, starts = consumer.end_offsets(tps), consumer.beginning_offsets(tps)
            position: dict[str, int] = {}
            for tp in tps:
                wanted = int(saved.get(str(tp.partition), 0))
                if wanted < starts[tp]:
                    log.warning("%s: %s[%d] offsets %d..%d were deleted by retention before being read",
                                self.spec.source, self.topic, tp.partition, wanted, starts[tp] - 1)
                position[str(tp.partition)] = max(wanted, starts[tp])
                consumer.seek(tp, position[str(tp.partition)])
            yield from self._read(consumer, {tp: ends[tp] for tp in tps}, position)
        finally:
            consumer.close()

    def scanned_scopes(self) -> Sequence[str] | None:
        return []  # a change stream says nothing about records it did not mention

    def unchanged_scopes(self) -> Sequence[str]:
        return []

    # -- reading ---------------------------------------------------------------------------------
    def _read(self, consumer: Any, ends: dict[Any, int], position: dict[str, int]) -> Iterator[Page]:
        todo = {tp: end for tp, end in ends.items() if position[str(tp.partition)] < end}
        rows: list[Row] = []
        yielded = False
        last_progress = time.monotonic()
        while todo:
            batch = consumer.poll(timeout_ms=500, max_records=self.page_rows - len(rows))
            for tp, messages in batch.items():
                for message in messages:
                    if message.offset < todo.get(tp, -1):
                        rows.append(self._row(message.partition, message.offset, message.value))
            for tp in list(todo):
                # the position moves past transaction markers and compacted gaps too
                position[str(tp.partition)] = min(consumer.position(tp), ends[tp])
                if position[str(tp.partition)] >= todo[tp]:
                    del todo[tp]
                    consumer.pause(tp)
            if batch:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > STALL_S:
                raise KafkaPushError(f"{self.spec.source}: no progress on {self.topic} for {STALL_S:.0f}s")
            if len(rows) >= self.page_rows or (not todo and rows):
                yield Page(rows=rows, checkpoints={CHECKPOINT: {self.topic: dict(position)}})
                rows, yielded = [], True
        if not yielded:  # nothing new; still save a start moved on by retention
            yield Page(rows=(), checkpoints={CHECKPOINT: {self.topic: dict(position)}})

    def _row(self, partition: int, offset: int, value: bytes | None) -> Row:
        location = f"{self.topic}[{partition}]@{offset}"
        if value is None:
            return UnreadableRow(location, "empty message (tombstone); deletes are delete events")
        try:
            event = json.loads(value.decode("utf-8"))
        except UnicodeDecodeError as exc:
            return UnreadableRow(location, f"message is not UTF-8 (byte {exc.start})")
        except json.JSONDecodeError as exc:
            return UnreadableRow(location, f"message is not JSON: {exc.msg} at char {exc.pos}")
        problem = self._schema_problem(event)
        if problem is not None:
            return UnreadableRow(location, problem)
        values = dict(event["row"])
        if event["event_type"] == "delete":
            column, mark = self._delete_mark
            values[column] = mark
        return NativeRow(location, values)

    def _schema_problem(self, event: Any) -> str | None:
        """The first way ``event`` breaks the published schema, naming the field and the rule but
        never the value (it may be an ID number)."""
        if self._precheck is not None and self._precheck(event):
            return None  # certainly valid: the full validator would find nothing
        error = next(iter(self._validator.iter_errors(event)), None)
        if error is None:
            return None
        if error.validator in ("required", "additionalProperties"):
            rule = error.message  # names the property, not a value
        else:
            rule = f"{error.validator} {json.dumps(error.validator_value, ensure_ascii=False)}"
        return f"does not match {self.schema_path.name}: {error.json_path}: {rule}"[:300]

    @cached_property
    def _validator(self) -> Any:
        try:
            import jsonschema
        except ImportError as exc:  # pragma: no cover - jsonschema is in the lock file
            raise ImportError("kind kafka validates messages with jsonschema: pip install jsonschema") from exc
        schema = json.loads(self.schema_path.read_text(encoding="utf-8"))
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        return cls(schema)

    @cached_property
    def _precheck(self) -> Callable[[Any], bool] | None:
        validator = self._validator
        return prechecker(validator.schema, validator.TYPE_CHECKER.is_type)
