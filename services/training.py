"""Training the matcher (EM, no labels) on the district's own records: the one use case behind
``onceonly train``, the train-matcher flow (``flows.train``) and the demo.

Training reads what the standardise agent persisted on the ``records`` topic, one standardisation
per record version (issue #16): it trains on the records the resolver resolves, not on a second
reading of the raw topics. A record version the workers have not standardised yet (all of them
when training runs before any worker, as the demo and the FEBRL bench do) is standardised here,
through the same pure function the agent calls (``core.standardise.stage.standardise_envelope``),
so a first resolution never has to use the untrained defaults. Each training stores a new
parameter version; running workers pick it up (``store.matcher_parameters``, switched on the
records topic).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from pydantic import BaseModel

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
           "latest_records", "train_on"]


@dataclass(frozen=True)
class TrainMatcher:
    """Re-estimate the matcher from the current standardised records; ``seed``: of the random pair sample."""

    seed: int = 0


@dataclass(frozen=True)
class Trained:
    parameters: MatchModelParameters  # the version stored
    records: int  # the standardised records it was trained on


class TrainingService:
    """``records`` reads the current records (:func:`current_records` over the hub's records and raw
    topics and mapping files, bound by the bootstrap); ``store`` keeps every trained version."""

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


def current_records(bootstrap: str, records_topic: str, raw_topics: Mapping[str, str],
                    mappings: Mapping[str, FieldMapping], *,
                    progress: Callable[[int], None] | None = None) -> list[ResidentRecord]:
    """The latest standardised form of every live record of the sources in ``raw_topics``
    (source → its raw topic), as the standardise agent wrote it on ``records_topic``
    (see :func:`latest_records` for what counts as latest and live). The records topic is read
    before the raw topics, so every version it names is among the raw versions read.
    ``progress`` is called with the number of messages read so far (both topics).
    """
    read = 0

    def events(topic: str) -> Iterator[BaseModel]:
        nonlocal read
        for batch in read_log(bootstrap, topic, client_id="onceonly-train"):
            yield from (logged.event for logged in batch)
            read += len(batch)
            if progress is not None:
                progress(read)

    raw = (e for topic in raw_topics.values() for e in events(topic))
    return latest_records(events(records_topic), raw, mappings, sources=frozenset(raw_topics))


def latest_records(standardised: Iterable[BaseModel], raw: Iterable[BaseModel], mappings: Mapping[str, FieldMapping],
                   *, sources: Collection[str]) -> list[ResidentRecord]:
    """What the resolver holds, or will once the workers catch up, of every live record of ``sources``.

    ``standardised``: the records topic (``RecordStandardised`` events; matcher switches and other
    control records are skipped); ``raw``: the sources' raw topics, consumed after it (both may be
    generators reading the topics: only the latest event per record is kept). Versions of one
    record share its Kafka key (``source:record_id``), hence one partition, so the last one read
    is the latest. Per record:

    - the agent has standardised its latest raw version (the event's ``cause`` is that version,
      possibly re-standardised by ``onceonly restandardise``): that persisted form, **as it was
      standardised** — a mapping file edited since without ``onceonly restandardise`` does not
      change it, exactly as it does not change what the resolver holds;
    - it has not yet (training before the workers, or while they lag): the latest raw version
      standardised here with today's mapping, as the agent will;
    - that version cannot be standardised (the agent dead-letters it): the previous persisted form,
      which the resolver keeps; none, if there is none. A dead letter does not name the version it
      refuses, so "dead-lettered" and "not yet standardised" are told apart by standardising;
    - the latest version is an end: left out, as the resolver unlinks an ended record.

    Pure: reading the topics is the caller's.
    """
    persisted: dict[str, RecordStandardised] = {}
    for event in standardised:
        if isinstance(event, RecordStandardised) and event.source in sources:
            persisted[event.key] = event
    latest: dict[str, SourceRecord] = {}
    for event in raw:
        if isinstance(event, SourceRecord) and event.source in sources:
            latest[event.identity] = event
    records: list[ResidentRecord] = []
    for key in dict.fromkeys([*latest, *persisted]):  # raw order first: the order training saw before
        kept, envelope = persisted.get(key), latest.get(key)
        current = kept
        if envelope is not None and (kept is None or kept.cause != envelope.event_id):
            result = standardise_envelope(envelope, mappings)  # not standardised by the workers yet
            if isinstance(result, RecordStandardised):
                current = result
        if current is not None and current.change != "end" and current.record is not None:
            records.append(current.record)
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
