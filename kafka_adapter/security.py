"""How the hub's Kafka clients authenticate and encrypt (SASL/SCRAM over TLS in production).

The settings (``ONCEONLY_KAFKA_SECURITY_PROTOCOL``, ``…_SASL_MECHANISM``, ``…_SASL_USERNAME``,
``…_SASL_PASSWORD``, ``…_SSL_CAFILE``) become one :class:`KafkaSecurity`, registered for the cluster
address by ``onceonly.bootstrap.kafka_bootstrap``, the one place every client's address comes from.
Every client the hub builds (kafka-python consumers and admin clients; the connectors' aiokafka
producer; faust's aiokafka driver) asks :func:`client_options`, :func:`aiokafka_options` or
:func:`faust_credentials` for the address it connects to, so
a new client cannot forget the credentials by taking a different road. An address nobody registered
(the embedded local broker, a test's broker) is plain PLAINTEXT.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass
from typing import Any, Literal

Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Mechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class KafkaSecurityError(ValueError):
    """The settings name a protocol without what it needs (the message says which setting)."""


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: Protocol = "PLAINTEXT"
    mechanism: Mechanism = "SCRAM-SHA-512"
    username: str = ""
    password: str = ""
    cafile: str | None = None  # the CA that signed the brokers' certificates; None = the system's

    def __post_init__(self) -> None:
        if self.uses_sasl and not (self.username and self.password):
            raise KafkaSecurityError(f"{self.protocol} needs ONCEONLY_KAFKA_SASL_USERNAME and _PASSWORD")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def __repr__(self) -> str:  # never the password
        return f"KafkaSecurity({self.protocol}, {self.mechanism if self.uses_sasl else '-'}, user={self.username!r})"

    def kafka_python(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's ``KafkaProducer``/``KafkaConsumer``/``KafkaAdminClient``."""
        if self.protocol == "PLAINTEXT":
            return {}
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.uses_sasl:
            options |= {"sasl_mechanism": self.mechanism, "sasl_plain_username": self.username,
                        "sasl_plain_password": self.password}
        if self.uses_tls:
            options |= {"ssl_check_hostname": True}
            if self.cafile:
                options["ssl_cafile"] = self.cafile
        return options

    def aiokafka(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's ``AIOKafkaProducer``/``AIOKafkaConsumer`` (the connectors' sink)."""
        if self.protocol == "PLAINTEXT":
            return {}
        options: dict[str, Any] = {"security_protocol": self.protocol, "ssl_context": self.ssl_context()}
        if self.uses_sasl:
            options |= {"sasl_mechanism": self.mechanism, "sasl_plain_username": self.username,
                        "sasl_plain_password": self.password}
        return options

    def ssl_context(self) -> ssl.SSLContext | None:
        """Verifies the brokers' certificates and host names (aiokafka and faust take a context)."""
        if not self.uses_tls:
            return None
        return ssl.create_default_context(cafile=self.cafile)


PLAINTEXT = KafkaSecurity()
_registered: dict[str, KafkaSecurity] = {}
_lock = threading.Lock()


def register(bootstrap: str, security: KafkaSecurity) -> None:
    """Clients of the cluster at ``bootstrap`` use ``security`` from now on (in this process)."""
    with _lock:
        _registered[bootstrap] = security


def security_for(bootstrap: str) -> KafkaSecurity:
    with _lock:
        return _registered.get(bootstrap, PLAINTEXT)


def client_options(bootstrap: str) -> dict[str, Any]:
    """kafka-python keyword arguments for the cluster at ``bootstrap`` (``{}`` for PLAINTEXT)."""
    return security_for(bootstrap).kafka_python()


def aiokafka_options(bootstrap: str) -> dict[str, Any]:
    """aiokafka keyword arguments for the cluster at ``bootstrap`` (``{}`` for PLAINTEXT)."""
    return security_for(bootstrap).aiokafka()


def faust_credentials(bootstrap: str) -> Any:
    """``broker_credentials`` for a faust app on ``bootstrap`` (None for PLAINTEXT); faust passes them
    to aiokafka as ``security_protocol``, ``sasl_mechanism`` and the TLS context."""
    security = security_for(bootstrap)
    if security.protocol == "PLAINTEXT":
        return None
    import faust

    context = security.ssl_context()
    if not security.uses_sasl:
        return faust.SSLCredentials(context)
    return faust.SASLCredentials(username=security.username, password=security.password, ssl_context=context,
                                 mechanism=security.mechanism)
