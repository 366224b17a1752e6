"""The embedded broker helper: a real JVM that starts on free ports and never outlives us."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from localinfra.kafka_broker import KafkaBroker
from tests.helpers import PROJECT, eventually

pytestmark = pytest.mark.kafka


def _java_running(data_dir: Path) -> bool:
    out = subprocess.run(["pgrep", "-f", f"kafka.Kafka {data_dir}"], capture_output=True, text=True)
    return bool(out.stdout.strip())


def test_broker_serves_clients_and_stops_without_leaving_a_jvm(tmp_path: Path) -> None:
    from kafka import KafkaConsumer, KafkaProducer

    with KafkaBroker.started(tmp_path / "k") as broker:
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        producer.send("hello", b"world").get(timeout=30)
        producer.close()
        consumer = KafkaConsumer("hello", bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest",
                                 consumer_timeout_ms=5000)
        assert [m.value for m in consumer] == [b"world"]
        consumer.close()
        assert _java_running(tmp_path / "k")
    assert not _java_running(tmp_path / "k")


def test_broker_dies_with_its_parent_even_on_sigkill(tmp_path: Path) -> None:
    data = tmp_path / "k"
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(PROJECT)!r})
        from pathlib import Path
        from localinfra.kafka_broker import KafkaBroker
        b = KafkaBroker(data_dir=Path({str(data)!r}))
        b.start()
        print("ready", flush=True)
        time.sleep(600)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    assert parent.stdout.readline().strip() == "ready"
    assert _java_running(data)
    parent.kill()
    parent.wait()
    eventually(lambda: not _java_running(data), timeout=60)
    time.sleep(0.5)
    assert not _java_running(data)


def test_cluster_ids_never_start_with_a_dash_that_the_storage_tool_would_read_as_an_option() -> None:
    from localinfra.kafka_broker import _cluster_id

    ids = [_cluster_id() for _ in range(2000)]  # a dash would start ~31 of them if not refused
    assert all(not i.startswith("-") and len(i) == 22 for i in ids)
    assert len(set(ids)) == len(ids)
