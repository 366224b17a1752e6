"""Processes that open one new SQLite file together (two workers starting, a store and its companion
files) each wait their turn to switch it to WAL, instead of failing with "database is locked"."""

from __future__ import annotations

import threading
from pathlib import Path

from store.engine import make_engine


def test_engines_opening_one_new_file_together_all_open_it(tmp_path: Path) -> None:
    failures: list[str] = []
    for trial in range(12):  # the race lost about one time in eight before the fix
        path = tmp_path / f"store-{trial}.db"
        start = threading.Barrier(4)
        modes: list[str] = []

        def open_store(path: Path = path, start: threading.Barrier = start, modes: list[str] = modes) -> None:
            start.wait()
            try:
                engine = make_engine(f"sqlite:///{path}")
                with engine.connect() as conn:
                    modes.append(str(conn.exec_driver_sql("PRAGMA journal_mode").scalar()))
                engine.dispose()
            except Exception as exc:  # the test reports every failure
                failures.append(f"{path.name}: {exc!r}"[:200])

        threads = [threading.Thread(target=open_store) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        assert modes == ["wal"] * 4
