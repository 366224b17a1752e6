"""Training the matcher (EM, no labels) on the district's own records: the one use case behind
``onceonly train``, the train-matcher flow (``flows.train``) and the demo.

Training reads the **raw** topics (what the connectors sent) and standardises each record's
latest version in this process with the departments' mapping files, through the same pure
function the standardise agent calls (``core.standardise.stage.standardise_envelope``). So the
matcher can be trained *before* any worker has run: a first resolution never has to use the
untrained defaults. Each training stores a new parameter version; running workers pick it up
(``store.matcher_parameters``, switched on the records topic).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from core.matching import MatchModelParameters, estimate_parameters
from core.matching.estimate import TooLittleData
from core.standardise import FieldMapping
from core.standardise.stage import standardise_envelope
from kafka_adapter.reader import read_log
from schemas.record_events import RecordStandardised
from schemas.resident import ResidentRecord
from schemas.source_record import SourceRecord
from store.matcher_parameters import MatcherParameterStore

__all__ = ["Estimate", "TooLittleData", "TrainMatcher", "Trained", "TrainingService", "current_records", "estimates",
           "train_on"]


@dataclass(frozen=True)
class TrainMatcher:
    """Re-estimate the matcher from the raw topics' current records; ``seed``: of the random pair sample."""

    seed: int = 0


@dataclass(frozen=True)
class Trained:
    parameters: MatchModelParameters  # the version stored
    records: int  # the standardised records it was trained on


class TrainingService:
    """``records`` reads the current records (:func:`current_records` over the hub's raw topics and
    mapping files, bound by the bootstrap); ``store`` keeps every trained version."""

    def __init__(self, records: Callable[[], list[ResidentRecord]], store: MatcherParameterStore, *,
                 announce: Callable[[str], object] | None = None) -> None:
        self.records = records
        self.store = store
        self.announce = announce  # puts the switch to a new version on the records topic

    def train(self, command: TrainMatcher, *, on_records: Callable[[int], None] | None = None) -> Trained:
        """Estimate and store a new version; ``on_records`` hears how many records were read before EM
        starts. Raises :class:`TooLittleData` (nothing stored) when the records cannot support an estimate."""
        records = self.records()
        if on_records is not None:
            on_records(len(records))
        trained = Trained(train_on(records, self.store, seed=command.seed), len(records))
        if self.announce is not None:  # the resolver switches where the topic has the switch
            self.announce(trained.parameters.version)
        return trained


def current_records(bootstrap: str, raw_topics: Sequence[str], mappings: Mapping[str, FieldMapping],
                    *, progress: Callable[[int], None] | None = None) -> list[ResidentRecord]:
    """The latest version of every live record in the raw topics, standardised in-process.

    Versions of one record share its Kafka key (``source:record_id``), hence one partition, so
    the last one read is the latest; a record whose latest version is an end is left out, and
    so is one its mapping cannot standardise (the agent dead-letters it too). ``progress`` is
    called with the number of messages read so far.
    """
    latest: dict[str, SourceRecord] = {}
    read = 0
    for topic in raw_topics:
        for batch in read_log(bootstrap, topic, client_id="onceonly-train"):
            for logged in batch:
                if isinstance(logged.event, SourceRecord):
                    latest[logged.event.identity] = logged.event
            read += len(batch)
            if progress is not None:
                progress(read)
    records: list[ResidentRecord] = []
    for envelope in latest.values():
        if envelope.change == "end":
            continue
        result = standardise_envelope(envelope, mappings)
        if isinstance(result, RecordStandardised) and result.record is not None:
            records.append(result.record)
    return records


class Estimate(NamedTuple):
    """One comparison level of a trained parameter set, as ``onceonly train`` prints it."""

    comparison: str
    level: str
    m: float
    u: float  # among any residents
    bits: float  # log2(m / u): the level's evidence


def estimates(parameters: MatchModelParameters) -> list[Estimate]:
    """m, u and the evidence in bits of every comparison level, in the settings' order."""
    return [Estimate(c.name, lv.label, lv.m, lv.u, math.log2(lv.m / lv.u))
            for c in parameters.comparisons for lv in c.levels]


def train_on(records: Sequence[ResidentRecord], store: MatcherParameterStore, *, seed: int = 0) -> MatchModelParameters:
    """Estimate m/u and λ from ``records`` (EM, no labels) and store them as a new version.

    Raises :class:`TooLittleData` (nothing stored) when the records cannot support an estimate.
    """
    now = datetime.now(UTC)
    parameters = estimate_parameters(list(records), version=f"em-{now:%Y%m%dT%H%M%S.%f}-{len(records)}",
                                     trained_at=now, seed=seed)
    store.save(parameters)
    return parameters
