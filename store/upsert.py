"""Dialect-aware INSERT … ON CONFLICT for the two backends (SQLite and PostgreSQL), and the chunks
that keep one statement's values bounded."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

T = TypeVar("T")


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
    # executemany's rowcount is -1 on psycopg; RETURNING counts the inserted rows on both backends.
    key = next(iter(table.primary_key.columns))
    stmt = _insert(conn, table).on_conflict_do_nothing().returning(key)
    result = conn.execute(stmt, list(rows))
    return len(result.all())


def upsert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], *, keys: Sequence[str],
           update: Sequence[str]) -> None:
    if not rows:
        return
    stmt = _insert(conn, table)
    stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_={c: stmt.excluded[c] for c in update})
    conn.execute(stmt, list(rows))


def chunks(values: Collection[T], size: int = 500) -> Iterator[list[T]]:
    """``values`` in lists of at most ``size``: the values of one ``IN (...)`` or one executemany."""
    items = list(values)
    for start in range(0, len(items), size):
        yield items[start:start + size]
