"""All settings in one object, read from ``ONCEONLY_*`` environment variables (or a ``.env`` file).

The same names are used by the local run and by ``docker-compose.yml``; the README lists them.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The key a fresh clone runs with: public, so it protects nothing. ``serve`` and ``worker`` refuse it
# unless the query service is bound to loopback (a developer's machine, ``make demo``, the tests).
DEFAULT_ID_HASH_KEY = "onceonly-dev-key-change-me"
# The audit log's key (HMAC of every entry and checkpoint): public too, refused off loopback alike. It
# must differ from the ID-hash key, and it is never written to the database.
DEFAULT_AUDIT_KEY = "onceonly-dev-audit-key-change-me"
# The console sessions' signing key: its own, so whoever holds the ID-hash key (every stream worker,
# every connector) cannot forge a session; public by default and refused off loopback alike.
DEFAULT_SESSION_KEY = "onceonly-dev-session-key-change-me"


def is_loopback(host: str) -> bool:
    """``127.0.0.1``, ``::1`` or ``localhost``: a bind address no other machine can reach."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


class DefaultKeyRefused(RuntimeError):
    """A service bound off loopback with a public default key: it must not start."""


def refuse_default_keys(settings: Settings, host: str, service: str = "the query service") -> None:
    """Raise :class:`DefaultKeyRefused` when ``settings`` hold a public default key and ``host`` is
    reachable from other machines. ``api.app.create_app`` calls it, so a service started without the
    CLI (``uvicorn onceonly.cli:service_app``) is held to it too."""
    found = settings.default_keys_in_use()
    if found and not is_loopback(host):
        raise DefaultKeyRefused(f"{service}: refusing to start with the default {', '.join(found)} while bound to "
                                f"{host}; set secret keys (each its own, e.g. openssl rand -hex 32) or bind to 127.0.0.1")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ONCEONLY_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=PROJECT_ROOT / "var", description="Where the embedded default keeps its files")
    kafka_bootstrap: str | None = Field(
        default=None, description="host:port of a Kafka cluster; unset = start the local broker process"
    )
    # How every Kafka client of the hub connects (kafka_adapter.security): compose uses SASL_SSL.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="Kafka security protocol; SASL_SSL in production (TLS + SCRAM)")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        default="SCRAM-SHA-512", description="SASL mechanism of the hub's Kafka user")
    kafka_sasl_username: str = Field(default="", description="The hub's Kafka user (one ACL per user)")
    kafka_sasl_password: SecretStr = Field(default=SecretStr(""), description="Its password")
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="CA certificate (PEM) that signed the brokers' certificates; unset = the system's")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the profile store; unset = SQLite in data_dir"
    )
    id_hash_key: SecretStr = Field(
        default=SecretStr(DEFAULT_ID_HASH_KEY),
        description="Key of the keyed hash (HMAC) that stands in for ID numbers in Kafka keys; "
                    "serve and worker refuse the default off loopback",
    )
    session_key: SecretStr = Field(
        default=SecretStr(DEFAULT_SESSION_KEY),
        description="Key that signs console sessions and their CSRF tokens; not the ID-hash key nor the audit "
                    "key. The query service refuses the default off loopback (also when started without the CLI)",
    )
    topic_partitions: int = Field(default=4, ge=1, description="Partitions of every topic the hub creates")
    records_partitions: int = Field(
        default=1, ge=1,
        description="Partitions of the records topic: one (the default) makes its order the resolution order, and "
                    "one worker at a time resolves, from state it keeps between batches",
    )
    worker_agents: str = Field(
        default="",
        description="The agents a stream worker runs, comma-separated (ledger, standardise, resolve, project, places, "
                    "objections); empty = all. E.g. one worker 'resolve' and one with the rest: the resolver gets a "
                    "process (a core) of its own",
    )
    topic_prefix: str = Field(default="", description="Prefix of every topic name (to share one cluster)")
    app_id: str = Field(default="onceonly", description="Faust application id = consumer group prefix")
    mappings_dir: Path = Field(default=PROJECT_ROOT / "mappings", description="Department mapping files (YAML)")
    api_host: str = Field(default="127.0.0.1", description="Query service bind address")
    api_port: int = Field(default=8000, description="Query service port")
    ingest_tokens: Annotated[dict[str, SecretStr], NoDecode] = Field(
        default_factory=dict,
        description='Bearer token per source for the ingest API, JSON {"community": "…"}; empty = ingest closed',
    )

    health_sample_seconds: float = Field(
        default=30.0, gt=0, description="How often the query service samples pipeline health (lag, throughput)")
    health_retention_days: float = Field(
        default=7.0, gt=0, description="How long pipeline health samples are kept")
    min_password_length: int = Field(default=10, ge=8, description="Shortest password an admin may set")

    metrics_host: str = Field(default="127.0.0.1", description="Bind address of a stream worker's /metrics")
    metrics_port: int = Field(default=0, ge=0, le=65535,
                              description="Port of a stream worker's Prometheus /metrics; 0 = not served")
    metrics_token: SecretStr = Field(
        default=SecretStr(""), description="Bearer token Prometheus presents to the query service's /metrics; "
                                           "empty = /metrics answered only when the service is bound to loopback")

    cookie_secure: Literal["auto", "always", "never"] = Field(
        default="auto", description="Secure flag of console cookies: auto = when the request is https or the "
                                    "service is bound to a non-loopback address (behind a TLS proxy)")
    token_days: float = Field(default=90.0, gt=0, description="How long a new bearer token is valid")
    log_level: str = Field(default="WARNING", description="Level of the CLI's, the worker's and the service's logs")
    log_format: Literal["text", "json"] = Field(
        default="text", description="text = one readable line per entry; json = one JSON object per line (for a "
                                    "log collector). Either way every line passes the redactor")

    audit_key: SecretStr = Field(
        default=SecretStr(DEFAULT_AUDIT_KEY),
        description="Key of the audit log's HMACs (each entry, each checkpoint); not the ID-hash key, never "
                    "in the database. serve and worker refuse the default off loopback")
    audit_key_file: Path | None = Field(
        default=None, description="A file holding the audit key (e.g. a mounted secret); wins over ONCEONLY_AUDIT_KEY")
    audit_checkpoint_file: Path | None = Field(
        default=None, description="Where signed checkpoints of the audit chain are appended (JSON lines), outside "
                                  "the database; unset = data_dir/audit-checkpoints.jsonl")
    audit_checkpoint_entries: int = Field(
        default=100, ge=1, description="A checkpoint after at most this many new audit entries")
    audit_checkpoint_seconds: float = Field(
        default=30.0, gt=0, description="…or this many seconds after the first entry not yet checkpointed")

    @field_validator("ingest_tokens", mode="before")
    @classmethod
    def _tokens_from_json(cls, value: Any) -> Any:
        # Compose passes an unset variable as "": that means no department may push.
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @field_validator("audit_key_file", "audit_checkpoint_file", mode="before")
    @classmethod
    def _unset_path(cls, value: Any) -> Any:
        # Compose passes an unset variable as "": the default, not the current directory.
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _audit_key_is_its_own(self) -> Settings:
        if self.audit_secret() == self.id_hash_key.get_secret_value().encode("utf-8"):
            raise ValueError("ONCEONLY_AUDIT_KEY must differ from ONCEONLY_ID_HASH_KEY: whoever may hash ID "
                             "numbers must not be able to re-sign the audit log")
        session = self.session_key.get_secret_value().encode("utf-8")
        if session in (self.id_hash_key.get_secret_value().encode("utf-8"), self.audit_secret()):
            raise ValueError("ONCEONLY_SESSION_KEY must differ from ONCEONLY_ID_HASH_KEY and ONCEONLY_AUDIT_KEY: "
                             "whoever may hash ID numbers or sign the audit log must not be able to forge a session")
        return self

    @property
    def uses_default_key(self) -> bool:
        return self.id_hash_key.get_secret_value() == DEFAULT_ID_HASH_KEY

    def audit_secret(self) -> bytes:
        """The audit key's bytes: the key file's content (stripped) when one is set, else ``audit_key``."""
        if self.audit_key_file is not None:
            try:
                found = self.audit_key_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"cannot read ONCEONLY_AUDIT_KEY_FILE ({type(exc).__name__})") from None
            if not found:
                raise ValueError("ONCEONLY_AUDIT_KEY_FILE is empty")
            return found.encode("utf-8")
        return self.audit_key.get_secret_value().encode("utf-8")

    @property
    def uses_default_audit_key(self) -> bool:
        return self.audit_secret() == DEFAULT_AUDIT_KEY.encode("utf-8")

    @property
    def uses_default_session_key(self) -> bool:
        return self.session_key.get_secret_value() == DEFAULT_SESSION_KEY

    def default_keys_in_use(self) -> list[str]:
        """The public default keys these settings would run with (a service may, on loopback only)."""
        return [name for name, default in (("ONCEONLY_ID_HASH_KEY", self.uses_default_key),
                                           ("ONCEONLY_AUDIT_KEY", self.uses_default_audit_key),
                                           ("ONCEONLY_SESSION_KEY", self.uses_default_session_key)) if default]

    @property
    def audit_checkpoint_path(self) -> Path:
        return self.audit_checkpoint_file or self.data_dir / "audit-checkpoints.jsonl"

    @property
    def audit_checkpoints_topic(self) -> str:
        """Signed checkpoints of the audit chain's head: the log's outside anchor beside the file."""
        return self.topic("audit.checkpoints")

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "onceonly.db"

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def raw_topic(self, source: str) -> str:
        return self.topic(f"raw.{source}")

    @property
    def deadletter_topic(self) -> str:
        return self.topic("deadletter")

    @property
    def records_topic(self) -> str:
        return self.topic("records")

    @property
    def profile_events_topic(self) -> str:
        return self.topic("profile-events")

    @property
    def places_topic(self) -> str:
        """The gazetteer's log: the grid centre's standard addresses and stewards' corrections."""
        return self.topic("places")

    @property
    def objections_topic(self) -> str:
        """Data objections (数据异议): raised, routed, answered, escalated, closed."""
        return self.topic("objections")
