"""Stewards re-process dead letters after a mapping fix: select, run through the current mapping,
record the outcome. The loop itself is ``connectors.reprocess``; this is its wiring in the service."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from kafka.errors import KafkaError
from sqlalchemy import Engine

from api.pipeline import PipelineViews
from api.queries import BadQuery, Unavailable
from connectors.reprocess import Reprocessed, reprocess_letters, reprocessable
from core.access import Principal
from onceonly.settings import Settings
from schemas.source_record import DeadLetter
from store.dead_letter_outcomes import RESOLVED, DeadLetterOutcomes

MAX_LETTERS = 1000


class DeadLetterReprocessing:
    def __init__(self, settings: Settings, engine: Engine, pipeline: PipelineViews, kafka: Callable[[], str]) -> None:
        self.settings = settings
        self.engine = engine
        self.pipeline = pipeline
        self.kafka = kafka
        self.outcomes = DeadLetterOutcomes(engine)
        self._lock = threading.Lock()  # one re-processing at a time per service: connector state is per source

    def run(self, principal: Principal, *, source: str | None = None, event_ids: Sequence[str] = ()) -> dict[str, Any]:
        """Re-process the selected letters (by source, or by event ids, or both) that are still open."""
        if not source and not event_ids:
            raise BadQuery("choose a source or dead-letter ids to re-process")
        from connectors.kafka_sink import KafkaSink
        from connectors.pull import Topics
        from connectors.state import ConnectorState
        from onceonly import bootstrap

        with self._lock:
            letters = [logged.event for logged in self.pipeline.read_dead_letters()
                       if isinstance(logged.event, DeadLetter)]
            wanted = set(event_ids)
            chosen = [d for d in letters if (not source or d.source == source) and (not wanted or d.event_id in wanted)]
            result = Reprocessed(selected=len(chosen))
            if wanted - {d.event_id for d in chosen}:
                result.skip("no such dead letter", len(wanted - {d.event_id for d in chosen}))
                result.selected += len(wanted - {d.event_id for d in chosen})
            if len(chosen) > MAX_LETTERS:
                raise BadQuery(f"{len(chosen)} dead letters selected; re-process at most {MAX_LETTERS} at a time")
            done = self.outcomes.of([d.event_id for d in chosen])
            specs = bootstrap.mappings(self.settings)  # the mapping files as they are now
            by_source: dict[str, list[DeadLetter]] = {}
            for letter in chosen:
                previous = done.get(letter.event_id)
                why_not = reprocessable(letter)
                if previous is not None and previous.outcome == RESOLVED:
                    result.skip("already re-processed")
                elif why_not is not None:
                    result.skip(why_not)
                elif letter.source not in specs:
                    result.skip("no mapping file for the source")
                else:
                    by_source.setdefault(letter.source, []).append(letter)
            try:
                if by_source:
                    address = self.kafka()
                    sink = KafkaSink(address, client_id="onceonly-reprocess")
                    try:
                        for src, group in sorted(by_source.items()):
                            topics = Topics(address, self.settings.raw_topic(src), self.settings.deadletter_topic)
                            reprocess_letters(group, specs[src], ConnectorState(self.engine, src), sink, topics,
                                              id_hash_key=self.settings.id_hash_key.get_secret_value(), result=result)
                    finally:
                        sink.close()
            except (LookupError, RuntimeError, OSError, KafkaError) as exc:
                # What was acknowledged is remembered by the connector state: a retry sends it no second time.
                raise Unavailable(f"re-processing stopped: Kafka did not answer ({type(exc).__name__}); "
                                  "try again, nothing is sent twice") from None
            finally:
                self.outcomes.record(result.outcomes, by=principal.username)
        return result.as_dict()
