"""The source-record envelope: one row or message from a department system, as it was.

A source record has a stable identity (``source`` + ``record_id``) and a ``content_hash`` of its
native payload, so that reading the same row again is recognisably the same fact (collected once).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RecordChange = Literal["upsert", "end"]


def content_hash(payload: dict[str, Any]) -> str:
    """Stable SHA-256 of a native payload: key order and insignificant whitespace do not matter.

    >>> content_hash({"b": 1, "a": "x"}) == content_hash({"a": "x", "b": 1})
    True
    """
    return hashlib.sha256(_CANONICAL.encode(payload).encode("utf-8")).hexdigest()


# What json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
# builds on every call (the hashes stored since are of exactly that text), built once.
_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def utc_now() -> datetime:
    return datetime.now(UTC)


class SourceRecord(BaseModel):
    """A department record, as read, plus its envelope (来源记录)."""

    model_config = ConfigDict(frozen=True)

    event_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    source: str
    record_id: str
    change: RecordChange = "upsert"
    content_hash: str
    observed_at: datetime = Field(default_factory=utc_now)
    mapping_version: str
    location: str = ""
    scope: str = ""  # the unit the connector reads whole, e.g. one ledger file
    payload: dict[str, Any] = Field(default_factory=dict)

    @property
    def identity(self) -> str:
        """The stable identity of the fact, safe for Kafka keys (no ID numbers in record ids)."""
        return f"{self.source}:{self.record_id}"

    @classmethod
    def of(
        cls,
        *,
        source: str,
        record_id: str,
        payload: dict[str, Any],
        mapping_version: str,
        location: str = "",
        scope: str = "",
        change: RecordChange = "upsert",
        observed_at: datetime | None = None,
        hashed: str | None = None,
    ) -> SourceRecord:
        """The envelope of one row; ``hashed`` is ``content_hash(payload)`` when the caller has
        computed it already (a connector compares hashes before it builds an envelope)."""
        observed = observed_at or utc_now()
        if change != "upsert":
            hashed = "end"
        elif hashed is None:
            hashed = content_hash(payload)
        return cls(
            event_id=hashlib.sha256(f"{source}\x1f{record_id}\x1f{hashed}\x1f{observed.isoformat()}".encode()).hexdigest()[:32],
            source=source,
            record_id=record_id,
            change=change,
            content_hash=hashed,
            observed_at=observed,
            mapping_version=mapping_version,
            location=location,
            scope=scope,
            payload=payload,
        )


RAW_ROW_LIMIT = 64 * 1024  # bytes of JSON: a larger row (e.g. one refused for a huge cell) is not kept


class DeadLetter(BaseModel):
    """A record that could not be read or standardised, with where it came from and why.

    ``raw_row`` is the native row as the connector read it, kept so that a steward can re-process
    the letter after a mapping fix (``connectors.reprocess``). The dead-letter topic is internal:
    the row may hold ID numbers in clear, so every reader outside the hub shows it redacted.
    Letters written before these fields existed decode with the defaults (nothing to re-process).
    """

    model_config = ConfigDict(frozen=True)

    event_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    source: str
    location: str
    reason: str
    stage: Literal["connector", "standardise", "resolve", "project", "places", "ledger"] = "connector"
    record_id: str | None = None
    raw_excerpt: str = ""
    observed_at: datetime = Field(default_factory=utc_now)
    raw_row: dict[str, Any] | None = None
    scope: str = ""  # the unit the row was read in (a file), as in the envelope
    mapping_version: str = ""  # the mapping that refused the row

    @staticmethod
    def keepable(values: dict[str, Any]) -> dict[str, Any] | None:
        """``values`` when small enough to travel in a dead letter, else ``None``."""
        size = len(json.dumps(values, ensure_ascii=False, default=str).encode("utf-8"))
        return values if size <= RAW_ROW_LIMIT else None
