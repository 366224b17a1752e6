"""Issue 14, item 5: every Kafka client the hub builds connects with the configured SASL/SCRAM and TLS
settings (compose's broker accepts nothing else)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from kafka_adapter.security import (
    KafkaSecurity,
    KafkaSecurityError,
    aiokafka_options,
    client_options,
    faust_credentials,
)
from onceonly import bootstrap
from onceonly.settings import PROJECT_ROOT, Settings

HUB_PACKAGES = ("api", "connectors", "flows", "kafka_adapter", "onceonly", "services", "store", "streams")
CLIENTS = {"KafkaProducer", "KafkaConsumer", "KafkaAdminClient", "AIOKafkaProducer", "AIOKafkaConsumer"}


def test_the_settings_become_sasl_scram_over_tls_for_every_kafka_python_client(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    settings = Settings(kafka_bootstrap="kafka.example:9093", kafka_security_protocol="SASL_SSL",
                        kafka_sasl_username="onceonly-hub", kafka_sasl_password="s3cret-pw",
                        kafka_ssl_cafile=ca, _env_file=None)
    assert client_options("kafka.example:9093") == {}  # nobody registered it yet: plain
    assert bootstrap.kafka_bootstrap(settings) == "kafka.example:9093"
    assert client_options("kafka.example:9093") == {
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "onceonly-hub",
        "sasl_plain_password": "s3cret-pw", "ssl_check_hostname": True, "ssl_cafile": str(ca)}
    assert "s3cret-pw" not in repr(bootstrap.kafka_security(settings))
    assert client_options("127.0.0.1:9092") == {}  # the embedded broker stays PLAINTEXT


def test_faust_gets_the_same_credentials_for_aiokafka() -> None:
    import faust
    from faust.types.auth import AuthProtocol, SASLMechanism

    from kafka_adapter.security import register

    register("kafka.faust:9093", KafkaSecurity("SASL_SSL", "SCRAM-SHA-512", "onceonly-hub", "pw"))
    credentials = faust_credentials("kafka.faust:9093")
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol is AuthProtocol.SASL_SSL and credentials.mechanism is SASLMechanism.SCRAM_SHA_512
    assert credentials.ssl_context is not None and credentials.ssl_context.check_hostname
    assert faust_credentials("127.0.0.1:9092") is None


def test_the_connectors_aiokafka_producer_gets_the_same_credentials() -> None:
    from kafka_adapter.security import register

    register("kafka.sink:9093", KafkaSecurity("SASL_SSL", "SCRAM-SHA-512", "onceonly-hub", "pw"))
    options = aiokafka_options("kafka.sink:9093")
    assert {k: v for k, v in options.items() if k != "ssl_context"} == {
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "onceonly-hub",
        "sasl_plain_password": "pw"}
    assert options["ssl_context"] is not None and options["ssl_context"].check_hostname
    assert aiokafka_options("127.0.0.1:9092") == {}


def test_sasl_without_a_user_is_refused_when_the_settings_are_read() -> None:
    with pytest.raises(KafkaSecurityError, match="SASL_USERNAME"):
        KafkaSecurity("SASL_SSL")


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and ((isinstance(n.func, ast.Name) and n.func.id in CLIENTS)
                 or (isinstance(n.func, ast.Attribute) and n.func.attr == "App"
                     and isinstance(n.func.value, ast.Name) and n.func.value.id == "faust"))]


def test_every_kafka_client_the_hub_builds_passes_the_security_settings() -> None:
    found, missing, elsewhere = 0, [], []
    for package in HUB_PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            for call in _calls(ast.parse(path.read_text(encoding="utf-8"))):
                found += 1
                where = f"{path.relative_to(PROJECT_ROOT).as_posix()}:{call.lineno}"
                if isinstance(call.func, ast.Name) and not where.startswith("kafka_adapter/clients.py:"):
                    elsewhere.append(where)  # issue 16: built through kafka_adapter.clients, nowhere else
                passes = [k for k in call.keywords if k.arg is None and isinstance(k.value, ast.Call)
                          and getattr(k.value.func, "id", "") in ("client_options", "aiokafka_options")]
                credentials = [k for k in call.keywords if k.arg == "broker_credentials"]
                if not passes and not credentials:
                    missing.append(f"{path.relative_to(PROJECT_ROOT)}:{call.lineno}")
    assert found >= 5  # the factories (producer, consumer, admin, aiokafka producer) and the faust app
    assert missing == [], f"Kafka clients built without kafka_adapter.security: {missing}"
    assert elsewhere == [], f"Kafka clients built outside kafka_adapter/clients.py: {elsewhere}"
