"""A real Apache Kafka 3.9 broker (KRaft, combined broker + controller) as a child process.

The jars come from Maven Central through ``kafka-pom.xml`` into a git-ignored cache; the broker
listens on free loopback ports and is ready when a Kafka client can read its metadata.

>>> with KafkaBroker.started(Path("var/kafka")) as broker:   # doctest: +SKIP
...     print(broker.bootstrap)
127.0.0.1:40123
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localinfra.processes import free_port, port_open, spawn, stop, wait_until

KAFKA_VERSION = "3.9.2"
_POM = Path(__file__).with_name("kafka-pom.xml")
_LOG4J = """\
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.KafkaRaftServer=INFO
"""


def default_cache_dir() -> Path:
    return Path(os.environ.get("ONCEONLY_KAFKA_CACHE", Path(__file__).resolve().parent.parent / ".cache" / "kafka"))


def ensure_jars(cache_dir: Path | None = None) -> Path:
    """Resolve the broker's jars with Maven once; later calls return the cached folder."""
    libs = (cache_dir or default_cache_dir()) / "libs"
    marker = libs / f".complete-{KAFKA_VERSION}"
    if marker.exists():
        return libs
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise RuntimeError("The local Kafka broker needs Java 17 and Maven (apt-get install openjdk-17-jre-headless maven)")
    libs.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mvn", "-q", "-B", "-f", str(_POM), "dependency:copy-dependencies",
         f"-DoutputDirectory={libs}", "-DincludeScope=runtime"],
        check=True,
    )
    marker.write_text(KAFKA_VERSION)
    return libs


@dataclass
class KafkaBroker:
    """One KRaft node on loopback; ``bootstrap`` is what clients connect to."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    controller_port: int = field(default_factory=free_port)
    heap: str = "768m"
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "broker.log"

    @classmethod
    @contextlib.contextmanager
    def started(cls, data_dir: Path, *, timeout: float = 90.0) -> Iterator[KafkaBroker]:
        broker = cls(data_dir=data_dir)
        broker.start(timeout=timeout)
        try:
            yield broker
        finally:
            broker.stop()

    def _write_config(self) -> Path:
        logs = self.data_dir / "logs"
        config = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(logs),
            "num.partitions": "4",
            "auto.create.topics.enable": "true",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "8",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "log.retention.hours": "-1",
            "log.cleaner.backoff.ms": "1000",
        }
        path = self.data_dir / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in config.items()))
        (self.data_dir / "log4j.properties").write_text(_LOG4J)
        return path

    def _java(self, main: str, *args: str) -> list[str]:
        libs = ensure_jars()
        return [
            "java", "-Xms128m", f"-Xmx{self.heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.data_dir / 'log4j.properties'}",
            "-cp", f"{libs}/*", main, *args,
        ]

    def start(self, *, timeout: float = 90.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        if not (self.data_dir / "logs" / "meta.properties").exists():
            subprocess.run(
                self._java("kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(config), "--ignore-formatted"),
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
        self._proc = spawn(self._java("kafka.Kafka", str(config)), self.log_path)
        try:
            wait_until(self._ready, timeout=timeout, what="Kafka broker", proc=self._proc, log_path=self.log_path)
        except BaseException:
            self.stop()
            raise

    def _ready(self) -> bool:
        if not port_open(self.port):
            return False
        return cluster_reachable(self.bootstrap, timeout_ms=2000)

    def stop(self) -> None:
        if self._proc is not None:
            stop(self._proc, grace=30.0)
            self._proc = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int:
        """The broker process's id (the benchmarks read its CPU time from /proc)."""
        if self._proc is None:
            raise RuntimeError("the broker is not running")
        return self._proc.pid


def cluster_reachable(bootstrap: str, *, timeout_ms: int = 5000, options: dict[str, Any] | None = None) -> bool:
    """True when a Kafka client can read the cluster's metadata at ``bootstrap``; ``options``: the
    client's security settings (``kafka_adapter.security.client_options``)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms,
                                 client_id="onceonly-check", **(options or {}))
    except (KafkaError, OSError, ValueError):
        return False
    try:
        admin.describe_cluster()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


def _cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding.

    Never one starting with "-" (1 in 64 would): the storage tool's argument parser would read it
    as an option and refuse to format; Kafka's own ``Uuid.randomUuid`` skips those too.
    """
    import base64

    while True:
        found = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not found.startswith("-"):
            return found
