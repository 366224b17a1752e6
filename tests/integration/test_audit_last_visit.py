"""A worker's previous console login ("since your last visit" on her home page) comes from the audit
log: the right entry on both backends, and on SQLite through ``ix_audit_log_user_action`` without
sorting her other entries (which grow with every read she makes), also for a log file older than the
index."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Engine, select

from core.access import Principal
from services.home import HomeQueries
from store.audit import AuditLog, audit_log
from store.engine import make_engine

WORKER = Principal("u-w", "worker_w", "community_worker", communities=frozenset({"秦虹社区"}))
OTHER = Principal("u-o", "worker_o", "community_worker", communities=frozenset({"瞻园社区"}))


def _visits(audit: AuditLog) -> list[int]:
    """Three logins of the worker between her reads and another worker's entries; their seqs."""
    logins = []
    for _ in range(3):
        logins.append(audit.append(WORKER, "login", "登录", [], []).seq)
        for _read in range(5):
            audit.append(WORKER, "read_community", "社区居民概览", [], ["home"])
            audit.append(OTHER, "login", "登录", [], [])
    return logins


def test_the_last_visit_is_the_login_before_this_one(store_engine: Engine) -> None:
    audit = AuditLog(store_engine)
    logins = _visits(audit)
    homes = HomeQueries(store_engine, audit)
    with audit.engine.connect() as conn:
        at = {r.seq: r.at for r in conn.execute(select(audit_log.c.seq, audit_log.c.at))}
    found = homes.last_visit(WORKER)
    assert found is not None and found.replace(tzinfo=None) == at[logins[-2]].replace(tzinfo=None)
    assert homes.last_visit(Principal("u-n", "nobody", "community_worker", communities=frozenset())) is None
    audit.close()


def test_the_last_visit_is_read_through_its_index_even_in_an_older_log_file(tmp_path: Path) -> None:
    store = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    audit = AuditLog(store)
    _visits(audit)
    audit.close()
    path = Path(str(audit.engine.url.database))
    with sqlite3.connect(path) as db:  # a log file written before the index existed
        db.execute("DROP INDEX ix_audit_log_user_action")
    reopened = AuditLog(store)  # indexes the file it finds
    with sqlite3.connect(path) as db:
        plan = " ".join(str(row) for row in db.execute(
            "EXPLAIN QUERY PLAN SELECT at FROM audit_log WHERE user_id = ? AND action = 'login' "
            "ORDER BY seq DESC LIMIT 1 OFFSET 1", (WORKER.user_id,)))
    assert "ix_audit_log_user_action" in plan and "TEMP B-TREE" not in plan, plan
    assert HomeQueries(store, reopened).last_visit(WORKER) is not None
    reopened.close()
