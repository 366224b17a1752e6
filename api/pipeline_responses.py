"""The shapes of the stewards' pipeline routes: dead letters and their re-processing, pipeline health
now and over time (``/api/v1/dead-letters``, ``/api/v1/pipeline/health``)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from api.responses import Absent, ResponseModel, Timestamp, optional_key

LetterStatus = Literal["open", "resolved", "unreadable"]


class DeadLetterOut(ResponseModel):
    """One dead letter as a steward sees it (``services.dead_letters.letter_view``): every text
    redacted, the row as read with each column masked by the field it maps to."""

    event_id: str
    source: str
    stage: str
    location: str
    reason: str
    record_id: str
    raw_excerpt: str
    raw_row: dict[str, str] | None = Field(description="column → value as read, masked; null when not kept")
    observed_at: str
    partition: int
    offset: int
    status: LetterStatus
    reprocessable: bool
    not_reprocessable_because: str | None
    new_reason: str | None = Field(description="why re-processing still refused it (status unreadable)")
    reprocessed_at: Timestamp | None


class DeadLettersOut(ResponseModel):
    per_source: dict[str, int]
    resolved_per_source: dict[str, int]
    total: int
    open: int
    letters: list[DeadLetterOut]


class ReprocessedLetterOut(ResponseModel):
    event_id: str
    source: str
    outcome: Literal["resolved", "unreadable"]
    reason: str


class ReprocessedOut(ResponseModel):
    """``selected == resolved + still_unreadable + skipped``."""

    selected: int
    resolved: int
    sent: int
    still_unreadable: int
    skipped: int
    skipped_reasons: dict[str, int]
    letters: list[ReprocessedLetterOut]


class ProfileCountsOut(ResponseModel):
    active: int
    merged: int


class SourceRunsOut(ResponseModel):
    """A department source's connector runs, summed."""

    source: str
    runs: int
    read: int
    events: int
    unchanged: int
    dead_letters: int
    last_finished: Timestamp | None


class PartitionOut(ResponseModel):
    partition: int
    applied: int
    lag: int | None


class ConsumerOut(ResponseModel):
    """A consumer on a topic: offsets applied, and the lag (null when Kafka is not reachable)."""

    consumer: str
    topic: str
    applied: int
    lag: int | None
    partitions: list[PartitionOut]


class DeadLetterCountsOut(ResponseModel):
    per_source: dict[str, int]
    in_topic: int | None


class PipelineHealthOut(ResponseModel):
    profiles: ProfileCountsOut
    sources: list[SourceRunsOut]
    consumers: list[ConsumerOut]
    dead_letters: DeadLetterCountsOut
    validation_pass_rate: float | None
    kafka: str = Field(description="whether the cluster answered, or why the lag is unknown")


class SampledConsumerOut(ResponseModel):
    model_config = ConfigDict(extra="allow")

    consumer: str
    topic: str
    applied: int
    lag: int | None
    partitions: list[PartitionOut] | Absent = optional_key()


class SampleOut(ResponseModel):
    """One stored sample of pipeline health (``services.pipeline.health_sample``). A sample is a stored JSON
    document: one written before a figure existed lacks it, and a later figure passes through."""

    model_config = ConfigDict(extra="allow")

    taken_at: Timestamp
    consumers: list[SampledConsumerOut] | Absent = optional_key()
    applied: dict[str, int] | Absent = optional_key("offsets applied per consumer")
    lag: dict[str, int | None] | Absent = optional_key()
    records_per_s: dict[str, float | None] | Absent = optional_key("per consumer, since the sample before")
    dead_letters: DeadLetterCountsOut | Absent = optional_key()
    profiles: dict[str, int] | Absent = optional_key()
    validation_pass_rate: float | None = optional_key()


class HealthHistoryOut(ResponseModel):
    since: Timestamp
    interval_seconds: float
    samples: list[SampleOut]
