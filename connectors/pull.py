"""The loop every connector shares: native rows → envelopes → Kafka, bad rows → dead letters.

Collected once: a row whose content hash is already recorded sends nothing; a changed row sends
one new version; a row gone from a fully read scope (or marked deleted) sends one end event.
Nothing lost: a page's hashes and cursors are saved only after the broker acknowledged it, and
what a killed run sent without saving is recovered from the topic (``reconcile``).
Never by accident: ends past the source's ``max_end_share``, or met with a changed header or
encoding, are held for a steward instead of sent (``connectors.end_guard``, ``store.pull_holds``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict, runtime_checkable

from connectors.end_guard import hold_reasons
from connectors.kafka_sink import Acked, KafkaSink
from connectors.reconcile import sent_since
from connectors.rows import NativeRow, Page, Reader, UnreadableRow
from connectors.spec import ConnectorSpec
from connectors.state import ConnectorState, Known, Sent
from connectors.validate import row_problem
from core.privacy import keyed_hash, redact
from schemas.source_record import DeadLetter, SourceRecord, content_hash
from store.pull_holds import HeldRecord

log = logging.getLogger(__name__)


@dataclass
class RunCounts:
    """What one connector run did; ``read == events + unchanged + dead_letters`` always.

    ``ended`` counts end events for rows that disappeared; they are not rows read. ``held``
    counts the ends the mass-change guard kept for a steward (``hold_id``) instead: the records
    that vanished are ``ended + held``, and a held run ends none of them.
    """

    read: int = 0
    events: int = 0
    unchanged: int = 0
    dead_letters: int = 0
    ended: int = 0
    recovered: int = 0  # versions a killed run had sent, found in the topic at start
    held: int = 0
    hold_id: str | None = None

    @property
    def balanced(self) -> bool:
        return self.read == self.events + self.unchanged + self.dead_letters

    def __str__(self) -> str:
        text = (f"read {self.read}, events {self.events}, unchanged {self.unchanged}, "
                f"dead letters {self.dead_letters}, ended {self.ended}")
        return text + (f", held {self.held} ends for a steward (hold {self.hold_id})" if self.held else "")


@runtime_checkable
class ShapeReporter(Protocol):
    """A reader that can tell, after its pages, how the source's shape changed (files: header, encoding)."""

    def shape_changes(self) -> list[str]: ...


@dataclass(frozen=True)
class Topics:
    bootstrap: str
    raw: str
    deadletter: str


class Connector:
    """One department source: its spec, its transport, its memory, and the shared loop."""

    def __init__(self, spec: ConnectorSpec, reader: Reader, state: ConnectorState, sink: KafkaSink,
                 topics: Topics, *, id_hash_key: str, on_page: Callable[[RunCounts], None] | None = None) -> None:
        self.spec, self.reader, self.state, self.sink, self.topics = spec, reader, state, sink, topics
        self.id_hash_key = id_hash_key
        self.on_page = on_page
        self.mapping = spec.field_mapping()

    def run(self) -> RunCounts:
        run_id = uuid.uuid4().hex
        counts = RunCounts()
        self.state.start_run(run_id)
        try:
            counts.recovered = self._reconcile(run_id)
            for page in self.reader.pages(self.state):
                self._page(run_id, page, counts)
            for scope in self.reader.unchanged_scopes():
                self.state.mark_scope_seen(run_id, scope)
            scanned = self.reader.scanned_scopes()
            if scanned is None or scanned:
                self._end_unseen(run_id, scanned, counts)
        except BaseException as exc:
            self.state.finish_run(run_id, status="failed", note=redact(f"{type(exc).__name__}: {exc}")[:500],
                                  **_fields(counts))
            raise
        self.state.finish_run(run_id, status="ok", **_fields(counts))
        return counts

    # -- the steps -------------------------------------------------------------------------------
    def _reconcile(self, run_id: str) -> int:
        offsets = dict(self.state.checkpoint("raw_offsets", {}) or {})
        found: list[Sent] = []
        api_version = getattr(self.sink, "api_version", None)
        for sent, position in sent_since(self.topics.bootstrap, self.topics.raw, self.spec.source, offsets,
                                         api_version=api_version):
            found.append(sent)
            offsets = position
            if len(found) >= 1000:
                self.state.commit(run_id, found, (), {"raw_offsets": offsets})
                found = []
        self.state.commit(run_id, found, (), {"raw_offsets": offsets} if offsets else {})
        return len(found)

    def _page(self, run_id: str, page: Page, counts: RunCounts) -> None:
        ids = {id(row): self._record_id(row) for row in page.rows if isinstance(row, NativeRow)}
        known = self.state.known([rid for rid in ids.values() if rid])
        sent: list[Sent] = []
        seen = [(rid, page.scope) for rid in map(self._key_id, page.present) if rid]
        for row in page.rows:
            counts.read += 1
            if isinstance(row, UnreadableRow):
                self._dead(row.location, row.reason, row.excerpt)
                counts.dead_letters += 1
                continue
            record_id = ids[id(row)]
            deleted = self._deleted(row)
            # A deletion marker carries only its record id: there is nothing else to check.
            problem = "missing record id (" + ", ".join(self.spec.record_id) + ")" if not record_id else \
                None if deleted else row_problem(self.spec, self.mapping, row)
            if problem or record_id is None:
                self._dead(row.location, problem or "missing record id", "", record_id, row.values, page.scope)
                counts.dead_letters += 1
                continue
            before = known.get(record_id)
            # The content hash decides; the envelope is built only for a version that is sent.
            payload = {} if deleted else self._payload(row)
            hashed = "end" if deleted else content_hash(payload)
            nothing_to_end = deleted and (before is None or before.ended)
            if nothing_to_end or (before is not None and before.content_hash == hashed):
                seen.append((record_id, page.scope))
                counts.unchanged += 1
                continue
            record = SourceRecord.of(source=self.spec.source, record_id=record_id, payload=payload,
                                     change="end" if deleted else "upsert", mapping_version=self.spec.version,
                                     location=row.location, scope=page.scope, hashed=hashed)
            self.sink.send(self.topics.raw, record.identity, record)
            known[record_id] = Known(hashed, deleted)
            sent.append(Sent(record_id, hashed, page.scope))
            counts.events += 1
        self._save(run_id, sent, seen, page.checkpoints)
        if self.on_page is not None:
            self.on_page(counts)

    def end_held(self, records: Sequence[HeldRecord], *, note: str = "") -> RunCounts:
        """A steward accepted held ends: send them now, as a run of their own whose counts say so.

        Only records still live and not seen since the hold end (a refilled table, a fixed file
        saw them again); a killed acceptance is reconciled from the topic first, so each end
        reaches the topic once."""
        run_id = uuid.uuid4().hex
        counts = RunCounts()
        self.state.start_run(run_id)
        try:
            counts.recovered = self._reconcile(run_id)
            self._send_ends(run_id, self.state.still_unseen(records), counts)
        except BaseException as exc:
            self.state.finish_run(run_id, status="failed", note=redact(f"{type(exc).__name__}: {exc}")[:500],
                                  **_fields(counts))
            raise
        self.state.finish_run(run_id, status="ok", note=note[:500], **_fields(counts))
        return counts

    def _end_unseen(self, run_id: str, scopes: Sequence[str] | None, counts: RunCounts) -> None:
        vanishing = list(self.state.unseen_live(run_id, scopes))
        if not vanishing:
            return
        changes = self.reader.shape_changes() if isinstance(self.reader, ShapeReporter) else []
        live = self.state.live_count()
        reasons = hold_reasons(live=live, vanishing=len(vanishing), max_share=self.spec.max_end_share,
                               shape_changes=changes)
        if reasons:
            # Nothing ends and the records stay live; the steward's answer sends them or not.
            reasons = tuple(r[:500] for r in reasons)  # their words hide numbers already (end_guard)
            counts.held = len(vanishing)
            counts.hold_id = self.state.hold_ends(run_id, vanishing, reasons, live)
            log.warning("%s: %d ends held for a steward (hold %s): %s", self.spec.source, counts.held,
                        counts.hold_id, "; ".join(reasons))
            return
        self._send_ends(run_id, vanishing, counts)

    def _send_ends(self, run_id: str, records: Sequence[HeldRecord], counts: RunCounts) -> None:
        sent: list[Sent] = []
        for record in records:
            record_id, scope = record.record_id, record.scope
            end = SourceRecord.of(source=self.spec.source, record_id=record_id, payload={}, change="end",
                                  mapping_version=self.spec.version, location=scope or self.spec.source, scope=scope)
            self.sink.send(self.topics.raw, end.identity, end)
            sent.append(Sent(record_id, "end", scope))
            counts.ended += 1
            if len(sent) >= 500:
                self._save(run_id, sent, (), {})
                sent = []
        self._save(run_id, sent, (), {})

    def _save(self, run_id: str, sent: list[Sent], seen: object, checkpoints: dict[str, object]) -> None:
        acked = self.sink.flush()
        offsets = _next_offsets(self.state.checkpoint("raw_offsets", {}) or {}, acked, self.topics.raw)
        self.state.commit(run_id, sent, seen, {**checkpoints, "raw_offsets": offsets})  # type: ignore[arg-type]

    # -- helpers ---------------------------------------------------------------------------------
    def _record_id(self, row: NativeRow) -> str | None:
        return self._key_id(row.values)

    def _key_id(self, values: dict[str, Any]) -> str | None:
        parts = [str(values.get(col) or "").strip() for col in self.spec.record_id]
        if not all(parts):
            return None
        joined = "|".join(parts)
        return keyed_hash(joined, self.id_hash_key)[:32] if self.spec.record_id_is_id_number else joined

    def _deleted(self, row: NativeRow) -> bool:
        deleted = self.spec.deleted_when
        return deleted is not None and str(row.values.get(deleted.column, "")).strip() in deleted.values

    def _payload(self, row: NativeRow) -> dict[str, Any]:
        """What the envelope carries and its hash covers: the row, less the ignored columns."""
        if not self.spec.ignore_columns:
            return row.values
        return {k: v for k, v in row.values.items() if k not in self.spec.ignore_columns}

    def _dead(self, location: str, reason: str, excerpt: str, record_id: str | None = None,
              raw_row: dict[str, Any] | None = None, scope: str = "") -> None:
        # The whole row travels (internal topic) so that a steward can re-process it after a mapping fix.
        letter = DeadLetter(source=self.spec.source, location=location, reason=redact(reason),
                            stage="connector", record_id=record_id, raw_excerpt=redact(excerpt[:200]),
                            raw_row=DeadLetter.keepable(raw_row) if raw_row is not None else None, scope=scope,
                            mapping_version=self.spec.version)
        self.sink.send(self.topics.deadletter, f"{self.spec.source}:{location}", letter)


def _next_offsets(previous: dict[str, int], acked: list[Acked], topic: str) -> dict[str, int]:
    offsets = {str(k): int(v) for k, v in previous.items()}
    for a in acked:
        if a.topic == topic:
            offsets[str(a.partition)] = max(offsets.get(str(a.partition), 0), a.offset + 1)
    return offsets


class _RunFields(TypedDict):
    read: int
    events: int
    ended: int
    unchanged: int
    dead_letters: int
    held: int


def _fields(counts: RunCounts) -> _RunFields:
    return {"read": counts.read, "events": counts.events, "ended": counts.ended, "unchanged": counts.unchanged,
            "dead_letters": counts.dead_letters, "held": counts.held}
