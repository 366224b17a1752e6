"""A throwaway PostgreSQL server (Debian's packages) as a child process on loopback.

Postgres refuses to run as root, so when we are root the cluster belongs to the ``postgres``
system user that Debian's package creates.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from localinfra.processes import free_port, port_open, spawn, stop, wait_until


class PostgresNotInstalled(RuntimeError):
    pass


def postgres_bin() -> Path:
    """The folder holding initdb and postgres, newest version first."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    for folder in candidates:
        if (Path(folder) / "initdb").exists():
            return Path(folder)
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise PostgresNotInstalled("PostgreSQL server not found: apt-get install postgresql")


@dataclass
class PostgresServer:
    data_dir: Path
    port: int = field(default_factory=free_port)
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The server's postmaster while it runs (a benchmark counts its CPU and its backends')."""
        return self._proc

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def fresh_database(self, name: str) -> str:
        """An empty database called after ``name`` (dropped first if it exists); its URL."""
        from sqlalchemy import create_engine, text

        db = re.sub(r"[^a-z0-9]+", "_", name.lower())[:60]
        admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db}"'))
                conn.execute(text(f'CREATE DATABASE "{db}"'))
        finally:
            admin.dispose()
        return self.url.rsplit("/", 1)[0] + f"/{db}"

    @classmethod
    @contextlib.contextmanager
    def started(cls, data_dir: Path) -> Iterator[PostgresServer]:
        server = cls(data_dir=data_dir)
        server.start()
        try:
            yield server
        finally:
            server.stop()

    def start(self, timeout: float = 60.0) -> None:
        bindir = postgres_bin()
        user = "postgres" if os.geteuid() == 0 else None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pgdata = self.data_dir / "pgdata"
        if user is not None:
            entry = pwd.getpwnam(user)
            for path in (self.data_dir, *self.data_dir.parents):
                # the postgres user must be able to reach its data directory
                if path == Path("/"):
                    break
                os.chmod(path, os.stat(path).st_mode | 0o011)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        if not pgdata.exists():
            subprocess.run(
                [str(bindir / "initdb"), "-D", str(pgdata), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                 "--locale=C.UTF-8"],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, user=user,
            )
        self._proc = spawn(
            [str(bindir / "postgres"), "-D", str(pgdata), "-p", str(self.port), "-h", "127.0.0.1",
             "-k", str(self.data_dir), "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off", "-c", "max_connections=200"],
            self.data_dir / "postgres.log",
            user=user,
        )
        wait_until(lambda: port_open(self.port), timeout=timeout, what="PostgreSQL", proc=self._proc)

    def stop(self) -> None:
        if self._proc is not None:
            stop(self._proc, grace=20.0)
            self._proc = None
