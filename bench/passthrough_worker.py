"""One passthrough worker of ``bench.passthrough`` (a process of its own, so its CPU is its own):
``python -m bench.passthrough_worker MODE BOOTSTRAP EXPECTED RESULT_FILE TOPIC...``."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bench.passthrough import Clock, run_aiokafka, run_faust


def main(argv: list[str]) -> int:
    mode, bootstrap, expected, out, *topics = argv
    clock = Clock(int(expected), Path(out))
    if mode == "aiokafka-forward":
        asyncio.run(run_aiokafka(bootstrap, clock, topics))
    else:
        run_faust(mode, bootstrap, clock, topics)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
