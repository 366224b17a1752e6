"""Engines for the two supported backends, with the settings each needs."""

from __future__ import annotations

import fcntl
import json
import sqlite3
import time
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text

from store.migrate import upgrade


class RawJSON(str):
    """JSON text already encoded (pydantic's ``model_dump_json``, written in Rust): a JSON column
    stores it as it is, instead of encoding a dict built for the purpose again with ``json.dumps``."""

    __slots__ = ()


def _json_serializer(value: object) -> str:
    return str(value) if isinstance(value, RawJSON) else json.dumps(value)


def make_engine(url: str, *, create: bool = True) -> Engine:
    """An engine for ``url``; SQLite gets WAL and a busy timeout so readers never block the writer."""
    # Enough pooled connections for the query service's thread pool: a connection opened beyond the
    # pool is closed on return, and a fresh one (on SQLite: pragmas, schema parse, cold page cache)
    # costs more than the read it serves.
    kwargs: dict[str, Any] = {"future": True, "pool_size": 16, "max_overflow": 24, "json_serializer": _json_serializer}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Writers queue on SQLite's single lock; under load a resolve batch can hold it for long.
        kwargs["connect_args"] = {"timeout": 300, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if create:
        upgrade(engine)
    return engine


_COMPANIONS: weakref.WeakKeyDictionary[Engine, dict[str, Engine]] = weakref.WeakKeyDictionary()


def companion_engine(store: Engine, name: str) -> Engine:
    """The database of a part of the hub that writes on its own, beside the profile store: on
    SQLite a file of its own next to the store's (``onceonly.db`` → ``onceonly-resolver.db``), so
    its writer never queues behind the projection's on SQLite's one lock per file; on PostgreSQL
    (row locks, and the resolver's own advisory lock) the store itself. Every entry point asks
    for it this way, so they all meet in the same place."""
    url = store.url
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return store
    known = _COMPANIONS.setdefault(store, {})
    if name not in known:
        path = Path(database)
        known[name] = make_engine(f"sqlite:///{path.with_name(f'{path.stem}-{name}{path.suffix}')}")
    return known[name]


MMAP_BYTES = 2**31


WAL_SWITCH_SECONDS = 60.0


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    _journal_mode_wal(cur)
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    # Reads through a memory map (as far as SQLite maps: 2 GiB in the usual builds) instead of a
    # read() per page into each pooled connection's own small cache: the query service's threads
    # share the OS's pages of the file.
    cur.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
    cur.close()


def _journal_mode_wal(cur: Any) -> None:
    """``PRAGMA journal_mode=WAL``, waiting its turn: while another connection switches a new file
    to WAL (or recovers its WAL index) SQLite answers "database is locked" at once, without calling
    the busy handler the connection's timeout sets, so processes opening one file together (two
    workers, or the store and its companion files at start) would fail where they only had to wait."""
    deadline = time.monotonic() + WAL_SWITCH_SECONDS
    pause = 0.005
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


@contextmanager
def write_transaction(engine: Engine, *, pg_lock: int | None = None) -> Iterator[Connection]:
    """A transaction that holds the writer's lock from its first statement: on SQLite ``BEGIN
    IMMEDIATE`` (a deferred transaction that read first and then writes fails at once with
    SQLITE_BUSY_SNAPSHOT when another writer committed meanwhile, instead of waiting for the lock);
    on PostgreSQL, with ``pg_lock``, a transaction-level advisory lock that serialises the writers
    of one kind.

    On a SQLite file the writers first queue on an exclusive ``flock`` of a file beside the
    database (``<db>.write-lock``), in every process and thread: the kernel wakes the next writer
    the moment one commits, where SQLite's own busy handler polls with sleeps of up to 100 ms
    (with two workers' projections, ledgers and the gazetteer on one file, most of a batch's time
    went to those sleeps). Writers that do not come through here still meet SQLite's lock."""
    with _queued(engine), engine.connect() as conn:
        try:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            elif pg_lock is not None and conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": pg_lock})
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def _queued(engine: Engine) -> AbstractContextManager[None]:
    """The writers' queue of a SQLite file (nothing for PostgreSQL or an in-memory database)."""
    return file_lock(engine, "write-lock")


@contextmanager
def file_lock(engine: Engine, name: str) -> Iterator[None]:
    """An exclusive ``flock`` on ``<database>.<name>`` beside a SQLite file, for every process and
    thread that asks (each opens the file anew); nothing for PostgreSQL or an in-memory database."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.{name}", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
