"""A connector's memory in the hub's database: what it has sent, its cursors, its runs.

Everything a page changes (content hashes, cursor, the raw topic's offsets) is written in one
transaction, and only after the broker acknowledged the page's records.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, func, select, update

from store.pull_holds import HeldRecord, PullHolds, pending_held_ids
from store.tables import connector_checkpoints, connector_records, connector_runs
from store.upsert import upsert

_CHUNK = 500
_SENT_COLUMNS = ("source", "record_id", "content_hash", "ended", "scope", "last_seen_run")
_SENT_SQLITE = (  # connector_records, upserted by its key
    "INSERT INTO connector_records (source, record_id, content_hash, ended, scope, last_seen_run) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source, record_id) DO UPDATE SET content_hash = excluded.content_hash, "
    "ended = excluded.ended, scope = excluded.scope, last_seen_run = excluded.last_seen_run"
)


@dataclass(frozen=True)
class Known:
    content_hash: str
    ended: bool


@dataclass(frozen=True)
class Sent:
    """A record version the broker acknowledged (or that reconciliation found in the topic)."""

    record_id: str
    content_hash: str  # "end" for an end event
    scope: str = ""


class ConnectorState:
    def __init__(self, engine: Engine, source: str) -> None:
        self.engine = engine
        self.source = source

    # -- what was sent ---------------------------------------------------------------------------
    def known(self, record_ids: Sequence[str]) -> dict[str, Known]:
        found: dict[str, Known] = {}
        table = connector_records
        with self.engine.connect() as conn:
            for i in range(0, len(record_ids), _CHUNK):
                chunk = list(record_ids[i:i + _CHUNK])
                rows = conn.execute(
                    select(table.c.record_id, table.c.content_hash, table.c.ended).where(
                        and_(table.c.source == self.source, table.c.record_id.in_(chunk))
                    )
                )
                found.update({r.record_id: Known(r.content_hash, r.ended) for r in rows})
        return found

    def commit(self, run_id: str, sent: Iterable[Sent], seen: Iterable[tuple[str, str]],
               checkpoints: dict[str, Any]) -> None:
        """Record acknowledged versions, rows seen unchanged (record id, scope), and cursors, atomically."""
        rows: dict[str, dict[str, Any]] = {}
        for record_id, scope in seen:
            rows[record_id] = {"source": self.source, "record_id": record_id, "scope": scope,
                               "last_seen_run": run_id}
        sent_rows = [(self.source, s.record_id, s.content_hash, s.content_hash == "end", s.scope, run_id)
                     for s in sent]
        for row in sent_rows:
            rows.pop(row[1], None)
        with self.engine.begin() as conn:
            if sent_rows and conn.dialect.name == "sqlite":
                # the page's thousand rows in one executemany of one prepared statement: through
                # SQLAlchemy's insert() each row's parameters were built in Python (~15 µs a record)
                conn.exec_driver_sql(_SENT_SQLITE, sent_rows)
            elif sent_rows:
                upsert(conn, connector_records, [dict(zip(_SENT_COLUMNS, row, strict=True)) for row in sent_rows],
                       keys=("source", "record_id"), update=("content_hash", "ended", "scope", "last_seen_run"))
            seen_rows = list(rows.values())
            for i in range(0, len(seen_rows), _CHUNK):
                chunk = seen_rows[i:i + _CHUNK]
                for scope in {r["scope"] for r in chunk}:
                    ids = [r["record_id"] for r in chunk if r["scope"] == scope]
                    conn.execute(
                        update(connector_records)
                        .where(and_(connector_records.c.source == self.source, connector_records.c.record_id.in_(ids)))
                        .values(last_seen_run=run_id, scope=scope)
                    )
            if checkpoints:
                upsert(conn, connector_checkpoints,
                       [{"source": self.source, "name": k, "value": v} for k, v in checkpoints.items()],
                       keys=("source", "name"), update=("value",))

    def mark_scope_seen(self, run_id: str, scope: str) -> int:
        """An unchanged file: every live record it holds counts as seen, without reading it (but
        not the records whose ends wait for a steward: accepting would otherwise end nothing)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(connector_records)
                .where(and_(connector_records.c.source == self.source, connector_records.c.scope == scope,
                            connector_records.c.ended.is_(False),
                            connector_records.c.record_id.not_in(pending_held_ids(self.source))))
                .values(last_seen_run=run_id)
            )
            return int(result.rowcount or 0)

    def unseen_live(self, run_id: str, scopes: Sequence[str] | None = None) -> Iterator[HeldRecord]:
        """Live records this run did not see (with the run that last saw each), in bounded chunks."""
        table = connector_records
        stmt = (
            select(table.c.record_id, table.c.scope, table.c.last_seen_run)
            .where(and_(table.c.source == self.source, table.c.ended.is_(False), table.c.last_seen_run != run_id))
            .order_by(table.c.record_id)
        )
        if scopes is not None:
            stmt = stmt.where(table.c.scope.in_(list(scopes)))
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=_CHUNK).execute(stmt)
            rows = [HeldRecord(r.record_id, r.scope, r.last_seen_run) for r in result]
        yield from rows

    def live_count(self) -> int:
        """How many of the source's records are live (sent and not ended)."""
        table = connector_records
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table).where(
                and_(table.c.source == self.source, table.c.ended.is_(False)))).scalar_one())

    def hold_ends(self, run_id: str, records: Sequence[HeldRecord], reasons: Sequence[str], live: int) -> str:
        """Keep ``records`` live and ask a steward whether they end (``store.pull_holds``)."""
        return PullHolds(self.engine).create(self.source, run_id, reasons, live, records)

    def still_unseen(self, records: Sequence[HeldRecord]) -> list[HeldRecord]:
        """Of ``records``, those still live and not seen by any run since they were held."""
        table = connector_records
        now: dict[str, tuple[bool, str]] = {}
        ids = [r.record_id for r in records]
        with self.engine.connect() as conn:
            for i in range(0, len(ids), _CHUNK):
                rows = conn.execute(select(table.c.record_id, table.c.ended, table.c.last_seen_run).where(
                    and_(table.c.source == self.source, table.c.record_id.in_(ids[i:i + _CHUNK]))))
                now.update({r.record_id: (bool(r.ended), r.last_seen_run) for r in rows})
        return [r for r in records if r.record_id in now and now[r.record_id] == (False, r.last_seen_run)]

    def live_scopes(self) -> set[str]:
        table = connector_records
        with self.engine.connect() as conn:
            rows = conn.execute(select(table.c.scope).where(and_(table.c.source == self.source,
                                                                 table.c.ended.is_(False))).distinct())
            return {r.scope for r in rows}

    # -- cursors ---------------------------------------------------------------------------------
    def checkpoint(self, name: str, default: Any = None) -> Any:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(connector_checkpoints.c.value).where(
                    and_(connector_checkpoints.c.source == self.source, connector_checkpoints.c.name == name)
                )
            ).scalar_one_or_none()
        return default if value is None else value

    # -- runs ------------------------------------------------------------------------------------
    def start_run(self, run_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(connector_runs.insert().values(run_id=run_id, source=self.source,
                                                        started_at=datetime.now(UTC), status="running"))

    def finish_run(self, run_id: str, *, status: str, read: int, events: int, ended: int, unchanged: int,
                   dead_letters: int, held: int = 0, note: str = "") -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(connector_runs).where(connector_runs.c.run_id == run_id).values(
                    finished_at=datetime.now(UTC), status=status, read=read, events=events, ended=ended,
                    unchanged=unchanged, dead_letters=dead_letters, held=held, note=note)
            )

    def runs(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(connector_runs).where(connector_runs.c.source == self.source)
                                .order_by(connector_runs.c.started_at))
            return [dict(r._mapping) for r in rows]
