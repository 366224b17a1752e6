"""All settings in one object, read from ``ONCEONLY_*`` environment variables (or a ``.env`` file).

The same names are used by the local run and by ``docker-compose.yml``; the README lists them.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The key a fresh clone runs with: public, so it protects nothing. ``serve`` and ``worker`` refuse it
# unless the query service is bound to loopback (a developer's machine, ``make demo``, the tests).
DEFAULT_ID_HASH_KEY = "onceonly-dev-key-change-me"


def is_loopback(host: str) -> bool:
    """``127.0.0.1``, ``::1`` or ``localhost``: a bind address no other machine can reach."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ONCEONLY_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=PROJECT_ROOT / "var", description="Where the embedded default keeps its files")
    kafka_bootstrap: str | None = Field(
        default=None, description="host:port of a Kafka cluster; unset = start the local broker process"
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the profile store; unset = SQLite in data_dir"
    )
    id_hash_key: SecretStr = Field(
        default=SecretStr(DEFAULT_ID_HASH_KEY),
        description="Key of the keyed hash (HMAC) that stands in for ID numbers in Kafka keys; "
                    "also signs console sessions. serve and worker refuse the default off loopback",
    )
    topic_partitions: int = Field(default=4, ge=1, description="Partitions of every topic the hub creates")
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

    cookie_secure: Literal["auto", "always", "never"] = Field(
        default="auto", description="Secure flag of console cookies: auto = when the request is https or the "
                                    "service is bound to a non-loopback address (behind a TLS proxy)")
    token_days: float = Field(default=90.0, gt=0, description="How long a new bearer token is valid")

    @field_validator("ingest_tokens", mode="before")
    @classmethod
    def _tokens_from_json(cls, value: Any) -> Any:
        # Compose passes an unset variable as "": that means no department may push.
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @property
    def uses_default_key(self) -> bool:
        return self.id_hash_key.get_secret_value() == DEFAULT_ID_HASH_KEY

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
