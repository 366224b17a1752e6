"""CPU time of a process and its children, read from /proc (the benches count each process's share)."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(pid: int, reaped: bool = False) -> float:
    """User + system CPU of ``pid`` and its child processes (uvicorn's workers, PostgreSQL's backends),
    from /proc; with ``reaped`` also that of its children that have ended (PostgreSQL's backends of
    closed connections)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if int(stat.parent.name) == pid or int(fields[1]) == pid:  # fields[1]: the parent's pid
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            if reaped and int(stat.parent.name) == pid:
                total += (int(fields[13]) + int(fields[14])) / tick  # cutime, cstime: its ended children
    return total
