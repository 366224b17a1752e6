"""Dialect-aware INSERT … ON CONFLICT for the two backends (SQLite and PostgreSQL), and the chunks
that keep one statement's values bounded.

SQLAlchemy does not cache the dialects' ``INSERT … ON CONFLICT`` statements (their ``Insert`` is
built with ``inherit_cache = False``): each call compiled its statement again, which cost more
than writing the rows for the small batches the agents write (a projection batch of ten events
made six such statements). On SQLite each (table, columns, conflict rule) is compiled once here and
its SQL run as the driver's ``executemany``, with the columns' own bind processors (dates, JSON).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.schema import ScalarElementColumnDefault

T = TypeVar("T")


@dataclass(frozen=True)
class _Prepared:
    """One compiled ``INSERT … ON CONFLICT``: its SQL and, per positional parameter, the row key it
    takes (or the column's scalar default when rows do not give it) and the column's bind processor."""

    sql: str
    keys: tuple[str | None, ...]
    defaults: tuple[Any, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]

    def parameters(self, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
        plan = list(zip(self.keys, self.defaults, self.processors, strict=True))
        return [tuple((row[key] if key is not None else default) if process is None
                      else process(row[key] if key is not None else default)
                      for key, default, process in plan)
                for row in rows]


_PREPARED: weakref.WeakKeyDictionary[Dialect, dict[tuple[Any, ...], _Prepared | None]] = weakref.WeakKeyDictionary()
_PREPARED_LOCK = threading.Lock()


def _prepared(conn: Connection, table: Table, names: tuple[str, ...], keys: tuple[str, ...],
              update: tuple[str, ...] | None, *, on_conflict: bool = True) -> _Prepared | None:
    """The compiled statement for rows with ``names`` (SQLite only; ``None``: let SQLAlchemy run
    it, as for a column whose default is computed per row). ``update`` None: do nothing on conflict;
    ``on_conflict`` false: a plain INSERT (a conflict is an error)."""
    if conn.dialect.name != "sqlite":
        return None
    cache_key = (table, names, keys, update, on_conflict)
    with _PREPARED_LOCK:
        known = _PREPARED.setdefault(conn.dialect, {})
        if cache_key in known:
            return known[cache_key]
    stmt = sqlite.insert(table)
    if on_conflict and update is None:
        stmt = stmt.on_conflict_do_nothing()
    elif on_conflict and update is not None:
        stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_={c: stmt.excluded[c] for c in update})
    compiled = stmt.compile(dialect=conn.dialect, column_keys=list(names))
    positions = compiled.positiontup
    # columns the rows leave out take their scalar defaults; one computed per row is left to SQLAlchemy
    defaults = {c.key: c.default.arg for c in compiled.insert_prefetch
                if isinstance(c.default, ScalarElementColumnDefault)}
    prepared: _Prepared | None = None
    if (positions is not None and len(defaults) == len(compiled.insert_prefetch) and not compiled.postfetch
            and all(name in names or name in defaults for name in positions)):
        prepared = _Prepared(
            sql=compiled.string,
            keys=tuple(name if name in names else None for name in positions),
            defaults=tuple(None if name in names else defaults[name] for name in positions),
            processors=tuple(compiled.binds[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
                             for name in positions),
        )
    with _PREPARED_LOCK:
        known[cache_key] = prepared
    return prepared


def _insert(conn: Connection, table: Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database dialect {conn.dialect.name!r}")


def insert_new(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert the rows that do not exist yet; return how many were new."""
    if not rows:
        return 0
    prepared = _prepared(conn, table, tuple(rows[0]), (), None)
    if prepared is not None:  # SQLite sums the rows each execution changed: a skipped conflict changes none
        return int(conn.exec_driver_sql(prepared.sql, prepared.parameters(rows)).rowcount)
    # executemany's rowcount is -1 on psycopg; RETURNING counts the inserted rows on both backends.
    key = next(iter(table.primary_key.columns))
    stmt = _insert(conn, table).on_conflict_do_nothing().returning(key)
    result = conn.execute(stmt, list(rows))
    return len(result.all())


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], *, skip_conflicts: bool = False) -> None:
    """Insert ``rows`` (with ``skip_conflicts``, those whose key exists already are left out);
    without it a conflict raises, as a plain INSERT does."""
    if not rows:
        return
    prepared = _prepared(conn, table, tuple(rows[0]), (), None, on_conflict=skip_conflicts)
    if prepared is not None:
        conn.exec_driver_sql(prepared.sql, prepared.parameters(rows))
        return
    stmt = _insert(conn, table)
    conn.execute(stmt.on_conflict_do_nothing() if skip_conflicts else stmt, list(rows))


def upsert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], *, keys: Sequence[str],
           update: Sequence[str]) -> None:
    if not rows:
        return
    prepared = _prepared(conn, table, tuple(rows[0]), tuple(keys), tuple(update))
    if prepared is not None:
        conn.exec_driver_sql(prepared.sql, prepared.parameters(rows))
        return
    stmt = _insert(conn, table)
    stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_={c: stmt.excluded[c] for c in update})
    conn.execute(stmt, list(rows))


def chunks(values: Collection[T], size: int = 500) -> Iterator[list[T]]:
    """``values`` in lists of at most ``size``: the values of one ``IN (...)`` or one executemany."""
    items = list(values)
    for start in range(0, len(items), size):
        yield items[start:start + size]
