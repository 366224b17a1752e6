"""The audit log (访问审计日志): append-only, hash-chained, and authenticated with a key the
database does not hold.

Every read of resident data appends one entry: who, role, purpose, which residents, which fields,
when. Each entry's hash covers its content and the previous entry's hash, and its MAC (HMAC-SHA256
of that hash with the audit key, ``ONCEONLY_AUDIT_KEY``) proves the key's holder wrote it: someone
who can rewrite the database but not read the key can edit an entry and re-compute the chain, but
not the MACs. Signed checkpoints of the chain head, written outside the database
(:mod:`store.audit_checkpoints`), catch what no in-database check can: entries cut off the end, or
the whole log wiped. The "who looked at this resident" index is derived from the entries, and
``verify`` re-derives and compares it.

Where it lives (:func:`audit_engine`): on SQLite a file of its own beside the store's
(``onceonly.db`` → ``onceonly-audit.db``), so a read's append, which every read waits for, never
queues behind the projection's or a steward's write on the store file's one writer lock; on
PostgreSQL the store's database. A log written into the store's file before it had its own is
moved there once (:meth:`AuditLog._adopt_store_log`).

Entries written before the key existed (migration ``b7d4e2a91c3f``) have no MAC; ``verify`` names
them as legacy, hash-chained only: the first keyed entry's MAC covers the last legacy entry's hash
and so pins them as they stood then. Kept at least 3 years (PIPL): nothing here updates or deletes
an entry, and nothing prunes the log. Concurrent appends are group-committed: one transaction
chains every entry that queued meanwhile (see :class:`AuditLog`).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
from collections.abc import Collection, Generator, Iterator, Sequence
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
    bindparam,
    select,
    update,
)

from core.access import Principal
from onceonly.settings import DEFAULT_AUDIT_KEY
from store.audit_checkpoints import Checkpoint, Checkpointer
from store.engine import companion_engine, write_transaction
from store.profile_lookup import profile_lineage
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
    Column("mac", String(64)),  # HMAC of hash with the audit key; NULL only on entries older than the key
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
# A user's entries of one action, newest first, without reading or sorting the rest of theirs: the
# home page's "since your last visit" (her previous login) stays one index step however long the log.
LAST_OF_ACTION = Index("ix_audit_log_user_action", audit_log.c.user_id, audit_log.c.action, audit_log.c.seq)

# The head's statements, built once (every read appends: building a statement costs more than running it).
_BUMP_HEAD = update(audit_head).where(audit_head.c.id == 1).values(seq=audit_head.c.seq + bindparam("entries"))
_HEAD = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
_SET_HEAD_HASH = update(audit_head).where(audit_head.c.id == 1).values(hash=bindparam("head_hash"))


def audit_engine(store: Engine) -> Engine:
    """The database of ``store``'s audit log: every writer and reader of the log asks for it here
    (:class:`AuditLog` does), so they all meet in the same place."""
    return companion_engine(store, "audit")


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
    mac: str | None = None


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    problems: tuple[str, ...]
    notes: tuple[str, ...] = ()  # what was checked and what could not be (legacy entries, checkpoints)
    checkpoints: int = 0  # signed checkpoints found and checked


def entry_hash(seq: int, at: datetime, user_id: str, username: str, role: str, action: str, purpose: str,
               residents: Sequence[str], fields: Sequence[str], prev_hash: str) -> str:
    body = json.dumps([seq, _utc(at).isoformat(timespec="microseconds"), user_id, username, role, action, purpose,
                       list(residents), list(fields), prev_hash], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def entry_mac(key: bytes, digest: str) -> str:
    """The entry's MAC: its hash (which covers its content and the chain before it) under the audit key."""
    return hmac.new(key, b"audit-entry:" + digest.encode("ascii"), hashlib.sha256).hexdigest()


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
    Under concurrent reads this writes one transaction per group instead of one per read.

    ``engine`` is the profile store's: the log itself is in :func:`audit_engine` of it (``.engine``),
    the store (``.store``) is read only to follow merges in :meth:`who_looked`. ``key`` is the audit
    key (``Settings.audit_secret``; the default is the public development key); ``checkpoints``
    writes signed checkpoints of the head outside the database and gives them back to ``verify``
    (``onceonly.bootstrap.audit_log`` wires both from the settings)."""

    def __init__(self, engine: Engine, *, key: bytes | str = DEFAULT_AUDIT_KEY,
                 checkpoints: Checkpointer | None = None) -> None:
        self.store = engine
        self.engine = audit_engine(engine)
        self.key = key.encode("utf-8") if isinstance(key, str) else key
        self.checkpoints = checkpoints
        if checkpoints is not None:
            checkpoints.legacy_source = self._legacy_until
        self._queue: list[_Pending] = []
        self._queue_lock = threading.Lock()
        # One writer at a time per process; across processes the head row's lock orders them.
        self._write_lock = threading.Lock()
        self.commits = 0  # transactions written by this process (fewer than entries under load)
        metadata.create_all(self.engine, tables=[audit_log, audit_residents, audit_head])
        if self.engine.dialect.name == "sqlite":  # the log's own file (no migrations): one older than this index
            with self.engine.begin() as conn:
                conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_audit_log_user_action "
                                     "ON audit_log (user_id, action, seq)")
        self._adopt_store_log()

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
                    written = self._write(group)
                    for waiting, entry in zip(group, written, strict=True):
                        waiting.entry = entry
                    self.commits += 1
                except BaseException as exc:
                    for waiting in group:
                        waiting.error = exc
                else:
                    if self.checkpoints is not None and written:
                        self.checkpoints.committed(written[-1].seq, written[-1].hash)  # hands over, no I/O
        if pending.error is not None:
            raise pending.error
        assert pending.entry is not None
        return pending.entry

    def close(self) -> None:
        """Write the last checkpoint and stop the checkpointer (the service's shutdown)."""
        if self.checkpoints is not None:
            self.checkpoints.close()

    def _adopt_store_log(self) -> None:
        """Copy the entries an earlier version wrote into the store's own file into the log's file,
        once: when the log's file has no entry yet and the store's has. Entries keep their seq, hash
        and MAC, so the chain and the signed checkpoints still verify. The store's copy stays as it
        was (nothing deletes an audit entry); no process writes to it any more. Every process of the
        hub must run this version: an older one still appending to the store's file after the move
        would write entries this log never sees."""
        if self.engine is self.store:
            return
        with self.store.connect() as conn:
            head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
        if head is None:
            return
        last = int(head.seq)  # a group's entries and its head are committed together: all of 1..last exist
        # The log's writer lock first: two processes starting together move the log once.
        with write_transaction(self.engine) as target:
            if target.execute(select(audit_head.c.id)).first() is not None:
                return  # moved already, or this log has entries of its own
            with self.store.connect() as source:
                for table in (audit_log, audit_residents):
                    rows = source.execution_options(yield_per=5000).execute(select(table).where(table.c.seq <= last))
                    for part in rows.partitions():
                        target.execute(table.insert(), [dict(r._mapping) for r in part])
            target.execute(audit_head.insert().values(id=1, seq=last, hash=head.hash))

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

    def _chain(self, conn: Connection, group: Sequence[_Pending]) -> list[AuditEntry]:
        # Bump the head first: it takes the write lock (SQLite) or the row lock (Postgres), so two
        # groups never chain onto the same predecessor.
        bumped = conn.execute(_BUMP_HEAD, {"entries": len(group)})
        if bumped.rowcount == 0:
            conn.execute(audit_head.insert().values(id=1, seq=len(group), hash=GENESIS))
        head = conn.execute(_HEAD).one()
        seq, prev = head.seq - len(group), head.hash
        entries, rows, about = [], [], []
        for p in group:
            seq += 1
            at = datetime.now(UTC)
            who = p.principal
            digest = entry_hash(seq, at, who.user_id, who.username, who.role, p.action, p.purpose, p.residents,
                                p.fields, prev)
            mac = entry_mac(self.key, digest)
            entries.append(AuditEntry(seq, at, who.user_id, who.username, who.role, p.action, p.purpose,
                                      p.residents, p.fields, prev, digest, mac))
            rows.append({"seq": seq, "at": at, "user_id": who.user_id, "username": who.username, "role": who.role,
                         "action": p.action, "purpose": p.purpose, "residents": json.dumps(list(p.residents)),
                         "fields": json.dumps(list(p.fields), ensure_ascii=False), "prev_hash": prev, "hash": digest,
                         "mac": mac})
            about += [{"profile_id": r, "seq": seq} for r in p.residents]
            prev = digest
        conn.execute(audit_log.insert(), rows)
        if about:
            conn.execute(audit_residents.insert(), about)
        conn.execute(_SET_HEAD_HASH, {"head_hash": prev})
        return entries

    def _legacy_until(self) -> int:
        """The last entry written without a MAC (0 when none): those before the first keyed entry."""
        with self.engine.connect() as conn:
            first = conn.execute(select(audit_log.c.seq).where(audit_log.c.mac.is_not(None))
                                 .order_by(audit_log.c.seq).limit(1)).scalar()
        return 0 if first is None else int(first) - 1

    def entries(self, *, resident: str | None = None, residents: Collection[str] | None = None,
                limit: int | None = None, offset: int = 0) -> list[AuditEntry]:
        """Newest first; with ``resident`` (or any of ``residents``), only the entries about that
        resident (who looked, when, why), by the profile id as given: :meth:`who_looked` follows merges."""
        stmt = select(audit_log).order_by(audit_log.c.seq.desc()).offset(offset)
        about = list(residents or ()) + ([resident] if resident is not None else [])
        if resident is not None or residents is not None:
            stmt = stmt.where(audit_log.c.seq.in_(select(audit_residents.c.seq)
                                                  .where(audit_residents.c.profile_id.in_(about))))
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(stmt)]

    def who_looked(self, resident: str, *, limit: int | None = None,
                   offset: int = 0) -> tuple[list[str], list[AuditEntry]]:
        """Every entry about the resident behind ``resident``, newest first, following merges: the
        reads of the profile a merged-away id leads to and of every profile merged into it (the
        lineage the access report uses). Returns the profile ids looked up and the entries."""
        _, ids = profile_lineage(self.store, resident)
        ids = ids or [resident]  # an id no profile has (any more): its own entries
        if resident not in ids:
            ids.append(resident)
        return ids, self.entries(residents=ids, limit=limit, offset=offset)

    def _all(self) -> Iterator[AuditEntry]:
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=2000).execute(select(audit_log).order_by(audit_log.c.seq)):
                yield _entry(row)

    def _index(self) -> Generator[tuple[int, list[str]]]:
        """The "who looked" index as stored: (seq, its profile ids) in sequence order."""
        t = audit_residents
        with self.engine.connect() as conn:
            rows = conn.execution_options(yield_per=5000).execute(select(t.c.seq, t.c.profile_id)
                                                                  .order_by(t.c.seq, t.c.profile_id))
            for seq, group in itertools.groupby(rows, key=lambda r: int(r.seq)):
                yield seq, [r.profile_id for r in group]

    def verify(self) -> Verification:
        """Recompute the chain, the MACs and the "who looked" index, and hold the log against the
        signed checkpoints kept outside the database; name every entry that was edited, removed,
        re-chained or cut off."""
        problems = _Problems()
        notes: list[str] = []
        # What was written before the entries are read: checkpoints, then the head. Entries appended
        # while this runs come after both, so they extend the log rather than contradict them.
        checkpoints = self._read_checkpoints(problems, notes)
        with self.engine.connect() as conn:
            head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
        head_seq, head_hash = (int(head.seq), head.hash) if head else (0, GENESIS)
        hash_at_head = GENESIS
        at_seq: dict[int, list[Checkpoint]] = {}
        for cp in checkpoints:
            at_seq.setdefault(cp.seq, []).append(cp)
        # Entries after this one must carry a MAC: the key existed when a checkpoint said so.
        legacy_limit = min((cp.legacy_until for cp in checkpoints), default=None)
        prev, expected_seq, count, legacy_last, keyed_seen = GENESIS, 1, 0, 0, False
        index = _Lookahead(self._index())
        for entry in self._all():
            count += 1
            if entry.seq != expected_seq:
                problems.add(f"entries {expected_seq}..{entry.seq - 1} are missing (deleted)")
            if entry.prev_hash != prev:
                problems.add(f"entry {entry.seq}: chain broken (previous entry edited or deleted)")
            digest = entry_hash(entry.seq, entry.at, entry.user_id, entry.username, entry.role, entry.action,
                                entry.purpose, entry.residents, entry.fields, entry.prev_hash)
            if digest != entry.hash:
                problems.add(f"entry {entry.seq}: content does not match its hash (edited)")
            if entry.mac is None:
                if keyed_seen or (legacy_limit is not None and entry.seq > legacy_limit):
                    problems.run("no MAC although written after the audit key (MAC removed)", entry.seq)
                else:
                    legacy_last = entry.seq
            else:
                keyed_seen = True
                if not hmac.compare_digest(entry.mac, entry_mac(self.key, entry.hash)):
                    problems.run("MAC does not match: edited and re-chained, or not written with the audit key",
                                 entry.seq)
            for cp in at_seq.get(entry.seq, ()):
                if cp.hash != entry.hash:
                    problems.add(f"entry {entry.seq}: differs from the checkpoint of {cp.at} (re-written since)")
            for seq, _ in index.upto(entry.seq - 1):
                problems.run("the who-looked index names residents for entries that do not exist (rows added)", seq)
            stored = index.take(entry.seq)
            if sorted(set(entry.residents)) != sorted(stored):
                problems.run("the who-looked index disagrees with the entry's residents (rows deleted, added or "
                             "edited)", entry.seq)
            if entry.seq == head_seq:
                hash_at_head = entry.hash
            prev, expected_seq = entry.hash, entry.seq + 1
        index.close()
        # Index rows past the last entry are not checked: they may be an append committed since the
        # entries were read, and they name no entry, so no who-looked answer shows them.
        last = expected_seq - 1
        if head_seq > last or hash_at_head != head_hash:
            problems.add(f"the log ends at entry {last} but the head says {head_seq} "
                         "(entries at the end were deleted or the head was edited)")
        newest = max(checkpoints, key=lambda cp: cp.seq, default=None)
        if newest is not None and newest.seq > last:
            if count == 0:
                problems.add(f"the log is empty but the checkpoint of {newest.at} records {newest.entries} entries "
                             "(the log was wiped)")
            else:
                problems.add(f"the log ends at entry {last} but the checkpoint of {newest.at} records entry "
                             f"{newest.seq}: entries {last + 1}..{newest.seq} were deleted (truncated)")
        if legacy_last:
            notes.append(f"entries 1..{legacy_last} predate the audit key (no MAC): hash-chained only"
                         + (", pinned by the keyed entry after them" if keyed_seen else ""))
        if newest is not None:
            notes.append(f"{len(checkpoints)} signed checkpoints checked; the newest ({newest.at}) "
                         f"is at entry {newest.seq}")
        return Verification(ok=not problems.found, entries=count, problems=problems.lines(), notes=tuple(notes),
                            checkpoints=len(checkpoints))

    def _read_checkpoints(self, problems: _Problems, notes: list[str]) -> list[Checkpoint]:
        """Every checkpoint signed with this key, from every sink; a record that is not one is a problem."""
        if self.checkpoints is None:
            notes.append("no checkpoints configured: a log cut short or wiped cannot be told from a young one")
            return []
        found: list[Checkpoint] = []
        for sink in self.checkpoints.sinks:
            try:
                records = sink.read()
            except Exception as exc:  # an absent broker: verify what the other sinks hold, and say so
                notes.append(f"{sink.name}: not read ({exc if isinstance(exc, LookupError) else type(exc).__name__})")
                continue
            good = 0
            for n, record in enumerate(records, 1):
                try:
                    checkpoint = Checkpoint.from_json(record)
                except ValueError:
                    problems.add(f"{sink.name}: record {n} is not a checkpoint (edited)")
                    continue
                if not checkpoint.signed_by(self.key):
                    problems.add(f"{sink.name}: the checkpoint at entry {checkpoint.seq} ({checkpoint.at}) is not "
                                 "signed with the audit key (forged or edited)")
                    continue
                found.append(checkpoint)
                good += 1
            notes.append(f"{sink.name}: {good} signed checkpoints")
        return found


class _Problems:
    """Problem lines; runs of consecutive entries with the same problem read as one range."""

    LIMIT = 200

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._runs: dict[str, list[list[int]]] = {}
        self.found = False

    def add(self, line: str) -> None:
        self.found = True
        self._lines.append(line)

    def run(self, what: str, seq: int) -> None:
        self.found = True
        ranges = self._runs.setdefault(what, [])
        if ranges and ranges[-1][1] == seq - 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])

    def lines(self) -> tuple[str, ...]:
        out = list(self._lines)
        for what, ranges in self._runs.items():
            out += [f"entry {a}: {what}" if a == b else f"entries {a}..{b}: {what}" for a, b in ranges]
        if len(out) > self.LIMIT:
            out = out[:self.LIMIT] + [f"… and {len(out) - self.LIMIT} more problems"]
        return tuple(out)


class _Lookahead:
    """The stored index, consumed in step with the entries. Read from the first use on (after the
    entries' query began), so it holds every entry that query sees, and maybe later ones."""

    def __init__(self, rows: Generator[tuple[int, list[str]]]) -> None:
        self._rows = rows
        self._started = False
        self._next: tuple[int, list[str]] | None = None

    def _peek(self) -> tuple[int, list[str]] | None:
        if not self._started:
            self._started = True
            self._next = next(self._rows, None)
        return self._next

    def upto(self, seq: int) -> Iterator[tuple[int, list[str]]]:
        """The groups before and at ``seq``."""
        while (ahead := self._peek()) is not None and ahead[0] <= seq:
            yield ahead
            self._next = next(self._rows, None)

    def take(self, seq: int) -> list[str]:
        ahead = self._peek()
        if ahead is None or ahead[0] != seq:
            return []
        self._next = next(self._rows, None)
        return ahead[1]

    def close(self) -> None:
        self._rows.close()  # rows past the last entry stay unread: end the query and its connection


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _entry(row: object) -> AuditEntry:
    r = row  # a Row of audit_log
    return AuditEntry(seq=r.seq, at=_utc(r.at), user_id=r.user_id, username=r.username,  # type: ignore[attr-defined]
                      role=r.role, action=r.action, purpose=r.purpose,  # type: ignore[attr-defined]
                      residents=tuple(json.loads(r.residents)), fields=tuple(json.loads(r.fields)),  # type: ignore[attr-defined]
                      prev_hash=r.prev_hash, hash=r.hash, mac=r.mac)  # type: ignore[attr-defined]
