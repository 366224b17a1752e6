"""The SQL transport: one table in a department's own database, read incrementally.

Why it reads the way it does:

* **Incremental by watermark.** Pages are ordered by (watermark, key) and the cursor is that
  pair, so rows sharing one ``updated_at`` across a page boundary are neither skipped nor read
  twice. Each page is its own short query (keyset pagination), so no transaction stays open
  while Kafka acknowledges, and a failed query is retried alone.
* **Bounded run.** The run reads up to the largest watermark it saw when it started; rows
  written meanwhile are the next run's.
* **Lookback** (``lookback``, default 0): a row committed late with a watermark older than the
  saved cursor (a long transaction stamped when it began) would never be read. With a lookback the
  run re-reads from ``cursor - lookback`` (seconds for a time watermark, units for a number); the
  rows already collected hash the same and send nothing, so each fact still goes once.
* **Rows without a watermark** (NULL) cannot be ordered after a cursor, so they are read on
  every run; their content hashes make that cost nothing downstream.
* **Deletions** are found by a key scan: every run streams the table's keys in chunks and hands
  them to the loop as ``Page.present`` (seen, not re-read); live records whose key is gone end.
* **The watermark column is not payload**: a row merely touched (``updated_at`` bumped, same
  facts) hashes the same and sends nothing — each fact once.
* **Read-only, retried, never skipped.** SQLite files are opened read-only (a missing file is an
  error, never a new empty database); connection-level errors are retried with backoff until
  ``retry_for`` seconds pass, then the run fails with a message that names the table, never a
  value (statements are compiled with ``hide_parameters``).

Transport settings in the mapping file::

    transport:
      url_env: ONCEONLY_PUBLIC_SECURITY_URL   # env var holding the URL (credentials), wins if set
      url: "sqlite:///{data_dir}/departments/public_security.db"   # fallback; {data_dir} = data dir
      table: 户籍人口
      schema: null          # optional
      watermark: updated_at
      page_rows: 1000       # rows per page (= per broker acknowledgement)
      key_scan: true        # find deleted rows (false: an incremental pull concludes nothing)
      key_scan_rows: 10000  # keys per key-scan chunk
      retry_for: 120        # seconds of retrying an unreachable database before giving up
      lookback: 300         # re-read this far behind the cursor (late commits); 0 = never
"""

from __future__ import annotations

import logging
import math
import os
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import Engine, and_, column, create_engine, func, inspect, make_url, or_, select, table
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, InterfaceError, NoSuchTableError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import ColumnClause, TableClause

from connectors.rows import CursorLookup, NativeRow, Page, Row, UnreadableRow
from connectors.spec import ConnectorSpec
from core.privacy import redact

log = logging.getLogger(__name__)

CHECKPOINT = "sql_cursor"
T = TypeVar("T")


class SqlSourceError(RuntimeError):
    """The department database refused a read, or stayed unreachable past ``retry_for``."""


@dataclass(frozen=True)
class SqlTransport:
    """The ``transport`` block of a ``kind: sql`` mapping file, checked."""

    url: str
    table: str
    watermark: str
    schema: str | None = None
    page_rows: int = 1000
    key_scan: bool = True
    key_scan_rows: int = 10_000
    retry_for: float = 120.0
    lookback: float = 0.0

    @classmethod
    def of(cls, spec: ConnectorSpec, data_dir: Path | None = None) -> SqlTransport:
        settings = dict(spec.transport)
        url_env = settings.get("url_env")
        url = (os.environ.get(url_env) if url_env else None) or settings.get("url")
        if not url:
            raise SqlSourceError(f"{spec.source}: no database URL: set {url_env or 'transport.url'}")
        if "{data_dir}" in url:
            if data_dir is None:
                raise SqlSourceError(f"{spec.source}: the URL uses {{data_dir}} but no data dir was given")
            url = url.replace("{data_dir}", str(data_dir))
        for name in ("table", "watermark"):
            if not settings.get(name):
                raise SqlSourceError(f"{spec.source}: transport.{name} is required for kind sql")
        return cls(url=url, table=settings["table"], watermark=settings["watermark"], schema=settings.get("schema"),
                   page_rows=int(settings.get("page_rows", 1000)), key_scan=bool(settings.get("key_scan", True)),
                   key_scan_rows=int(settings.get("key_scan_rows", 10_000)),
                   retry_for=float(settings.get("retry_for", 120)), lookback=float(settings.get("lookback", 0)))


class SqlReader:
    """Pages of one table, from the saved (watermark, key) cursor on, then a key scan."""

    def __init__(self, spec: ConnectorSpec, *, data_dir: Path | None = None) -> None:
        self.spec = spec
        self.settings = SqlTransport.of(spec, data_dir)
        self.keys = list(spec.record_id)
        self._db: Engine | None = None
        self._scanned: list[str] | None = []

    # -- the Reader protocol ---------------------------------------------------------------------
    def pages(self, cursors: CursorLookup) -> Iterator[Page]:
        self._scanned = []
        source = self._table(self._columns())
        cursor = _load_cursor(cursors.checkpoint(CHECKPOINT), self.settings)
        high = self._retrying("reading the highest watermark",
                              lambda conn: conn.execute(select(func.max(source.c[self.settings.watermark]))).scalar())
        floor = None
        if cursor is not None and self.settings.lookback > 0:
            floor, cursor = behind(cursor[0], self.settings.lookback), None
        if high is not None:
            yield from self._changed(source, cursor, high, floor)
        yield from self._without_watermark(source)
        if self.settings.key_scan:
            yield from self._key_scan(source)
            self._scanned = None  # every key was looked at: absent live records are gone

    def scanned_scopes(self) -> Sequence[str] | None:
        return self._scanned

    def unchanged_scopes(self) -> Sequence[str]:
        return ()

    # -- the three passes ------------------------------------------------------------------------
    def _changed(self, source: TableClause, cursor: list[Any] | None, high: Any, floor: Any = None) -> Iterator[Page]:
        order = [source.c[self.settings.watermark], *(source.c[k] for k in self.keys)]
        while True:
            stmt = select(source).where(order[0].is_not(None), order[0] <= high)
            if floor is not None:
                stmt = stmt.where(order[0] >= floor)
            if cursor is not None:
                stmt = stmt.where(_after(order, cursor))
            rows = self._fetch(stmt.order_by(*order).limit(self.settings.page_rows))
            if not rows:
                return
            cursor = [rows[-1][self.settings.watermark], *(rows[-1][k] for k in self.keys)]
            yield Page(rows=[self._row(r) for r in rows], checkpoints={CHECKPOINT: _dump_cursor(cursor, self.settings)})
            if len(rows) < self.settings.page_rows:
                return

    def _without_watermark(self, source: TableClause) -> Iterator[Page]:
        order = [source.c[k] for k in self.keys]
        last: list[Any] | None = None
        while True:
            stmt = select(source).where(source.c[self.settings.watermark].is_(None))
            if last is not None:
                stmt = stmt.where(_after(order, last))
            rows = self._fetch(stmt.order_by(*order).limit(self.settings.page_rows))
            if not rows:
                return
            last = [rows[-1][k] for k in self.keys]
            yield Page(rows=[self._row(r) for r in rows])
            if len(rows) < self.settings.page_rows:
                return

    def _key_scan(self, source: TableClause) -> Iterator[Page]:
        order = [source.c[k] for k in self.keys]
        last: list[Any] | None = None
        while True:
            stmt = select(*order)
            if last is not None:
                stmt = stmt.where(_after(order, last))
            rows = self._fetch(stmt.order_by(*order).limit(self.settings.key_scan_rows))
            if not rows:
                return
            last = [rows[-1][k] for k in self.keys]
            yield Page(rows=(), present=[{k: _text_key(r[k]) for k in self.keys} for r in rows])
            if len(rows) < self.settings.key_scan_rows:
                return

    # -- rows ------------------------------------------------------------------------------------
    def _row(self, row: Mapping[str, Any]) -> Row:
        key = "|".join(_text_key(row[k]) for k in self.keys)
        location = redact(f"{self.settings.table}[{key}]")
        values: dict[str, Any] = {}
        for name, value in row.items():
            if name == self.settings.watermark:
                continue
            if isinstance(value, (bytes, bytearray, memoryview)):
                try:
                    value = bytes(value).decode("utf-8")
                except UnicodeDecodeError:
                    return UnreadableRow(location, f"column {name!r} holds bytes that are not UTF-8 text",
                                         excerpt=bytes(value)[:40].hex(" "))
            values[name] = _plain(value)
        return NativeRow(location, values)

    # -- the database ----------------------------------------------------------------------------
    def _columns(self) -> list[str]:
        def reflect(conn: Connection) -> list[str]:
            try:
                found = inspect(conn).get_columns(self.settings.table, schema=self.settings.schema)
            except NoSuchTableError:
                found = []
            return [str(c["name"]) for c in found]

        names = self._retrying("reading the table's columns", reflect)
        if not names:
            raise SqlSourceError(f"{self.spec.source}: table {self.settings.table!r} does not exist")
        needed = [*self.keys, self.settings.watermark, *self.spec.expected_columns]
        missing = [c for c in dict.fromkeys(needed) if c not in names]
        if missing:
            raise SqlSourceError(f"{self.spec.source}: table {self.settings.table!r} lacks columns {missing}")
        return names

    def _table(self, names: list[str]) -> TableClause:
        # Lightweight, untyped columns: values come back as the driver gives them, so a cursor
        # value binds back exactly as it was read (SQLite compares stored text with text).
        return table(self.settings.table, *(column(n) for n in names), schema=self.settings.schema)

    def _fetch(self, stmt: Any) -> list[Mapping[str, Any]]:
        return self._retrying("reading a page", lambda conn: [dict(r._mapping) for r in conn.execute(stmt)])

    def _engine(self) -> Engine:
        if self._db is None:
            self._db = _read_only_engine(self.settings.url)
        return self._db

    def _retrying(self, what: str, action: Callable[[Connection], T]) -> T:
        """Run ``action`` on a fresh connection; retry connection-level failures with backoff."""
        started = time.monotonic()
        delay, attempt = 0.2, 0
        while True:
            attempt += 1
            try:
                with self._engine().connect() as conn:
                    return action(conn)
            except (DBAPIError, PoolTimeout) as exc:
                reason = _reason(exc)
                where = f"{self.spec.source}: {what} from table {self.settings.table!r}"
                if not _transient(exc):
                    raise SqlSourceError(f"{where} failed: {reason}") from None
                waited = time.monotonic() - started
                if waited + delay > self.settings.retry_for:
                    raise SqlSourceError(
                        f"{where}: database unreachable after {attempt} attempts over {waited:.0f}s: {reason}"
                    ) from None
                log.warning("%s: attempt %d failed (%s); retrying in %.1fs", where, attempt, reason, delay)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)


def _read_only_engine(url: str) -> Engine:
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"hide_parameters": True}
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        if path and path != ":memory:" and not path.startswith("file:"):
            # read-only URI: never creates a file, never writes to the department's database
            parsed = parsed.set(database=f"file:{urllib.parse.quote(str(Path(path).resolve()))}",
                                query={**parsed.query, "mode": "ro", "uri": "true"})
        # a fresh connection per query: a file moved away is noticed, not read through an old handle
        kwargs |= {"poolclass": NullPool, "connect_args": {"timeout": 30}}
    else:
        kwargs["pool_pre_ping"] = True
        if parsed.get_backend_name() == "postgresql":
            kwargs["connect_args"] = {"connect_timeout": 10}
    return create_engine(parsed, **kwargs)


def _after(order: list[ColumnClause[Any]], values: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the lexicographic order of ``order`` (portable: no tuple
    comparison, which older SQLite lacks)."""
    head, value = order[0], values[0]
    if len(order) == 1:
        return cast("ColumnElement[bool]", head > value)
    return or_(head > value, and_(head == value, _after(order[1:], values[1:])))


def _transient(exc: Exception) -> bool:
    if isinstance(exc, PoolTimeout):
        return True
    assert isinstance(exc, DBAPIError)
    return isinstance(exc, (OperationalError, InterfaceError)) or bool(exc.connection_invalidated)


def _reason(exc: Exception) -> str:
    """The driver's own first line, without statement or values (and any ID number masked)."""
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).strip().splitlines() or [""])[0]
    return redact(f"{type(orig).__name__}: {first}")[:300]


def _plain(value: Any) -> Any:
    """A native value as JSON can carry it, spelled the same whichever database holds it."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _text_key(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    return "" if value is None else str(_plain(value))


def behind(value: Any, lookback: float) -> Any:
    """``value`` moved ``lookback`` back: seconds for a time (also a time written as text, kept in
    the same spelling so text comparison still orders it), units for a number."""
    if isinstance(value, datetime):
        return value - timedelta(seconds=lookback)
    if isinstance(value, date):
        return value - timedelta(days=math.ceil(lookback / 86400))
    if isinstance(value, bool):
        raise SqlSourceError("a lookback needs a time or a number watermark")
    if isinstance(value, int):
        return value - math.ceil(lookback)
    if isinstance(value, Decimal):
        return value - Decimal(str(lookback))
    if isinstance(value, float):
        return value - lookback
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise SqlSourceError("a lookback needs a time or a number watermark, not text") from None
        earlier = moment - timedelta(seconds=lookback)
        spec = "microseconds" if "." in value else "seconds"
        if len(value) == 10:  # a date written as text
            return earlier.date().isoformat()
        return earlier.isoformat(sep="T" if "T" in value else " ", timespec=spec)
    raise SqlSourceError(f"a lookback needs a time or a number watermark, not {type(value).__name__}")


# -- the cursor, as JSON with its types --------------------------------------------------------
def _dump_cursor(values: list[Any], settings: SqlTransport) -> dict[str, Any]:
    return {"table": settings.table, "watermark": settings.watermark, "after": [_dump(v) for v in values]}


def _load_cursor(saved: Any, settings: SqlTransport) -> list[Any] | None:
    """The saved cursor, or ``None`` (read from the start) when it belongs to another table or column."""
    if not isinstance(saved, dict) or (saved.get("table"), saved.get("watermark")) != (settings.table,
                                                                                       settings.watermark):
        return None
    return [_load(v) for v in saved["after"]]


def _dump(value: Any) -> list[Any]:
    if isinstance(value, datetime):
        return ["datetime", value.isoformat()]
    if isinstance(value, date):
        return ["date", value.isoformat()]
    if isinstance(value, Decimal):
        return ["decimal", str(value)]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return ["bytes", bytes(value).hex()]
    if value is None or isinstance(value, (str, int, float, bool)):
        return ["plain", value]
    raise SqlSourceError(f"cannot keep a {type(value).__name__} value in a cursor")


def _load(saved: list[Any]) -> Any:
    kind, value = saved
    if kind == "datetime":
        return datetime.fromisoformat(value)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "decimal":
        return Decimal(value)
    if kind == "bytes":
        return bytes.fromhex(value)
    return value
