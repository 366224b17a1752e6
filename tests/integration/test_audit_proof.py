"""The audit log proves itself against someone who can rewrite the database but does not hold the
audit key: an entry edited and the chain re-computed, an entry deleted and the rest renumbered,
the log cut short or wiped, a "who looked" row deleted or edited — ``GET /api/v1/audit/verify``
(on SQLite and PostgreSQL) and ``onceonly audit verify`` (with the checkpoint kept in Kafka) say
so. "Who looked" follows merges."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, insert, select, text, update
from typer.testing import CliRunner

from api.app import create_app
from core.access import Principal
from localinfra.kafka_broker import KafkaBroker
from onceonly import bootstrap
from onceonly.settings import Settings
from store.audit import AuditLog, audit_engine, audit_head, audit_log, audit_residents, entry_hash
from store.audit_checkpoints import Checkpoint, Checkpointer
from store.auth_tables import UserStore
from store.engine import make_engine
from store.profile_tables import profiles
from tests.fakes import MemoryCheckpointSink
from tests.helpers import cli, cli_env

AUDIT_KEY = "proof-audit-key-held-outside-the-database"
STEWARD = Principal("u-2", "steward", "steward")


@dataclass
class Proof:
    engine: Engine
    settings: Settings
    auditor: TestClient  # the query service, as the auditor

    @property
    def log_db(self) -> Engine:
        """Where the audit log is (its own file beside the SQLite store): what a tamperer edits."""
        return audit_engine(self.engine)

    def verify(self) -> dict[str, Any]:
        answer = self.auditor.get("/api/v1/audit/verify")
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    def write(self, n: int) -> None:
        """``n`` reads, each about one of three residents, checkpointed as the service would (every
        5 entries, and at close), by a second process's log with the same key."""
        log = bootstrap.audit_log(self.settings, self.engine)
        for i in range(n):
            log.append(STEWARD, "read_profile", f"走访核对 {i}", [f"p-{i % 3}"], ["name", "id_number*"])
        log.close()


def _settings(tmp: Path, **extra: Any) -> Settings:
    return Settings(data_dir=tmp / "var", id_hash_key="proof-test-key", audit_key=AUDIT_KEY,
                    audit_checkpoint_entries=5, audit_checkpoint_seconds=3600, _env_file=None, **extra)


@pytest.fixture
def proof(store_engine: Engine, tmp_path: Path) -> Iterator[Proof]:
    users = UserStore(store_engine)
    users.add("auditor", "correct horse battery", "auditor")
    settings = _settings(tmp_path)
    with TestClient(create_app(store_engine, [], settings), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {users.issue_token('auditor')}"
        yield Proof(store_engine, settings, client)


def _rechain(engine: Engine, from_seq: int) -> None:
    """What someone with database access and this code can do: re-compute every hash from
    ``from_seq`` on and move the head, so the chain is consistent again."""
    with engine.begin() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.seq)).all()
        prev = next((r.hash for r in rows if r.seq == from_seq - 1), "0" * 64)
        for r in rows:
            if r.seq < from_seq:
                continue
            at = r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC)
            digest = entry_hash(r.seq, at, r.user_id, r.username, r.role, r.action, r.purpose,
                                json.loads(r.residents), json.loads(r.fields), prev)
            conn.execute(update(audit_log).where(audit_log.c.seq == r.seq).values(prev_hash=prev, hash=digest))
            prev = digest
        last = max(r.seq for r in rows)
        conn.execute(update(audit_head).values(seq=last, hash=prev))


def test_an_untouched_log_verifies_against_its_signed_checkpoints(proof: Proof) -> None:
    proof.write(12)
    result = proof.verify()
    assert result["ok"] and result["entries"] == 12 and not result["problems"], result
    assert result["checkpoints"] >= 1  # after 5 and 10 entries (when the thread got to it), and at close
    checkpoints = [json.loads(line) for line in proof.settings.audit_checkpoint_path.read_text().splitlines()]
    # The writer's last checkpoint, at close (the auditor's verify is itself logged after it: entry 13).
    closing = [c for c in checkpoints if c["seq"] <= 12][-1]
    assert closing["seq"] == 12 and closing["entries"] == 12 and len(closing["mac"]) == 64


def test_an_entry_edited_and_the_chain_recomputed_is_found(proof: Proof) -> None:
    proof.write(8)
    with proof.log_db.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 3).values(purpose="nothing to see"))
    _rechain(proof.log_db, 3)
    result = proof.verify()
    assert not result["ok"]
    assert any(p.startswith("entries 3..8") and "MAC does not match" in p for p in result["problems"]), result


def test_an_entry_deleted_and_the_rest_renumbered_is_found(proof: Proof) -> None:
    proof.write(8)
    with proof.log_db.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq == 2))
        conn.execute(delete(audit_residents).where(audit_residents.c.seq == 2))
        for seq in range(3, 9):  # close the gap: 3 becomes 2, …
            conn.execute(update(audit_log).where(audit_log.c.seq == seq).values(seq=seq - 1))
            conn.execute(update(audit_residents).where(audit_residents.c.seq == seq).values(seq=seq - 1))
    _rechain(proof.log_db, 2)
    result = proof.verify()
    assert not result["ok"]
    assert any("MAC does not match" in p for p in result["problems"]), result
    assert any("truncated" in p for p in result["problems"])  # and the checkpoint knew of entry 8


def test_a_log_cut_short_with_its_head_moved_back_is_found(proof: Proof) -> None:
    proof.write(12)
    with proof.log_db.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq > 7))
        conn.execute(delete(audit_residents).where(audit_residents.c.seq > 7))
        seventh = conn.execute(select(audit_log.c.hash).where(audit_log.c.seq == 7)).scalar_one()
        conn.execute(update(audit_head).values(seq=7, hash=seventh))
    result = proof.verify()
    assert not result["ok"] and result["entries"] == 7
    assert any("ends at entry 7" in p and "8..12" in p and "truncated" in p for p in result["problems"]), result


def test_a_wiped_log_is_found(proof: Proof) -> None:
    proof.write(6)
    with proof.log_db.begin() as conn:
        for table in (audit_residents, audit_log, audit_head):
            conn.execute(delete(table))
    result = proof.verify()
    assert not result["ok"] and result["entries"] == 0
    assert any("empty" in p and "6 entries" in p and "wiped" in p for p in result["problems"]), result


def test_a_deleted_or_edited_who_looked_row_is_found(proof: Proof) -> None:
    proof.write(6)
    with proof.log_db.begin() as conn:
        conn.execute(delete(audit_residents).where(audit_residents.c.seq == 2))
        conn.execute(update(audit_residents).where(audit_residents.c.seq == 4).values(profile_id="p-somebody-else"))
    result = proof.verify()
    assert not result["ok"]
    assert any(p.startswith("entry 2:") and "who-looked index" in p for p in result["problems"]), result
    assert any(p.startswith("entry 4:") and "who-looked index" in p for p in result["problems"]), result
    who = proof.auditor.get("/api/v1/audit", params={"resident": "p-1"}).json()["entries"]
    assert [e["seq"] for e in who] == [5]  # entry 2 was about p-1 too: the index no longer says so


def test_a_checkpoint_edited_to_hide_a_cut_is_found(proof: Proof) -> None:
    proof.write(10)
    path = proof.settings.audit_checkpoint_path
    lines = path.read_text().splitlines()
    forged = {**json.loads(lines[-1]), "seq": 6, "entries": 6}  # "the log only ever held 6 entries"
    path.write_text("\n".join([*lines[:-1], json.dumps(forged)]) + "\n")
    result = proof.verify()
    assert not result["ok"]
    assert any("not signed with the audit key" in p for p in result["problems"]), result


def test_the_macs_need_the_key_and_the_database_does_not_hold_it(proof: Proof) -> None:
    proof.write(4)
    with proof.log_db.connect() as conn:
        for table in ("audit_log", "audit_head", "audit_residents"):
            dump = json.dumps([list(map(str, r)) for r in conn.execute(text(f"SELECT * FROM {table}"))])
            assert AUDIT_KEY not in dump
    other = AuditLog(proof.engine, key="a-guessed-key").verify()
    assert not other.ok and any("entries 1..4: MAC does not match" in p for p in other.problems)


def test_legacy_entries_without_a_mac_are_named_and_a_removed_mac_is_found(store_engine: Engine, tmp_path: Path) -> None:
    before = AuditLog(store_engine)  # as before the migration: entries written with no MAC
    for i in range(3):
        before.append(STEWARD, "read_profile", f"旧记录 {i}", [f"p-{i}"], ["name"])
    with audit_engine(store_engine).begin() as conn:
        conn.execute(update(audit_log).values(mac=None))
    settings = _settings(tmp_path)
    log = bootstrap.audit_log(settings, store_engine)
    for i in range(4):
        log.append(STEWARD, "read_profile", f"新记录 {i}", [f"p-{i}"], ["name"])
    log.close()
    result = bootstrap.audit_log(settings, store_engine).verify()
    assert result.ok, result.problems
    assert any("entries 1..3 predate the audit key" in n and "pinned" in n for n in result.notes)
    with audit_engine(store_engine).begin() as conn:  # make the keyed entries look legacy too
        conn.execute(update(audit_log).values(mac=None))
    stripped = bootstrap.audit_log(settings, store_engine).verify()
    assert not stripped.ok and any("entries 4..7" in p and "MAC removed" in p for p in stripped.problems)


def test_a_slow_checkpoint_sink_does_not_hold_up_the_reads(store_engine: Engine) -> None:
    class SlowSink(MemoryCheckpointSink):
        def write(self, checkpoint: Checkpoint) -> None:
            time.sleep(1.0)
            super().write(checkpoint)

    sink = SlowSink(name="a disk that takes a second")
    log = AuditLog(store_engine, key=AUDIT_KEY, checkpoints=Checkpointer(AUDIT_KEY.encode(), [sink], every_entries=1))
    started = time.perf_counter()
    for i in range(5):  # each one due for a checkpoint
        log.append(STEWARD, "read_profile", f"走访核对 {i}", ["p-1"], ["name"])
    assert time.perf_counter() - started < 1.0  # five checkpoints due, none waited for
    log.close()
    assert sink.kept[-1].seq == 5 and len(sink.kept) < 5  # the thread caught up with the newest head
    assert log.verify().ok


def test_verify_while_reads_are_being_audited_finds_nothing_wrong(proof: Proof) -> None:
    proof.write(5)
    log = bootstrap.audit_log(proof.settings, proof.engine)
    stop = threading.Event()

    def reads() -> None:
        n = 0
        while not stop.is_set():
            log.append(STEWARD, "read_profile", f"并发 {n}", [f"p-{n % 4}", "p-x"], ["name"])
            n += 1

    reader = threading.Thread(target=reads)
    reader.start()
    try:
        results = [proof.verify() for _ in range(5)]
    finally:
        stop.set()
        reader.join()
        log.close()
    assert all(r["ok"] for r in results), [r["problems"] for r in results]
    assert results[-1]["entries"] > 5


def test_who_looked_follows_merges(proof: Proof) -> None:
    # p-old was merged into p-new; p-older into p-old before that
    now = datetime.now(UTC)
    with proof.engine.begin() as conn:
        conn.execute(insert(profiles), [
            {"profile_id": "p-new", "version": 3, "status": "active", "merged_into": None, "updated_at": now, "doc": {}},
            {"profile_id": "p-old", "version": 2, "status": "merged", "merged_into": "p-new", "updated_at": now,
             "doc": {}},
            {"profile_id": "p-older", "version": 2, "status": "merged", "merged_into": "p-old", "updated_at": now,
             "doc": {}},
            {"profile_id": "p-stranger", "version": 1, "status": "active", "merged_into": None, "updated_at": now,
             "doc": {}},
        ])
    log = bootstrap.audit_log(proof.settings, proof.engine)
    for resident in ("p-older", "p-old", "p-stranger", "p-new"):
        log.append(STEWARD, "read_profile", f"查看 {resident}", [resident], ["name"])
    log.close()
    for asked in ("p-new", "p-old", "p-older"):
        found = proof.auditor.get("/api/v1/audit", params={"resident": asked}).json()
        assert [e["residents"] for e in found["entries"]] == [["p-new"], ["p-old"], ["p-older"]], asked
        assert set(found["profile_ids"]) == {"p-new", "p-old", "p-older"}
    alone = proof.auditor.get("/api/v1/audit", params={"resident": "p-stranger"}).json()
    assert [e["residents"] for e in alone["entries"]] == [["p-stranger"]]


def test_the_checkpoint_in_kafka_finds_a_cut_when_the_file_is_gone(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    settings = _settings(tmp_path, kafka_bootstrap=kafka_broker.bootstrap, database_url=url,
                         topic_prefix=f"proof{abs(hash(tmp_path)) % 10**6}.")
    bootstrap.prepare_topics(settings)
    engine = make_engine(url)
    log = bootstrap.audit_log(settings, engine)
    for i in range(9):
        log.append(STEWARD, "read_profile", f"走访核对 {i}", [f"p-{i}"], ["name"])
    log.close()
    assert log.checkpoints is not None and log.checkpoints.written >= 1
    env = {**cli_env(settings), "ONCEONLY_AUDIT_KEY": AUDIT_KEY, "ONCEONLY_ID_HASH_KEY": "proof-test-key"}
    ok = subprocess.run(cli("audit", "verify"), env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "intact: 9 entries" in ok.stdout, ok.stdout + ok.stderr
    assert "Kafka topic" in ok.stdout and "signed checkpoints" in ok.stdout

    # cut the last five entries, move the head back, and remove the checkpoint file
    with audit_engine(engine).begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq > 4))
        conn.execute(delete(audit_residents).where(audit_residents.c.seq > 4))
        fourth = conn.execute(select(audit_log.c.hash).where(audit_log.c.seq == 4)).scalar_one()
        conn.execute(update(audit_head).values(seq=4, hash=fourth))
    settings.audit_checkpoint_path.unlink()
    bad = subprocess.run(cli("audit", "verify"), env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "TAMPERED" in bad.stdout, bad.stdout + bad.stderr
    assert "5..9" in bad.stdout and "truncated" in bad.stdout
    engine.dispose()


def test_the_audit_key_must_differ_from_the_id_hash_key() -> None:
    with pytest.raises(ValueError, match="must differ"):
        Settings(id_hash_key="one-key", audit_key="one-key", _env_file=None)


def test_the_audit_key_comes_from_a_file_when_one_is_named(tmp_path: Path) -> None:
    (tmp_path / "audit.key").write_text("from-a-mounted-secret\n")
    settings = Settings(audit_key_file=tmp_path / "audit.key", _env_file=None)
    assert settings.audit_secret() == b"from-a-mounted-secret" and not settings.uses_default_audit_key


@pytest.mark.parametrize("command", [["serve", "--host", "0.0.0.0"], ["worker"]])
def test_serve_and_worker_refuse_the_default_audit_key_off_loopback(command: list[str], tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from onceonly.cli import app

    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("ONCEONLY_ID_HASH_KEY", "a-real-id-hash-key")
    monkeypatch.delenv("ONCEONLY_AUDIT_KEY", raising=False)
    monkeypatch.delenv("ONCEONLY_AUDIT_KEY_FILE", raising=False)
    monkeypatch.setenv("ONCEONLY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ONCEONLY_API_HOST", "0.0.0.0")
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2
    assert "refusing to start with the default ONCEONLY_AUDIT_KEY" in result.output
    assert "Traceback" not in result.output
