"""The ceiling any stream agent can reach here: bare passthrough agents on the same broker and settings.

A district's department files go through their connectors into the raw topics (as ``bench.throughput``
does), then each mode drains those topics in a worker process of its own, one after the other:

- ``faust-consume``: a faust agent with the hub's app settings (``streams.app.faust_app``) taking
  batches as the hub's agents do (``take_events(500, within=0.02)``) and doing nothing with them;
- ``faust-forward``: the same, sending every message on to another topic one ``send`` at a time, as
  the standardise agent does;
- ``faust-forward-batched``: the same agent, sending through the app's producer directly
  (``app.producer.send``, no per-message ``FutureMessage``) and waiting for the batch's
  acknowledgements before taking the next batch (so nothing is committed before it is sent);
- ``aiokafka-forward``: no faust: an aiokafka consumer (``getmany``) and producer (acks=all), one
  ``send`` per message and a flush and commit per batch.

Each worker times itself from its first message to its last and reads its own CPU time from
/proc, so start-up and group joins are not counted. Prints records/s and CPU µs per record per mode,
beside the machine's load; ``bench.stages`` gives each stage's own cost, so the two together say
how much of a worker's time is the framework.

    .venv/bin/python -m bench.passthrough --residents 3000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

MODES = ("faust-consume", "faust-forward", "faust-forward-batched", "aiokafka-forward")
BATCH = 500
WITHIN_S = 0.02

console = Console(width=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=3000, help="~2.9 records per resident")
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds a mode may take")
    args = parser.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    if unknown := set(modes) - set(MODES):
        parser.error(f"unknown modes {sorted(unknown)}")

    from localinfra.kafka_broker import KafkaBroker
    from localinfra.processes import spawn, stop
    from onceonly import bootstrap
    from onceonly.settings import Settings
    from simulators.district_files import ingest_department_files, write_department_files

    with tempfile.TemporaryDirectory(prefix="onceonly-passthrough-") as tmp:
        work = Path(tmp)
        write_department_files(work / "departments", args.residents, args.seed)
        with KafkaBroker.started(work / "kafka") as broker:
            settings = Settings(data_dir=work / "var", kafka_bootstrap=broker.bootstrap, app_id="passthrough")
            bootstrap.prepare_topics(settings)
            ingest_department_files(settings, work / "departments")
            topics = [settings.raw_topic(s) for s in bootstrap.sources(settings)]
            sent = _messages(broker.bootstrap, topics)
            rows = []
            for mode in modes:
                out = work / f"{mode}.json"
                load_before = os.getloadavg()[0]
                proc = spawn([sys.executable, "-m", "bench.passthrough_worker", mode, broker.bootstrap, str(sent),
                              str(out), *topics], work / f"{mode}.log", env={**os.environ, "PYTHONPATH": _root()})
                try:
                    deadline = time.monotonic() + args.timeout
                    while not out.exists() and time.monotonic() < deadline and proc.poll() is None:
                        time.sleep(0.5)
                finally:
                    stop(proc)
                if not out.exists():
                    console.print(f"[red]{mode}: no result (see its log below)[/red]")
                    console.print((work / f"{mode}.log").read_text()[-3000:])
                    return 1
                result = json.loads(out.read_text())
                rows.append((mode, result, load_before, os.getloadavg()[0]))

    table = Table(title=f"Bare passthrough agents on the local broker ({sent:,} raw records, {os.cpu_count()} cores)")
    for column in ("mode", "records", "records/s", "CPU µs per record (worker)", "load before → after"):
        table.add_column(column, justify="right")
    for mode, result, before, after in rows:
        seconds = result["last"] - result["first"]
        table.add_row(mode, f"{result['records']:,}", f"{result['records'] / seconds:,.0f}",
                      f"{result['cpu'] / result['records'] * 1e6:,.0f}", f"{before:.1f} → {after:.1f}")
    console.print(table)
    console.print("From each worker's first message to its last; CPU from /proc of the worker process "
                  "(the broker's is not counted).")
    return 0


def _messages(bootstrap: str, topics: list[str]) -> int:
    """How many messages the topics hold (they were written once, from offset 0)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        return sum(consumer.end_offsets(partitions).values())
    finally:
        consumer.close()


def _root() -> str:
    return str(Path(__file__).resolve().parent.parent)


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Clock:
    """Counts messages; writes the result file once ``expected`` have been seen."""

    def __init__(self, expected: int, out: Path) -> None:
        self.expected, self.out = expected, out
        self.seen = 0
        self.first = self.cpu_first = 0.0

    def tick(self, n: int) -> bool:
        if not self.seen and n:
            self.first, self.cpu_first = time.monotonic(), cpu_seconds()
        self.seen += n
        if self.seen >= self.expected:
            result = {"records": self.seen, "first": self.first, "last": time.monotonic(),
                      "cpu": cpu_seconds() - self.cpu_first}
            self.out.write_text(json.dumps(result))
            return True
        return False


def run_faust(mode: str, bootstrap: str, clock: Clock, topics: list[str]) -> None:
    import faust

    from streams.app import faust_app

    app = faust_app(f"passthrough-{mode}", bootstrap, partitions=4, datadir=str(clock.out.parent / f"{mode}-data"))
    source = app.topic(*topics, key_type=bytes, value_type=bytes, partitions=4)
    target = app.topic(f"passthrough-{mode}", key_type=bytes, value_type=bytes, partitions=4)

    @app.agent(source, name=mode)
    async def passthrough(stream: faust.StreamT[bytes]) -> None:
        async for events in stream.take_events(BATCH, within=WITHIN_S):  # type: ignore[attr-defined]
            if mode == "faust-forward":
                for event in events:
                    await target.send(key=event.message.key, value=event.message.value)
            elif mode == "faust-forward-batched":
                sent = [await app.producer.send(target.get_topic_name(), event.message.key, event.message.value,
                                                None, None, None) for event in events]
                await asyncio.gather(*sent)
            clock.tick(len(events))

    worker = faust.Worker(app, loglevel="warning", quiet=True, override_logging=False)
    worker.spinner = None
    worker.execute_from_commandline()


async def run_aiokafka(bootstrap: str, clock: Clock, topics: list[str]) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped]

    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id="passthrough-aiokafka",
                                auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=BATCH)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await consumer.start()
    await producer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=int(WITHIN_S * 1000), max_records=BATCH)
            n = 0
            for messages in batches.values():
                for message in messages:
                    await producer.send("passthrough-aiokafka", key=message.key, value=message.value)
                n += len(messages)
            if n:
                await producer.flush()
                await consumer.commit()
                if clock.tick(n):
                    return
    finally:
        await producer.stop()
        await consumer.stop()


if __name__ == "__main__":
    raise SystemExit(main())
