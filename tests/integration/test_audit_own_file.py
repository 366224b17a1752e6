"""The audit log in a database of its own (SQLite: a file beside the store's; PostgreSQL: the
store's database), so an audited read never waits for the store file's one writer lock; a log an
earlier version wrote into the store's file is moved there once and still verifies."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from core.access import Principal
from onceonly import bootstrap
from onceonly.settings import Settings
from store.audit import AuditLog, audit_engine, audit_log
from store.engine import make_engine
from tests.integration.api_world import World, build_world

STEWARD = Principal("u-2", "steward", "steward")
# Far below the store's busy timeout (300 s), which an append queued on the store's lock would wait out.
GENEROUS = 60.0


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())


def test_the_log_is_beside_the_sqlite_store_and_in_the_postgres_database(store_engine: Engine) -> None:
    log = AuditLog(store_engine)
    assert log.engine is audit_engine(store_engine)  # one engine per store: every log of it writes through it
    log.append(STEWARD, "read_profile", "走访核对", ["p-1"], ["name"])
    if store_engine.dialect.name == "sqlite":
        store_file = Path(str(store_engine.url.database))
        assert Path(str(log.engine.url.database)) == store_file.with_name("store-audit.db")
        assert _count(store_engine) == 0  # nothing written into the store's own file
    else:
        assert log.engine is store_engine
    assert _count(log.engine) == 1
    assert AuditLog(store_engine).entries()[0].purpose == "走访核对"  # every reader finds it in the same place


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("audit-own-file"), tmp_path_factory.getbasetemp())


def test_an_audited_profile_read_answers_while_another_writer_holds_the_store_files_lock(world: World) -> None:
    resident = world.one(world.community_a).profile_id
    store_file = str(world.engine.url.database)
    with world.app_client() as client:
        world.login(client, "steward")  # the login is audited and written before the lock is taken
        holder = sqlite3.connect(store_file, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # a projection batch, say: the store file's writer lock, held
        pool = ThreadPoolExecutor(1)
        try:
            # The lock is real: a writer of the store file waits for it (here: gives up at once).
            other = sqlite3.connect(store_file, timeout=0.1, isolation_level=None)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            other.close()
            read = pool.submit(client.get, f"/api/v1/residents/{resident}", params={"purpose": "锁下核对"})
            answer = read.result(timeout=GENEROUS)  # answered, audit entry committed, lock still held
            assert answer.status_code == 200, answer.text
            newest = AuditLog(world.engine).entries(limit=1)[0]
            assert (newest.action, newest.residents, newest.purpose) == ("read_profile", (resident,), "锁下核对")
        finally:
            holder.execute("ROLLBACK")  # a read still queued on the lock (the failure) goes on and ends
            holder.close()
            pool.shutdown()
    assert AuditLog(world.engine).verify().ok


def _old_store(tmp_path: Path, settings: Settings, n: int) -> Path:
    """A store file whose own tables hold an audit log of ``n`` entries, as an earlier version wrote
    it (checkpointed in the settings' checkpoint file): a copy of a log's file is such a store."""
    writer = make_engine(f"sqlite:///{tmp_path / 'writer.db'}")
    log = bootstrap.audit_log(settings, writer)
    for i in range(n):
        log.append(STEWARD, "read_profile", f"旧记录 {i}", [f"p-{i % 3}"], ["name"])
    log.close()
    old = tmp_path / "old.db"
    source, target = sqlite3.connect(str(tmp_path / "writer-audit.db")), sqlite3.connect(str(old))
    source.backup(target)
    source.close()
    target.close()
    return old


def test_a_log_held_in_the_store_file_is_moved_to_its_own_file_once_and_still_verifies(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", id_hash_key="own-file-test-key",
                        audit_key="own-file-audit-key", audit_checkpoint_entries=3, _env_file=None)
    old = _old_store(tmp_path, settings, 7)
    # Two processes starting together (two engines on one file): the log is moved once.
    engines = [make_engine(f"sqlite:///{old}") for _ in range(2)]
    start = threading.Barrier(2)

    def open_log(engine: Engine) -> AuditLog:
        start.wait()
        return bootstrap.audit_log(settings, engine)

    with ThreadPoolExecutor(2) as pool:
        logs = list(pool.map(open_log, engines))
    log = logs[0]
    assert Path(str(log.engine.url.database)) == tmp_path / "old-audit.db"
    assert _count(log.engine) == 7
    check = log.verify()
    assert check.ok and check.entries == 7 and check.checkpoints >= 1, check.problems  # seq, hash and MAC kept
    log.append(STEWARD, "read_profile", "新记录", ["p-1"], ["name"])  # chains onto the moved entries
    for other in logs:
        other.close()
    again = bootstrap.audit_log(settings, make_engine(f"sqlite:///{old}"))
    assert [e.seq for e in again.entries(resident="p-1")] == [8, 5, 2]  # moved once, not twice
    result = again.verify()
    assert result.ok and result.entries == 8, result.problems
    again.close()
    assert _count(engines[0]) == 7  # the store's copy is left as it was
