"""The audit log (访问审计日志): append-only and hash-chained.

Every read of resident data appends one entry: who, role, purpose, which residents, which fields,
when. Each entry's hash covers its content and the previous entry's hash; a one-row head keeps the
last sequence number and hash, so ``verify`` detects an edited entry (its hash no longer matches),
a deleted one (a gap in the sequence or a broken chain) and a cut-off tail (the head disagrees).
Kept at least 3 years (PIPL); nothing here updates or deletes an entry. Concurrent appends are
group-committed: one transaction chains every entry that queued meanwhile (see :class:`AuditLog`).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    String,
    Table,
    Text,
    select,
    update,
)

from core.access import Principal
from store.tables import metadata

GENESIS = "0" * 64

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("username", String(100), nullable=False),
    Column("role", String(32), nullable=False),
    Column("action", String(64), nullable=False),
    Column("purpose", Text, nullable=False),
    Column("residents", Text, nullable=False),  # JSON list of profile ids
    Column("fields", Text, nullable=False),  # JSON list of field names (unmasked ones marked "+")
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# Which residents an entry is about: "who looked at this resident" without scanning the log.
audit_residents = Table(
    "audit_residents",
    metadata,
    Column("profile_id", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)
Index("ix_audit_log_user", audit_log.c.user_id)


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    user_id: str
    username: str
    role: str
    action: str
    purpose: str
    residents: tuple[str, ...]
    fields: tuple[str, ...]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    problems: tuple[str, ...]


def entry_hash(seq: int, at: datetime, user_id: str, username: str, role: str, action: str, purpose: str,
               residents: Sequence[str], fields: Sequence[str], prev_hash: str) -> str:
    body = json.dumps([seq, _utc(at).isoformat(timespec="microseconds"), user_id, username, role, action, purpose,
                       list(residents), list(fields), prev_hash], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass
class _Pending:
    """An entry waiting for the group commit that writes it."""

    principal: Principal
    action: str
    purpose: str
    residents: tuple[str, ...]
    fields: tuple[str, ...]
    entry: AuditEntry | None = None
    error: BaseException | None = None


class AuditLog:
    """Appends with group commit: entries that arrive while one transaction is being written are
    chained and written together in the next one, and each ``append`` returns only when its own
    entry is committed (on SQLite with ``synchronous=FULL``: on disk, not only in the OS cache).
    Under concurrent reads this writes one transaction per group instead of one per read."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queue: list[_Pending] = []
        self._queue_lock = threading.Lock()
        # One writer at a time per process; across processes the head row's lock orders them.
        self._write_lock = threading.Lock()
        self.commits = 0  # transactions written by this process (fewer than entries under load)
        metadata.create_all(engine, tables=[audit_log, audit_residents, audit_head])

    def append(self, principal: Principal, action: str, purpose: str, residents: Sequence[str],
               fields: Sequence[str]) -> AuditEntry:
        """Chain one entry and return it once it is committed."""
        pending = _Pending(principal, action, purpose, tuple(dict.fromkeys(residents)), tuple(fields))
        with self._queue_lock:
            self._queue.append(pending)
        with self._write_lock:
            # The writer before us may have taken our entry into its group; otherwise we write the
            # group that queued while it wrote (our entry among them).
            if pending.entry is None and pending.error is None:
                with self._queue_lock:
                    group, self._queue = self._queue, []
                try:
                    for waiting, entry in zip(group, self._write(group), strict=True):
                        waiting.entry = entry
                    self.commits += 1
                except BaseException as exc:
                    for waiting in group:
                        waiting.error = exc
        if pending.error is not None:
            raise pending.error
        assert pending.entry is not None
        return pending.entry

    def _write(self, group: Sequence[_Pending]) -> list[AuditEntry]:
        with self.engine.connect() as conn:
            # On SQLite an entry is on disk before the answer leaves: the WAL is fsynced at commit.
            # (Set on the driver's connection: a PRAGMA is not part of the transaction.)
            raw = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
            if raw is not None:
                raw.execute("PRAGMA synchronous=FULL")
            try:
                with conn.begin():
                    return self._chain(conn, group)
            finally:
                if raw is not None:
                    raw.execute("PRAGMA synchronous=NORMAL")

    @staticmethod
    def _chain(conn: Connection, group: Sequence[_Pending]) -> list[AuditEntry]:
        # Bump the head first: it takes the write lock (SQLite) or the row lock (Postgres), so two
        # groups never chain onto the same predecessor.
        bumped = conn.execute(update(audit_head).where(audit_head.c.id == 1)
                              .values(seq=audit_head.c.seq + len(group)))
        if bumped.rowcount == 0:
            conn.execute(audit_head.insert().values(id=1, seq=len(group), hash=GENESIS))
        head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).one()
        seq, prev = head.seq - len(group), head.hash
        entries, rows, about = [], [], []
        for p in group:
            seq += 1
            at = datetime.now(UTC)
            who = p.principal
            digest = entry_hash(seq, at, who.user_id, who.username, who.role, p.action, p.purpose, p.residents,
                                p.fields, prev)
            entries.append(AuditEntry(seq, at, who.user_id, who.username, who.role, p.action, p.purpose,
                                      p.residents, p.fields, prev, digest))
            rows.append({"seq": seq, "at": at, "user_id": who.user_id, "username": who.username, "role": who.role,
                         "action": p.action, "purpose": p.purpose, "residents": json.dumps(list(p.residents)),
                         "fields": json.dumps(list(p.fields), ensure_ascii=False), "prev_hash": prev, "hash": digest})
            about += [{"profile_id": r, "seq": seq} for r in p.residents]
            prev = digest
        conn.execute(audit_log.insert(), rows)
        if about:
            conn.execute(audit_residents.insert(), about)
        conn.execute(update(audit_head).where(audit_head.c.id == 1).values(hash=prev))
        return entries

    def entries(self, *, resident: str | None = None, limit: int | None = None, offset: int = 0) -> list[AuditEntry]:
        """Newest first; with ``resident``, only the entries about that resident (who looked, when, why)."""
        stmt = select(audit_log).order_by(audit_log.c.seq.desc()).offset(offset)
        if resident is not None:
            stmt = stmt.where(audit_log.c.seq.in_(select(audit_residents.c.seq)
                                                  .where(audit_residents.c.profile_id == resident)))
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(stmt)]

    def _all(self) -> Iterator[AuditEntry]:
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=2000).execute(select(audit_log).order_by(audit_log.c.seq)):
                yield _entry(row)

    def verify(self) -> Verification:
        """Recompute the chain; name every entry that was edited, removed or cut off."""
        problems: list[str] = []
        prev, expected_seq, count = GENESIS, 1, 0
        for entry in self._all():
            count += 1
            if entry.seq != expected_seq:
                problems.append(f"entries {expected_seq}..{entry.seq - 1} are missing (deleted)")
            if entry.prev_hash != prev:
                problems.append(f"entry {entry.seq}: chain broken (previous entry edited or deleted)")
            digest = entry_hash(entry.seq, entry.at, entry.user_id, entry.username, entry.role, entry.action,
                                entry.purpose, entry.residents, entry.fields, entry.prev_hash)
            if digest != entry.hash:
                problems.append(f"entry {entry.seq}: content does not match its hash (edited)")
            prev, expected_seq = entry.hash, entry.seq + 1
        with self.engine.connect() as conn:
            head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
        head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
        if head_seq != expected_seq - 1 or head_hash != prev:
            problems.append(f"the log ends at entry {expected_seq - 1} but the head says {head_seq} "
                            "(entries at the end were deleted or the head was edited)")
        return Verification(ok=not problems, entries=count, problems=tuple(problems))


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _entry(row: object) -> AuditEntry:
    r = row  # a Row of audit_log
    return AuditEntry(seq=r.seq, at=_utc(r.at), user_id=r.user_id, username=r.username,  # type: ignore[attr-defined]
                      role=r.role, action=r.action, purpose=r.purpose,  # type: ignore[attr-defined]
                      residents=tuple(json.loads(r.residents)), fields=tuple(json.loads(r.fields)),  # type: ignore[attr-defined]
                      prev_hash=r.prev_hash, hash=r.hash)  # type: ignore[attr-defined]
