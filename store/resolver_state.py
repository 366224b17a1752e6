"""The resolver's state in SQL, and its transactional outbox.

:meth:`ResolverState.resolve_batch` resolves record versions in ONE transaction under a global
lock: it skips inputs handled before, runs the pure :func:`core.resolution.resolve` over a view
of the tables and of the batch's own earlier decisions (:class:`core.resolution.ResolverMemory`
backed by SQL), writes the changed state back and appends the events to the outbox.
:meth:`ResolverState.publish_outbox` sends unpublished events in outbox order under a lock of
its own (the publisher's), waits for the broker's acknowledgement, then marks them published in
a short write transaction; resolving goes on while the broker acknowledges.

Why one global lock: a record can bridge any two profiles, so no partitioning of the records
topic keeps the profiles a batch touches apart from another worker's. Serialising the (short)
resolve transactions means every decision sees every earlier one, each profile's versions are
assigned in one order, and the outbox ``seq`` order is that order. Workers still share the
records topic's partitions (decoding, I/O, broker round trips run in parallel); the final
clustering is the same whether one worker or several ran, up to the order records arrive in.

Locks: PostgreSQL ``pg_advisory_xact_lock`` (released at commit or rollback); SQLite takes its
single writer lock up front with ``BEGIN IMMEDIATE``. The publisher's lock is a PostgreSQL
session advisory lock with its own key, or on SQLite an exclusive ``flock`` on a file beside the
database. Why publishing keeps each profile's versions in order without the resolver's lock:
resolve transactions commit one after another, so the outbox's ``seq`` order is commit order and
every reader sees a prefix of it; one publisher at a time sends the whole unpublished prefix in
``seq`` order and marks it before the next publisher reads.
"""

from __future__ import annotations

import json
import logging
import threading
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic_core import from_json
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Integer,
    LargeBinary,
    Table,
    bindparam,
    delete,
    func,
    select,
    text,
    update,
)

from core.matching import Matcher
from core.privacy import redact
from core.profile import ProfileError
from core.profile.model import Profile
from core.resolution import (
    Backing,
    LinkRow,
    ProfileState,
    ResolutionError,
    ResolverChanges,
    ResolverMemory,
    command_events,
    resolve_folded,
)
from schemas.codec import decode, encode
from schemas.profile_events import ProfileEvent, ProfilesMerged, StewardCommand
from schemas.record_events import MatcherSwitched, RecordStandardised
from schemas.resident import ResidentRecord
from store.engine import file_lock, write_transaction
from store.resolver_tables import (
    resolver_block_members,
    resolver_blocks,
    resolver_matcher,
    resolver_outbox,
    resolver_processed,
    resolver_profiles,
    resolver_records,
    resolver_reviews,
)
from store.upsert import chunks, insert_rows, upsert

log = logging.getLogger(__name__)

__all__ = ["LOCK_KEY", "PUBLISH_LOCK_KEY", "OutboxRow", "ResolverState", "SqlBacking"]

LOCK_KEY = 0x0E5017E5  # the resolver's pg_advisory_xact_lock key: any constant shared by every worker
PUBLISH_LOCK_KEY = 0x0E5017E7  # the outbox publisher's pg_advisory_lock key (0x0E5017E6 is the migrator's)
_CHUNK = 900  # bound on the values of one IN (...) (SQLite allows 32766 parameters; keep statements small)

T = TypeVar("T")


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    event_id: str
    profile_id: str
    version: int
    event_type: str
    published: bool
    payload: bytes

    def event(self) -> ProfileEvent:
        event = decode(self.payload)
        assert isinstance(event, ProfileEvent)
        return event


class ResolverState:
    """The resolve stage's state and outbox in the store (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine, *, publish_chunk: int = 2000, cache_profiles: int = 100_000) -> None:
        self.engine = engine
        self.publish_chunk = publish_chunk
        self.cache_profiles = cache_profiles
        self._thread_lock = threading.Lock()
        # The last committed batch's state, kept for the next one while nobody else writes: the
        # outbox's last seq is the state's generation (every change of state makes events), so
        # a batch that finds the generation it left takes the state as it is instead of loading
        # and decoding it from SQL again; any other writer (another worker, a steward's command
        # in another process) moves the generation and the cache is dropped.
        self._cache: tuple[int, ResolverMemory] | None = None
        self._cache_lock = threading.Lock()

    # Writing ---------------------------------------------------------------------------------

    def resolve_batch(self, items: Sequence[RecordStandardised], matcher: Matcher, *,
                      on_emitted: Callable[[Sequence[ProfileEvent]], None] | None = None) -> int:
        """Resolve ``items`` in order, in one transaction; return how many events they made
        (``on_emitted`` sees them once they are committed: the worker counts the matcher's outcomes).

        An item handled before (same event id, by any worker) is skipped, so a redelivered batch
        changes nothing. An item the resolver cannot handle (a contradiction in its state) is
        recorded with the reason, logged without ID numbers, and makes no events.
        """
        if not items:
            return 0
        with self._locked() as conn:
            unique = list({item.event_id: item for item in items}.values())
            fresh = _unprocessed(conn, [item.event_id for item in unique])
            todo = [item for item in unique if item.event_id in fresh]
            if not todo:
                return 0
            generation, memory = self._memory(conn)
            memory.prefetch(todo, matcher)
            emitted: list[ProfileEvent] = []
            processed: list[dict[str, Any]] = []
            for item in todo:
                try:
                    events, folded = resolve_folded(item, memory, matcher)
                except (ResolutionError, ProfileError) as exc:
                    reason = redact(f"{type(exc).__name__}: {exc}")
                    log.warning("resolve: %s (event %s) not resolved: %s", item.key, item.event_id, reason)
                    processed.append({"input_id": item.event_id, "events": 0, "error": reason})
                    continue
                memory.apply(events, blocking_keys=matcher.blocking_keys, record_hashes={item.key: item.content_hash},
                             folded=folded)
                emitted += events
                processed.append({"input_id": item.event_id, "events": len(events), "error": None})
            generation = self._write(conn, memory.changes(), emitted, processed, generation)
        self._keep(generation, memory)
        if on_emitted is not None:
            on_emitted(emitted)
        return len(emitted)

    def handle_command(self, command: StewardCommand) -> list[ProfileEvent]:
        """Turn a steward command into events under the lock, fold them in, add them to the outbox.

        A command handled before returns ``[]``; a refused one raises ``ResolutionError`` and
        changes nothing.
        """
        with self._locked() as conn:
            if not _unprocessed(conn, [command.command_id]):
                return []
            generation, memory = self._memory(conn)
            events = command_events(command, memory)
            memory.apply(events)
            generation = self._write(conn, memory.changes(), events,
                                     [{"input_id": command.command_id, "events": len(events), "error": None}],
                                     generation)
        self._keep(generation, memory)
        return events

    def matcher_version(self) -> str | None:
        """The matcher parameter version resolving uses now (``None``: the default parameters)."""
        with self.engine.connect() as conn:
            return conn.execute(select(resolver_matcher.c.version).where(resolver_matcher.c.id == 1)).scalar()

    def switch_matcher(self, switch: MatcherSwitched, *, usable: bool = True, reason: str | None = None) -> bool:
        """Take a matcher switch read on the records topic: from now on ``switch.version`` (unless
        ``usable`` is false: recorded as handled with ``reason``, the version stays). Handled once:
        an announcement read again returns ``False`` and changes nothing."""
        with self._locked() as conn:
            if not _unprocessed(conn, [switch.event_id]):
                return False
            if usable:
                upsert(conn, resolver_matcher, [{"id": 1, "version": switch.version}], keys=("id",), update=("version",))
            _bulk(conn, resolver_processed, [{"input_id": switch.event_id, "events": 0, "error": None if usable else reason}])
        return usable

    def publish_outbox(self, send: Callable[[bytes, bytes], None], flush: Callable[[], None]) -> int:
        """Send unpublished events in outbox order (key: the profile id), flush, mark them published.

        Runs under the publisher's lock (not the resolver's: resolving goes on meanwhile), so two
        publishers never interleave one profile's versions. ``flush`` must return only once the
        broker has acknowledged everything sent (and raise otherwise): rows are marked published
        after it returns. A crash in between sends those events again on the next call; consumers
        drop versions they have. Returns how many events were sent.
        """
        sent = 0
        with self._publishing():
            while True:
                with self.engine.connect() as conn:
                    rows = conn.execute(
                        select(resolver_outbox.c.seq, resolver_outbox.c.profile_id, resolver_outbox.c.payload)
                        .where(resolver_outbox.c.published.is_(False))
                        .order_by(resolver_outbox.c.seq)
                        .limit(self.publish_chunk)
                    ).all()
                if not rows:
                    return sent
                for row in rows:
                    send(row.profile_id.encode("utf-8"), bytes(row.payload))
                flush()
                with write_transaction(self.engine) as conn:
                    conn.execute(
                        update(resolver_outbox)
                        .where(resolver_outbox.c.published.is_(False), resolver_outbox.c.seq <= rows[-1].seq)
                        .values(published=True)
                    )
                sent += len(rows)
                if len(rows) < self.publish_chunk:
                    return sent

    # Reading ---------------------------------------------------------------------------------

    def partition(self) -> dict[str, str]:
        """Record key → the profile holding it."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(resolver_records.c.record_key, resolver_records.c.profile_id))
            return {r.record_key: r.profile_id for r in rows}

    def profile(self, profile_id: str) -> ProfileState | None:
        with self.engine.connect() as conn:
            return SqlBacking(conn).load_profiles([profile_id]).get(profile_id)

    def outbox(self, *, unpublished_only: bool = False) -> list[OutboxRow]:
        stmt = select(resolver_outbox).order_by(resolver_outbox.c.seq)
        if unpublished_only:
            stmt = stmt.where(resolver_outbox.c.published.is_(False))
        with self.engine.connect() as conn:
            return [OutboxRow(r.seq, r.event_id, r.profile_id, r.version, r.event_type, r.published, bytes(r.payload))
                    for r in conn.execute(stmt)]

    def linked_forms(self, record_keys: Collection[str]) -> dict[str, tuple[str, ResidentRecord]]:
        """Record key → (content hash of the version the resolver linked, that version's
        standardised record as its profile holds it), for the keys the resolver has linked.

        Read-only and outside the resolver's lock: one ``SELECT`` per chunk of keys joins each
        key's link row to its profile's body, so a key's hash and its record come from one
        snapshot; both are written in the same resolve transaction, so they describe the same
        version. Each profile body (at a version) is decoded once, for all the keys asked that it
        holds. Validation (``services.validation.read_batches``) reads it instead of standardising
        again a version the stream has standardised already.
        """
        r, p = resolver_records, resolver_profiles
        wanted = set(record_keys)
        held: dict[tuple[str, int], dict[str, ResidentRecord]] = {}
        found: dict[str, tuple[str, ResidentRecord]] = {}
        with self.engine.connect() as conn:
            for chunk in _bounded(wanted):
                stmt = (select(r.c.record_key, r.c.content_hash, p.c.profile_id, p.c.version, p.c.body)
                        .join(p, p.c.profile_id == r.c.profile_id).where(r.c.record_key.in_(chunk)))
                for row in conn.execute(stmt):
                    records = held.get((row.profile_id, row.version))
                    if records is None:
                        records = held[(row.profile_id, row.version)] = _held_records(row.body, wanted)
                    record = records.get(row.record_key)
                    if record is not None:
                        found[row.record_key] = (row.content_hash, record)
        return found

    def failures(self) -> dict[str, str]:
        """Input id → why it could not be resolved."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(resolver_processed.c.input_id, resolver_processed.c.error)
                                .where(resolver_processed.c.error.is_not(None)))
            return {r.input_id: r.error for r in rows}

    # Internals -------------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[Connection]:
        if self.engine.dialect.name not in ("sqlite", "postgresql"):
            raise NotImplementedError(f"resolver lock for {self.engine.dialect.name!r}")
        with write_transaction(self.engine, pg_lock=LOCK_KEY) as conn:
            yield conn

    @contextmanager
    def _publishing(self) -> Iterator[None]:
        """The publisher's lock: one publisher at a time, in every process sharing the state."""
        with self._thread_lock:
            if self.engine.dialect.name == "postgresql":
                with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": PUBLISH_LOCK_KEY})
                    try:
                        yield
                    finally:
                        conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PUBLISH_LOCK_KEY})
                return
            with file_lock(self.engine, "publish-lock"):  # in-memory SQLite: one process, the thread lock is enough
                yield

    def _memory(self, conn: Connection) -> tuple[int, ResolverMemory]:
        """The state to resolve over, and its generation: the cached one when the store is still
        at the generation it was left at (taken out of the cache while in use), else a fresh view."""
        generation = conn.execute(select(func.max(resolver_outbox.c.seq))).scalar() or 0
        with self._cache_lock:
            cached, self._cache = self._cache, None
        if cached is not None and cached[0] == generation:
            cached[1].carry_over(SqlBacking(conn, generation=generation))
            return generation, cached[1]
        last = conn.execute(select(func.max(resolver_profiles.c.created_seq))).scalar()
        return generation, ResolverMemory(SqlBacking(conn, generation=generation), next_seq=(last or 0) + 1)

    def _keep(self, generation: int, memory: ResolverMemory) -> None:
        """After a commit: keep ``memory`` for the next batch (within the cache's bound)."""
        if memory.size() <= self.cache_profiles:
            with self._cache_lock:
                self._cache = (generation, memory)

    @staticmethod
    def _write(conn: Connection, changes: ResolverChanges, events: Sequence[ProfileEvent],
               processed: Sequence[dict[str, Any]], generation: int) -> int:
        """Write the changes back; return the new generation (the outbox's last seq)."""
        backing = SqlBacking(conn, generation=generation)
        backing.save(changes, events)
        _bulk(conn, resolver_processed, list(processed))
        return backing.generation


class SqlBacking(Backing):
    """The resolver's tables as a :class:`~core.resolution.Backing`, on one connection: loads what
    a batch's :class:`ResolverMemory` has not seen, in bulk, and saves what it changed with its
    events appended to the outbox (unpublished).

    ``generation``: the outbox's last seq (read from the outbox when not given); :meth:`save`
    numbers its events after it and moves it on. Saving needs the resolver's lock held (the
    caller's transaction, :meth:`ResolverState._locked`), or two savers number events alike.
    """

    def __init__(self, conn: Connection, *, generation: int | None = None) -> None:
        self.conn = conn
        self._generation = generation

    @property
    def generation(self) -> int:
        if self._generation is None:
            self._generation = self.conn.execute(select(func.max(resolver_outbox.c.seq))).scalar() or 0
        return self._generation

    def load_links(self, record_keys: Collection[str]) -> Mapping[str, LinkRow]:
        t = resolver_records
        return {r.record_key: LinkRow(r.profile_id, r.content_hash, tuple(r.block_keys))
                for chunk in _bounded(record_keys)
                for r in self.conn.execute(select(t).where(t.c.record_key.in_(chunk)))}

    def load_profiles(self, profile_ids: Collection[str]) -> Mapping[str, ProfileState]:
        t = resolver_profiles
        return {r.profile_id: ProfileState(_unpack(r.body), r.created_seq)
                for chunk in _bounded(profile_ids)
                for r in self.conn.execute(select(t.c.profile_id, t.c.created_seq, t.c.body)
                                           .where(t.c.profile_id.in_(chunk)))}

    def load_block_sizes(self, block_keys: Collection[str]) -> Mapping[str, int]:
        t = resolver_blocks
        return {r.block_key: r.size for chunk in _bounded(block_keys)
                for r in self.conn.execute(select(t).where(t.c.block_key.in_(chunk)))}

    def load_block_members(self, block_keys: Collection[str]) -> Mapping[str, Sequence[str]]:
        t = resolver_block_members
        members: dict[str, list[str]] = {}
        for chunk in _bounded(block_keys):
            stmt = select(t.c.block_key, t.c.record_key).where(t.c.block_key.in_(chunk)).order_by(t.c.record_key)
            for r in self.conn.execute(stmt):
                members.setdefault(r.block_key, []).append(r.record_key)
        return members

    def load_review_holders(self, review_ids: Collection[str]) -> Mapping[str, str]:
        t = resolver_reviews
        return {r.review_id: r.profile_id for chunk in _bounded(review_ids)
                for r in self.conn.execute(select(t).where(t.c.review_id.in_(chunk)))}

    def load_merge_event(self, event_id: str) -> ProfilesMerged | None:
        payload = self.conn.execute(select(resolver_outbox.c.payload).where(
            resolver_outbox.c.event_id == event_id, resolver_outbox.c.event_type == "ProfilesMerged")).scalar()
        if payload is None:
            return None
        event = decode(bytes(payload))
        return event if isinstance(event, ProfilesMerged) else None

    def save(self, changes: ResolverChanges, events: Sequence[ProfileEvent]) -> None:
        conn = self.conn
        _bulk(conn, resolver_records, [
            {"record_key": key, "profile_id": row.profile_id, "content_hash": row.content_hash,
             "block_keys": list(row.block_keys)}
            for key, row in changes.links.items()
        ], keys=("record_key",), update=("profile_id", "content_hash", "block_keys"))
        _bulk(conn, resolver_profiles, [
            {"profile_id": pid, "version": state.profile.version, "status": state.profile.status,
             "created_seq": state.created_seq, "body": _pack(state.profile)}
            for pid, state in changes.profiles.items()
        ], keys=("profile_id",), update=("version", "status", "body"))
        _bulk(conn, resolver_blocks, [{"block_key": key, "size": size} for key, size in changes.block_sizes.items()],
              keys=("block_key",), update=("size",))
        added = [{"block_key": b, "record_key": r} for (b, r), present in changes.block_members.items() if present]
        _bulk(conn, resolver_block_members, added, keys=("block_key", "record_key"))
        removed = [{"b": b, "r": r} for (b, r), present in changes.block_members.items() if not present]
        if removed:
            t = resolver_block_members
            conn.execute(delete(t).where(t.c.block_key == bindparam("b"), t.c.record_key == bindparam("r")), removed)
        holders = [{"review_id": rid, "profile_id": pid} for rid, pid in changes.review_holders.items() if pid]
        _bulk(conn, resolver_reviews, holders, keys=("review_id",), update=("profile_id",))
        gone = [rid for rid, pid in changes.review_holders.items() if pid is None]
        for chunk in _bounded(gone):
            conn.execute(delete(resolver_reviews).where(resolver_reviews.c.review_id.in_(chunk)))
        if events:
            generation = self.generation
            _bulk(conn, resolver_outbox, [
                {"seq": generation + n, "event_id": e.event_id, "profile_id": e.profile_id, "version": e.version,
                 "event_type": type(e).__name__, "payload": encode(e), "published": False}
                for n, e in enumerate(events, start=1)
            ])
            self._generation = generation + len(events)


def _unprocessed(conn: Connection, input_ids: Sequence[str]) -> set[str]:
    seen = {r.input_id for chunk in _bounded(input_ids)
            for r in conn.execute(select(resolver_processed.c.input_id)
                                  .where(resolver_processed.c.input_id.in_(chunk)))}
    return set(input_ids) - seen


def _bulk(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], *, keys: Sequence[str] = (),
          update: Sequence[str] = ()) -> None:
    """Insert rows (on a key conflict: update ``update``, or skip when ``keys`` but no ``update``).

    On PostgreSQL one ``INSERT … SELECT FROM unnest(arrays)`` per call: a batch writes tens of
    thousands of blocking-index rows, which row-by-row executemany sends as many statements.
    """
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        if update:
            upsert(conn, table, rows, keys=keys, update=update)
        else:
            insert_rows(conn, table, rows, skip_conflicts=bool(keys))
        return
    names = list(rows[0])
    columns = [table.c[name] for name in names]
    arrays = ", ".join(f"CAST(:c{i} AS {_pg_array_type(c)}[])" for i, c in enumerate(columns))
    values = ", ".join(f"CAST(u.c{i} AS json)" if isinstance(c.type, JSON) else f"u.c{i}"
                       for i, c in enumerate(columns))
    aliases = ", ".join(f"c{i}" for i in range(len(columns)))
    quoted = ", ".join(f'"{name}"' for name in names)
    conflict = ""
    if keys:
        target = ", ".join(f'"{k}"' for k in keys)
        conflict = (f" ON CONFLICT ({target}) DO UPDATE SET " + ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in update)
                    if update else f" ON CONFLICT ({target}) DO NOTHING")
    sql = f'INSERT INTO "{table.name}" ({quoted}) SELECT {values} FROM unnest({arrays}) AS u({aliases}){conflict}'  # noqa: S608 - identifiers from the table's own columns, values bound
    params = {f"c{i}": [json.dumps(row[name], ensure_ascii=False) if isinstance(c.type, JSON) else row[name]
                        for row in rows]
              for i, (name, c) in enumerate(zip(names, columns, strict=True))}
    conn.execute(text(sql), params)


def _pack(profile: Profile) -> bytes:
    # zlib level 1 shrinks a profile's JSON about 4x (7 KB → 1.6 KB), under PostgreSQL's TOAST
    # threshold: the state is written every batch, its size is the resolver's write cost.
    return zlib.compress(profile.model_dump_json().encode("utf-8"), 1)


def _unpack(body: bytes) -> Profile:
    return Profile.model_validate_json(zlib.decompress(body))


def _held_records(body: bytes, keys: Collection[str]) -> dict[str, ResidentRecord]:
    """The standardised records of ``keys`` a packed profile holds (its other records, golden
    fields and history are not validated: the JSON is read once, only these become models)."""
    records: dict[str, Any] = from_json(zlib.decompress(body))["records"]
    return {key: ResidentRecord.model_validate(linked["record"]) for key, linked in records.items() if key in keys}


def _pg_array_type(column: Column[Any]) -> str:
    kind = column.type
    if isinstance(kind, BigInteger):
        return "bigint"
    if isinstance(kind, Integer):
        return "integer"
    if isinstance(kind, Boolean):
        return "boolean"
    if isinstance(kind, LargeBinary):
        return "bytea"
    return "text"  # strings, text, and JSON (cast per value)


def _bounded(values: Collection[T]) -> Iterator[list[T]]:
    return chunks(values, _CHUNK)
