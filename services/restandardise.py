"""Re-standardising one source after a mapping fix (重新标准化), without pulling the department again.

Every version a connector read is in ``raw.<source>``; what the standardise stage made of it is in
``records``. After a steward fixes the source's mapping file, this reads both topics, standardises
the latest version of each record again under the fixed mapping and sends a new
``RecordStandardised`` only for the records whose standardised form changed
(``core.standardise.stage.restandardise_envelope``): the resolver takes each as a new version of
its record, so the profiles show the fixed values. A record the fix makes unreadable is
dead-lettered (its profile keeps the old reading). A record whose latest raw version the workers
have not standardised yet is left to them. Audited here, whichever entry point asked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass

from pydantic import BaseModel

from core.access import Principal, require
from core.standardise import FieldMapping
from core.standardise.stage import restandardise_envelope
from schemas.record_events import RecordStandardised
from schemas.source_record import DeadLetter, SourceRecord
from services.ports import Auditor

__all__ = ["NotRestandardisable", "Restandardised", "RestandardiseService", "restandardise"]

PURPOSE = "映射修正后重新标准化"

ReadTopic = Callable[[str], Iterable[BaseModel]]
"""Every event now in a topic, in each partition's order."""

Publish = Callable[[Sequence[tuple[str, str, BaseModel]]], None]
"""Sends (topic, key, event) triples and returns once the broker acknowledged them all."""


class NotRestandardisable(ValueError):
    """The source has no mapping with a standardise section, or holds standard addresses."""


@dataclass(frozen=True)
class Restandardised:
    source: str
    records: int = 0  # live records (latest raw version not an end)
    changed: int = 0  # new RecordStandardised events sent
    unchanged: int = 0
    refused: int = 0  # the fixed mapping cannot read them: dead-lettered, profile unchanged
    pending: int = 0  # latest raw version not standardised by the workers yet: left to them

    def as_dict(self) -> dict[str, int | str]:
        return asdict(self)


def restandardise(source: str, mapping: FieldMapping, raw: Iterable[BaseModel], records: Iterable[BaseModel],
                  ) -> tuple[Restandardised, list[RecordStandardised], list[DeadLetter]]:
    """The events a fixed ``mapping`` makes of ``source``'s raw versions, given what ``records``
    holds: (counts, changed records, refusals). Pure: reading and sending are the caller's."""
    latest: dict[str, SourceRecord] = {}
    for event in raw:
        if isinstance(event, SourceRecord) and event.source == source:
            latest[event.identity] = event  # a key's versions are in one partition, in order
    standardised: dict[str, RecordStandardised] = {}
    for event in records:
        if isinstance(event, RecordStandardised) and event.source == source:
            standardised[event.key] = event
    changed: list[RecordStandardised] = []
    refused: list[DeadLetter] = []
    counts = {"records": 0, "unchanged": 0, "pending": 0}
    for key, envelope in latest.items():
        if envelope.change == "end":
            continue
        counts["records"] += 1
        before = standardised.get(key)
        if before is not None and before.cause != envelope.event_id:
            counts["pending"] += 1
            continue
        result = restandardise_envelope(envelope, mapping, before.record if before is not None else None)
        if result is None:
            counts["unchanged"] += 1
        elif isinstance(result, DeadLetter):
            refused.append(result.model_copy(update={"raw_row": DeadLetter.keepable(envelope.payload),
                                                     "scope": envelope.scope,
                                                     "mapping_version": envelope.mapping_version}))
        else:
            changed.append(result)
    return Restandardised(source, changed=len(changed), refused=len(refused), **counts), changed, refused


class RestandardiseService:
    def __init__(self, mappings: Callable[[], dict[str, FieldMapping]], gazetteer_sources: Callable[[], set[str]],
                 read_topic: ReadTopic, publish: Publish, audit: Auditor, *, raw_topic: Callable[[str], str],
                 records_topic: str, deadletter_topic: str) -> None:
        self.mappings = mappings  # read when asked: the steward has just fixed a file
        self.gazetteer_sources = gazetteer_sources
        self.read_topic = read_topic
        self.publish = publish
        self.audit = audit
        self.raw_topic = raw_topic
        self.records_topic = records_topic
        self.deadletter_topic = deadletter_topic

    def run(self, principal: Principal, source: str) -> Restandardised:
        require(principal, "dead_letters")  # the steward who repairs what the pipeline could not read
        mapping = self.mappings().get(source)
        if mapping is None:
            raise NotRestandardisable(f"no mapping with a standardise section for source {source!r}")
        if source in self.gazetteer_sources():
            raise NotRestandardisable(f"{source!r} holds standard addresses: re-ingest the grid centre's file")
        counts, changed, refused = restandardise(source, mapping, self.read_topic(self.raw_topic(source)),
                                                 self.read_topic(self.records_topic))
        self.publish([(self.records_topic, event.key, event) for event in changed]
                     + [(self.deadletter_topic, f"{letter.source}:{letter.location}", letter) for letter in refused])
        # Names the source, not residents: no record values are read out to anyone.
        self.audit.append(principal, "restandardise", f"{PURPOSE}（{source}）", [], [f"source={source}"])
        return counts
