"""Concurrent reads are audited one entry each, group-committed into one verified chain (SQLite and
PostgreSQL), and through the real app every concurrent read leaves exactly its own entry."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from core.access import Principal
from store.audit import AuditLog, audit_residents
from tests.integration.api_world import World, build_world

THREADS, EACH = 20, 15


def test_concurrent_appends_each_leave_one_entry_in_one_verified_chain(store_engine: Engine) -> None:
    log = AuditLog(store_engine)
    start = threading.Barrier(THREADS)

    def reader(n: int) -> list[int]:
        who = Principal(f"u-{n}", f"reader-{n}", "steward")
        start.wait()  # all at once: appends queue behind each other's transactions
        return [log.append(who, "read_profile", f"核对 {n}-{i}", [f"p-{n}-{i}"], ["name"]).seq for i in range(EACH)]

    with ThreadPoolExecutor(THREADS) as pool:
        seqs = [s for got in pool.map(reader, range(THREADS)) for s in got]
    assert sorted(seqs) == list(range(1, THREADS * EACH + 1))  # each append got its own place in the chain
    check = log.verify()
    assert check.ok and check.entries == THREADS * EACH, check.problems
    entries = log.entries()
    assert Counter(e.purpose for e in entries) == {f"核对 {n}-{i}": 1 for n in range(THREADS) for i in range(EACH)}
    assert all(e.residents == (f"p-{e.purpose.split()[1]}",) for e in entries)  # each entry names its own reader's resident
    with log.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit_residents)).scalar_one() == THREADS * EACH
    # fewer transactions than entries (one per group), yet every entry chains to the one before
    assert log.commits < THREADS * EACH
    assert [e.prev_hash for e in sorted(entries, key=lambda e: e.seq)][1:] == \
           [e.hash for e in sorted(entries, key=lambda e: e.seq)][:-1]


def test_a_failed_group_commit_fails_every_read_in_it_and_leaves_the_chain_intact(store_engine: Engine) -> None:
    log = AuditLog(store_engine)
    who = Principal("u-1", "reader", "steward")
    log.append(who, "read_profile", "第一次", ["p-1"], ["name"])
    with pytest.raises(Exception):  # noqa: B017 - the driver's own error: a purpose the column refuses
        log.append(who, "read_profile", None, ["p-2"], ["name"])  # type: ignore[arg-type]
    log.append(who, "read_profile", "第三次", ["p-3"], ["name"])
    check = log.verify()
    assert check.ok and check.entries == 2


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("api-audit-concurrency"), tmp_path_factory.getbasetemp())


def test_concurrent_reads_through_the_app_each_leave_exactly_one_entry(world: World, tmp_path: Path) -> None:
    residents = [p.profile_id for p in world.profiles_in(world.community_a)][:THREADS]
    audit: AuditLog = AuditLog(world.engine)
    before = audit.verify().entries
    start = threading.Barrier(len(residents))

    def read(profile_id: str) -> int:
        with world.app_client() as client:
            world.login(client, "steward")
            start.wait()
            status: int = client.get(f"/api/v1/residents/{profile_id}", params={"purpose": f"并发核对 {profile_id}"}).status_code
            return status

    with ThreadPoolExecutor(len(residents)) as pool:
        assert set(pool.map(read, residents)) == {200}
    check = audit.verify()
    # each client's login is audited too (the home page's "since your last visit" reads it)
    assert check.ok and check.entries == before + 2 * len(residents), check.problems
    reads = [e for e in audit.entries(limit=len(residents) * 2) if e.purpose.startswith("并发核对")]
    assert sorted(e.residents for e in reads) == sorted((r,) for r in residents)
    assert all(e.purpose == f"并发核对 {e.residents[0]}" and e.username == "steward" for e in reads)
