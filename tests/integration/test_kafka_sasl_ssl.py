"""Issue 14, item 5, on a real broker: the deployment's own scripts (``deploy/kafka/make-certs.sh``,
``start.sh``, ``init-acls.sh``) run on the loopback with the local broker's jars, and the hub's
clients connect with SASL_SSL and SCRAM-SHA-512 as their own principal. A client without
credentials, with a wrong password, or a department reaching past its ACL is refused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from pydantic import BaseModel

from connectors.kafka_sink import KafkaSink
from kafka_adapter.admin import ensure_topics
from kafka_adapter.security import KafkaSecurity, client_options, register
from localinfra.kafka_broker import cluster_reachable, ensure_jars
from localinfra.processes import free_port, port_open, wait_until
from onceonly import bootstrap
from onceonly.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.kafka

DEPLOY = PROJECT_ROOT / "deploy" / "kafka"
TOOLS = {"kafka-storage.sh": "kafka.tools.StorageTool", "kafka-server-start.sh": "kafka.Kafka",
         "kafka-configs.sh": "kafka.admin.ConfigCommand", "kafka-acls.sh": "kafka.admin.AclCommand"}
PASSWORDS = {"KAFKA_ADMIN_PASSWORD": "admin-pw-7f3a", "ONCEONLY_KAFKA_SASL_PASSWORD": "hub-pw-91c2",
             "KAFKA_HOUSING_PASSWORD": "housing-pw-55d0"}


def _tools(folder: Path) -> Path:
    """The image's /opt/kafka/bin scripts the deployment scripts call, over the local broker's jars."""
    libs = ensure_jars()
    folder.mkdir()
    log4j = folder / "log4j.properties"
    log4j.write_text("log4j.rootLogger=WARN, stdout\nlog4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"
                     "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n"
                     "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n")
    for name, main in TOOLS.items():
        heap = "-Xmx512m" if main == "kafka.Kafka" else "-Xmx128m -XX:TieredStopAtLevel=1"
        script = folder / name
        script.write_text(f'#!/bin/sh\nexec java {heap} -Dlog4j.configuration=file:{log4j} -cp "{libs}/*" {main} "$@"\n')
        script.chmod(0o755)
    return folder


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    if shutil.which("openssl") is None or shutil.which("java") is None:
        # the broker itself needs java (.ci/run installs it) and the scripts openssl: a missing one is
        # a broken set-up, not a reason to prove nothing
        pytest.fail("the SASL/TLS test needs openssl and java on PATH")
    root = tmp_path_factory.mktemp("kafka-sasl")
    deploy = root / "deploy"
    deploy.mkdir()
    shutil.copy(DEPLOY / "make-certs.sh", deploy / "make-certs.sh")
    subprocess.run(["sh", str(deploy / "make-certs.sh"), "2"], check=True, capture_output=True, timeout=120)
    secrets = deploy / "secrets"
    port, controller = free_port(), free_port()
    env = {**os.environ, **PASSWORDS, "KAFKA_BIN": str(_tools(root / "bin")), "KAFKA_SECRETS": str(secrets),
           "KAFKA_DATA": str(root / "data"), "KAFKA_WORK": str(root), "KAFKA_ADVERTISED_HOST": "localhost",
           "KAFKA_PORT": str(port), "KAFKA_CONTROLLER_PORT": str(controller)}
    log = (root / "broker.log").open("wb")
    broker = subprocess.Popen(["sh", str(DEPLOY / "start.sh")], env=env, stdout=log, stderr=subprocess.STDOUT)
    address = f"localhost:{port}"
    admin = KafkaSecurity("SASL_SSL", "SCRAM-SHA-512", "admin", PASSWORDS["KAFKA_ADMIN_PASSWORD"],
                          str(secrets / "ca.pem")).kafka_python()
    try:
        wait_until(lambda: port_open(port, "127.0.0.1") and cluster_reachable(address, timeout_ms=3000, options=admin),
                   timeout=180, what="SASL_SSL Kafka broker", proc=broker, log_path=root / "broker.log")
        init = subprocess.run(["sh", str(DEPLOY / "init-acls.sh")], env={**env, "KAFKA_SERVER": address,
                                                                          "KAFKA_CA": str(secrets / "ca.pem")},
                              capture_output=True, text=True, timeout=600)
        assert init.returncode == 0, init.stdout[-2000:] + init.stderr[-2000:]
        yield address, secrets / "ca.pem"
    finally:
        broker.terminate()
        try:
            broker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            broker.kill()
        log.close()


class Marker(BaseModel):
    note: str


def _hub(address: str, ca: Path, password: str = PASSWORDS["ONCEONLY_KAFKA_SASL_PASSWORD"]) -> Settings:
    return Settings(kafka_bootstrap=address, kafka_security_protocol="SASL_SSL", kafka_sasl_username="onceonly-hub",
                    kafka_sasl_password=password, kafka_ssl_cafile=ca, _env_file=None)


def test_the_hub_connects_over_sasl_ssl_as_its_own_user_and_publishes(secured: tuple[str, Path]) -> None:
    address, ca = secured
    assert bootstrap.kafka_bootstrap(_hub(address, ca)) == address  # registers the hub's security
    ensure_topics(address, ["raw.public_security", "profiles.published"], partitions=1,
                  compacted=["profiles.published"])
    with KafkaSink(address, client_id="test-sasl") as sink:  # the connectors' producer
        sink.send("raw.public_security", "k-1", Marker(note="over SASL_SSL"))
        acked = sink.flush(timeout=60)
    assert [a.topic for a in acked] == ["raw.public_security"]
    producer = KafkaProducer(bootstrap_servers=address, **client_options(address), acks="all")
    producer.send("profiles.published", key=b"p-1", value=json.dumps({"profile_id": "p-1"}).encode()).get(timeout=60)
    producer.close()


def test_a_client_without_credentials_or_with_a_wrong_password_is_refused(secured: tuple[str, Path]) -> None:
    address, ca = secured
    assert not cluster_reachable(address, timeout_ms=3000)  # plaintext to a SASL_SSL listener
    wrong = bootstrap.kafka_security(_hub(address, ca, password="not-the-password")).kafka_python()
    assert not cluster_reachable(address, timeout_ms=5000, options=wrong)
    right = bootstrap.kafka_security(_hub(address, ca)).kafka_python()
    assert cluster_reachable(address, timeout_ms=5000, options=right)


def test_a_department_reads_the_published_topic_and_nothing_else(secured: tuple[str, Path]) -> None:
    address, ca = secured
    housing = KafkaSecurity("SASL_SSL", "SCRAM-SHA-512", "dept-housing", PASSWORDS["KAFKA_HOUSING_PASSWORD"], str(ca))
    register(address, bootstrap.kafka_security(_hub(address, ca)))
    ensure_topics(address, ["raw.public_security", "profiles.published"], partitions=1)
    producer = KafkaProducer(bootstrap_servers=address, **client_options(address), acks="all")
    producer.send("profiles.published", key=b"p-2", value=b'{"profile_id": "p-2"}').get(timeout=60)
    producer.send("raw.public_security", key=b"k-2", value=b"{}").get(timeout=60)
    producer.close()

    consumer = KafkaConsumer(bootstrap_servers=address, **housing.kafka_python(), group_id="dept-housing-sync",
                             auto_offset_reset="earliest", consumer_timeout_ms=15000)
    consumer.subscribe(["profiles.published"])
    keys = {m.key for m in consumer}
    consumer.close()
    assert b"p-2" in keys

    nosy = KafkaConsumer(bootstrap_servers=address, **housing.kafka_python(), group_id=None,
                         consumer_timeout_ms=5000)
    visible = nosy.topics()  # the metadata a principal gets: only topics some ACL lets it describe
    assert "profiles.published" in visible and "raw.public_security" not in visible
    tp = TopicPartition("raw.public_security", 0)
    nosy.assign([tp])
    try:
        read = [m for batch in nosy.poll(timeout_ms=5000).values() for m in batch]
    except KafkaError:
        read = []
    assert read == []  # raw.public_security holds a record (the hub's, above): the ACL keeps it out
    nosy.close()
    writer = KafkaProducer(bootstrap_servers=address, **housing.kafka_python(), max_block_ms=10000,
                           request_timeout_ms=10000)
    with pytest.raises(KafkaError):
        writer.send("profiles.published", key=b"p-x", value=b"{}").get(timeout=30)
    writer.close()
