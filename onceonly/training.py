"""Training the matcher on the district's own standardised records (the ``records`` topic)."""

from __future__ import annotations

from datetime import datetime, timezone

from core.matching import MatchModelParameters, estimate_parameters
from schemas.record_events import RecordStandardised
from schemas.resident import ResidentRecord
from store.matcher_parameters import MatcherParameterStore
from streams.log import read_log


def current_records(bootstrap: str, records_topic: str) -> list[ResidentRecord]:
    """The latest version of every live standardised record in the log."""
    latest: dict[str, ResidentRecord | None] = {}
    for batch in read_log(bootstrap, records_topic, client_id="onceonly-train"):
        for logged in batch:
            event = logged.event
            if isinstance(event, RecordStandardised):
                latest[event.key] = event.record if event.change == "upsert" else None
    return [r for r in latest.values() if r is not None]


def train(bootstrap: str, records_topic: str, store: MatcherParameterStore, *, seed: int = 0) -> MatchModelParameters:
    """Estimate m/u and λ from the current records (EM) and store them as a new version."""
    records = current_records(bootstrap, records_topic)
    now = datetime.now(timezone.utc)
    parameters = estimate_parameters(records, version=f"em-{now:%Y%m%dT%H%M%S.%f}-{len(records)}", trained_at=now,
                                     seed=seed)
    store.save(parameters)
    return parameters
