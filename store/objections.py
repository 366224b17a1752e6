"""The objections' projection (``store.objection_tables``): apply events once and in order, and
find objections by resident, department, community or status."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, bindparam, delete, select

from core.objections import Objection, apply
from schemas.objection_events import ObjectionEvent
from store.engine import write_transaction
from store.objection_tables import objections
from store.upsert import chunks, upsert

__all__ = ["LOCK_KEY", "ObjectionStore"]

# Built once: building and hashing a statement costs more than SQLite takes to run this one (every profile read).
_OPEN_ON = (select(objections.c.doc)
            .where(objections.c.profile_id.in_(bindparam("profile_ids", expanding=True)), objections.c.status == "open")
            .order_by(objections.c.raised_at))

LOCK_KEY = 0x0E5017E8  # pg_advisory_xact_lock key of objection writers (decisions are made one at a time)


class ObjectionStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def locked(self) -> Iterator[Connection]:
        """A write transaction that holds the objections' writer lock: a decision reads the state,
        publishes its events and applies them before the next decision reads."""
        with write_transaction(self.engine, pg_lock=LOCK_KEY) as conn:
            yield conn

    def apply(self, conn: Connection, events: Iterable[ObjectionEvent]) -> int:
        """Fold ``events`` into their objections; an event already applied (by seq) is skipped.
        Returns how many were applied."""
        batch = list(events)
        states = self.load(conn, {e.objection_id for e in batch})
        touched: set[str] = set()
        applied = 0
        for event in batch:
            current = states.get(event.objection_id)
            if current is not None and event.seq <= current.seq:
                continue
            states[event.objection_id] = apply(current, event)
            touched.add(event.objection_id)
            applied += 1
        now = datetime.now(UTC)
        upsert(conn, objections, [_row(states[oid], now) for oid in sorted(touched)], keys=("objection_id",),
               update=("seq", "profile_id", "community", "department", "status", "answer", "due_on", "escalated",
                       "updated_at", "doc"))
        return applied

    @staticmethod
    def load(conn: Connection, ids: Collection[str]) -> dict[str, Objection]:
        found: dict[str, Objection] = {}
        for chunk in chunks(ids):
            for row in conn.execute(select(objections.c.doc).where(objections.c.objection_id.in_(chunk))):
                objection = Objection.model_validate(row.doc)
                found[objection.objection_id] = objection
        return found

    def get(self, objection_id: str) -> Objection | None:
        with self.engine.connect() as conn:
            return self.load(conn, [objection_id]).get(objection_id)

    def find(self, *, department: str | None = None, communities: Collection[str] | None = None,
             profile_ids: Collection[str] | None = None, status: str | None = None, escalated: bool | None = None,
             limit: int = 200, offset: int = 0) -> list[Objection]:
        """Newest first. ``communities`` and ``profile_ids`` restrict (an empty collection finds nothing)."""
        t = objections
        stmt = select(t.c.doc).order_by(t.c.raised_at.desc(), t.c.objection_id).limit(limit).offset(offset)
        if department is not None:
            stmt = stmt.where(t.c.department == department)
        if communities is not None:
            stmt = stmt.where(t.c.community.in_(sorted(communities)))
        if profile_ids is not None:
            stmt = stmt.where(t.c.profile_id.in_(sorted(profile_ids)))
        if status is not None:
            stmt = stmt.where(t.c.status == status)
        if escalated is not None:
            stmt = stmt.where(t.c.escalated.is_(escalated))
        with self.engine.connect() as conn:
            return [Objection.model_validate(r.doc) for r in conn.execute(stmt)]

    def open_on(self, profile_ids: Sequence[str]) -> dict[str, list[Objection]]:
        """Profile id → its open objections (for the profile page and the planner)."""
        found: dict[str, list[Objection]] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(profile_ids):
                for row in conn.execute(_OPEN_ON, {"profile_ids": list(chunk)}):
                    objection = Objection.model_validate(row.doc)
                    found.setdefault(objection.profile_id, []).append(objection)
        return found

    @staticmethod
    def all_open(conn: Connection) -> list[Objection]:
        return [Objection.model_validate(r.doc) for r in conn.execute(
            select(objections.c.doc).where(objections.c.status == "open").order_by(objections.c.objection_id))]

    def counts(self) -> dict[str, int]:
        """How many are open, closed and escalated (open and past due, on the stewards' pages)."""
        from sqlalchemy import func

        t = objections
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.status, t.c.escalated, func.count()).group_by(t.c.status, t.c.escalated)).all()
        counts = {"open": 0, "closed": 0, "escalated": 0}
        for status, escalated, n in rows:
            counts[status] = counts.get(status, 0) + n
            if escalated and status == "open":
                counts["escalated"] += n
        return counts

    def checksum_rows(self) -> list[tuple[str, int, str]]:
        """(id, seq, status) of every objection, for comparing a replay with the store."""
        with self.engine.connect() as conn:
            return [(r.objection_id, r.seq, r.status) for r in conn.execute(
                select(objections.c.objection_id, objections.c.seq, objections.c.status)
                .order_by(objections.c.objection_id))]

    def clear(self, conn: Connection) -> None:
        conn.execute(delete(objections))


def _row(objection: Objection, now: datetime) -> dict[str, object]:
    return {"objection_id": objection.objection_id, "seq": objection.seq, "profile_id": objection.profile_id,
            "field": objection.field, "community": objection.community, "department": objection.department,
            "status": objection.status, "answer": objection.answer, "due_on": objection.due_on,
            "escalated": objection.escalated_at is not None, "raised_at": objection.raised_at, "updated_at": now,
            "doc": objection.model_dump(mode="json")}
