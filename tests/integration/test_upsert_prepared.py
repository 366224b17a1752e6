"""The SQLite path of ``store.upsert`` (statements compiled once, run as the driver's executemany)
writes exactly what SQLAlchemy's own dialect insert writes: the columns' bind processors (dates,
JSON, booleans), scalar defaults for columns the rows leave out, the conflict rules, and the count
of new rows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Table, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError

from store.engine import make_engine
from store.profile_tables import profile_event_log, profiles
from store.resolver_tables import resolver_block_members, resolver_outbox
from store.tables import connector_records
from store.upsert import _prepared, insert_new, insert_rows, upsert


def _reference_upsert(engine: Engine, table: Table, rows: list[dict[str, Any]], keys: tuple[str, ...],
                      update: tuple[str, ...]) -> None:
    with engine.begin() as conn:
        stmt = sqlite.insert(table)
        conn.execute(stmt.on_conflict_do_update(index_elements=list(keys),
                                                set_={c: stmt.excluded[c] for c in update}), rows)


def _reference_insert_new(engine: Engine, table: Table, rows: list[dict[str, Any]]) -> int:
    key = next(iter(table.primary_key.columns))
    with engine.begin() as conn:
        return len(conn.execute(sqlite.insert(table).on_conflict_do_nothing().returning(key), rows).all())


def _rows(engine: Engine, table: Table) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns))]


def test_the_prepared_statements_write_what_sqlalchemy_writes(tmp_path: Path) -> None:
    ours, theirs = make_engine(f"sqlite:///{tmp_path / 'ours.db'}"), make_engine(f"sqlite:///{tmp_path / 'theirs.db'}")
    at = datetime(2026, 12, 7, 8, 30, 15, 123456, tzinfo=UTC)
    # defaults: ended, scope and last_seen_run left out
    first = [{"source": "civil_affairs", "record_id": str(i), "content_hash": f"h{i}"} for i in range(3)]
    again = [{"source": "civil_affairs", "record_id": str(i), "content_hash": f"new{i}"} for i in (1, 2, 3)]
    doc = '{"profile_id": "p-1", "名字": "张三"}'
    profile_rows = [{"profile_id": "p-1", "version": 1, "status": "active", "name": "张三", "lives_apart": True,
                     "updated_at": at, "doc": doc},
                    {"profile_id": "p-2", "version": 4, "status": "active", "name": None, "lives_apart": False,
                     "updated_at": at, "doc": doc}]
    events = [{"event_id": f"e-{i}", "profile_id": "p-1", "version": i, "occurred_at": at, "type": "RecordLinked",
               "payload": "{}"} for i in range(1, 4)]
    with ours.begin() as conn:
        upsert(conn, connector_records, first, keys=("source", "record_id"), update=("content_hash",))
        upsert(conn, connector_records, again, keys=("source", "record_id"), update=("content_hash",))
        upsert(conn, profiles, profile_rows, keys=("profile_id",), update=("version", "name", "doc"))
        assert insert_new(conn, profile_event_log, events[:2]) == 2
        assert insert_new(conn, profile_event_log, events) == 1  # two were there: one new
    _reference_upsert(theirs, connector_records, first, ("source", "record_id"), ("content_hash",))
    _reference_upsert(theirs, connector_records, again, ("source", "record_id"), ("content_hash",))
    _reference_upsert(theirs, profiles, profile_rows, ("profile_id",), ("version", "name", "doc"))
    assert _reference_insert_new(theirs, profile_event_log, events[:2]) == 2
    assert _reference_insert_new(theirs, profile_event_log, events) == 1
    for table in (connector_records, profiles, profile_event_log):
        assert _rows(ours, table) == _rows(theirs, table), table.name
    assert [r[2] for r in _rows(ours, connector_records)] == ["h0", "new1", "new2", "new3"]


def test_each_statement_is_compiled_once_per_shape(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.begin() as conn:
        first = _prepared(conn, connector_records, ("source", "record_id", "content_hash"),
                          ("source", "record_id"), ("content_hash",))
        second = _prepared(conn, connector_records, ("source", "record_id", "content_hash"),
                           ("source", "record_id"), ("content_hash",))
        other = _prepared(conn, connector_records, ("source", "record_id", "content_hash"), (), None)
    assert first is not None and first is second
    assert other is not None and other is not first and "DO NOTHING" in other.sql


def test_plain_inserts_fail_on_a_conflict_and_skipping_ones_leave_it_out(tmp_path: Path) -> None:
    ours, theirs = make_engine(f"sqlite:///{tmp_path / 'ours.db'}"), make_engine(f"sqlite:///{tmp_path / 'theirs.db'}")
    outbox = [{"seq": i, "event_id": f"e-{i}", "profile_id": "p-1", "version": i, "event_type": "RecordLinked",
               "payload": bytes([i, 0, 255])} for i in (1, 2)]  # published: its default
    members = [{"block_key": "b1", "record_key": f"r{i}"} for i in range(3)]
    with ours.begin() as conn:
        insert_rows(conn, resolver_outbox, outbox)
        insert_rows(conn, resolver_block_members, members[:2], skip_conflicts=True)
        insert_rows(conn, resolver_block_members, members, skip_conflicts=True)
    with theirs.begin() as conn:
        conn.execute(sqlite.insert(resolver_outbox), outbox)
        conn.execute(sqlite.insert(resolver_block_members).on_conflict_do_nothing(), members)
    for table in (resolver_outbox, resolver_block_members):
        assert _rows(ours, table) == _rows(theirs, table), table.name
    assert [r[5:] for r in _rows(ours, resolver_outbox)] == [(bytes([1, 0, 255]), False), (bytes([2, 0, 255]), False)]
    with pytest.raises(IntegrityError), ours.begin() as conn:
        insert_rows(conn, resolver_outbox, outbox[1:])
