"""The audit log: append-only, hash-chained, verified; edits and deletions are found (SQLite and
PostgreSQL), by the API and by ``onceonly audit verify``."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy import Engine, delete, update

from core.access import Principal
from store.audit import AuditLog, audit_engine, audit_head, audit_log
from tests.helpers import cli

WORKER = Principal("u-1", "worker", "community_worker", frozenset({"秦虹社区"}))
STEWARD = Principal("u-2", "steward", "steward")


def _log(engine: Engine, n: int = 5) -> AuditLog:
    log = AuditLog(engine)
    for i in range(n):
        who = WORKER if i % 2 else STEWARD
        log.append(who, "read_profile", f"走访核对 {i}", [f"p-{i % 3}"], ["name", "id_number*"])
    return log


def test_an_untouched_log_verifies(store_engine: Engine) -> None:
    log = _log(store_engine)
    result = log.verify()
    assert result.ok and result.entries == 5 and not result.problems


def test_an_edited_entry_is_found(store_engine: Engine) -> None:
    log = _log(store_engine)
    with log.engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 3).values(purpose="nothing to see"))
    result = log.verify()
    assert not result.ok and any("entry 3" in p and "edited" in p for p in result.problems)


def test_a_deleted_entry_is_found(store_engine: Engine) -> None:
    log = _log(store_engine)
    with log.engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq == 2))
    result = log.verify()
    assert not result.ok and any("missing" in p for p in result.problems)


def test_deleting_the_newest_entries_is_found(store_engine: Engine) -> None:
    log = _log(store_engine)
    with log.engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq >= 4))
    result = log.verify()
    assert not result.ok and any("head" in p for p in result.problems)


def test_rewriting_the_chain_from_an_edit_onwards_still_disagrees_with_the_head(store_engine: Engine) -> None:
    log = _log(store_engine, 3)
    with log.engine.begin() as conn:
        conn.execute(update(audit_head).values(hash="f" * 64))
    assert not log.verify().ok


def test_who_looked_at_one_resident(store_engine: Engine) -> None:
    log = _log(store_engine, 6)
    entries = log.entries(resident="p-1")
    assert [e.seq for e in entries] == [5, 2]  # newest first
    assert {e.username for e in entries} == {"worker", "steward"} and entries[0].purpose == "走访核对 4"


def test_the_cli_verifies_and_exits_1_on_tampering(tmp_path: Path) -> None:
    from store.engine import make_engine

    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    _log(engine)
    env = {"ONCEONLY_DATABASE_URL": url, "ONCEONLY_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    ok = subprocess.run(cli("audit", "verify"), env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "intact: 5 entries" in ok.stdout
    with audit_engine(engine).begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 1).values(username="someone else"))
    bad = subprocess.run(cli("audit", "verify"), env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "TAMPERED" in bad.stdout
