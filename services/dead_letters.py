"""Dead letters (死信), the use cases: a steward lists them (each shown redacted, with what became of
it), re-processes the chosen ones after a mapping fix, and the source scorecards count them.

Dead letters live in the (append-only) dead-letter topic; what re-processing made of each is
``store.dead_letter_outcomes``. Re-processing runs the kept row through the department's current
mapping by the shared connector loop (``connectors.reprocess``): a row now readable reaches its raw
topic once, one still refused stays a letter with its new reason. A dead letter is a department's
row about a resident: every listing and every re-processing is audited here, whichever entry point
asked (the API or the console).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from kafka.errors import KafkaError
from sqlalchemy import Engine

from connectors.kafka_sink import KafkaSink
from connectors.pull import Topics
from connectors.reprocess import Reprocessed, reprocess_letters, reprocessable
from connectors.spec import ConnectorSpec
from connectors.state import ConnectorState
from core.access import Principal, require
from core.privacy import redact, redact_row
from onceonly.settings import Settings
from schemas.source_record import DeadLetter
from services.ports import Auditor
from store.dead_letter_outcomes import RESOLVED, DeadLetterOutcomes

__all__ = ["MAX_LETTERS", "DeadLetterService", "ReprocessRefused", "ReprocessStopped", "letter_view"]

MAX_LETTERS = 1000
LIST_PURPOSE = "死信排查"
REPROCESS_PURPOSE = "死信重处理"


class ReprocessRefused(ValueError):
    """Nothing chosen, or more letters than one run re-processes: 400."""


class ReprocessStopped(RuntimeError):
    """Kafka did not answer during a re-processing (what was acknowledged is not sent again): 503."""


class DeadLetterService:
    """``read_letters`` returns every logged dead letter now in the topic (``.event``, ``.partition``,
    ``.offset``), oldest first per partition, or raises when Kafka is not reachable. Re-processing
    needs ``settings`` (topics, the ID hash key), ``kafka`` (the cluster's address) and ``mappings``
    (the mapping files as they are now); without them :attr:`can_reprocess` is false."""

    def __init__(self, engine: Engine, read_letters: Callable[[], Sequence[Any]], audit: Auditor, *,
                 settings: Settings | None = None, kafka: Callable[[], str] | None = None,
                 mappings: Callable[[], Mapping[str, ConnectorSpec]] | None = None) -> None:
        self.engine = engine
        self.read_letters = read_letters
        self.audit = audit
        self.settings = settings
        self.kafka = kafka
        self.mappings = mappings
        self.outcomes = DeadLetterOutcomes(engine)
        self._lock = threading.Lock()  # one re-processing at a time per service: connector state is per source

    @property
    def can_reprocess(self) -> bool:
        return self.settings is not None and self.kafka is not None and self.mappings is not None

    def letters(self, principal: Principal, *, source: str | None = None, limit: int = 100,
                status: str | None = None) -> dict[str, Any]:
        """The newest dead letters (source, location, reason, the row redacted, re-processing status),
        as :func:`letter_view` shows them. ``status``: open | resolved | unreadable (re-processed, still
        refused). Audited: a dead letter is a department's row about a resident."""
        require(principal, "dead_letters")
        logged_letters = self.read_letters()
        outcomes = self.outcomes.of()
        letters: list[dict[str, Any]] = []
        counts: dict[str, int] = {}
        resolved: dict[str, int] = {}
        for logged in logged_letters:
            letter = logged.event
            src = getattr(letter, "source", "?")
            counts[src] = counts.get(src, 0) + 1
            outcome = outcomes.get(getattr(letter, "event_id", ""))
            if outcome is not None and outcome.outcome == "resolved":
                resolved[src] = resolved.get(src, 0) + 1
            state = outcome.outcome if outcome is not None else "open"
            if (source and src != source) or (status and state != status):
                continue
            why_not = reprocessable(letter) if hasattr(letter, "raw_row") else "not a dead letter"
            letters.append({
                **letter_view(letter),
                "partition": logged.partition, "offset": logged.offset,
                "status": state, "reprocessable": why_not is None and state != "resolved",
                "not_reprocessable_because": why_not,
                "new_reason": redact(outcome.reason) if outcome is not None and outcome.outcome == "unreadable" else None,
                "reprocessed_at": outcome.reprocessed_at.isoformat() if outcome and outcome.reprocessed_at else None,
            })
        letters.sort(key=lambda d: d["observed_at"], reverse=True)
        self.audit.append(principal, "read_dead_letters", LIST_PURPOSE, [],
                          ["dead_letters", f"source={source or '*'}", f"status={status or '*'}",
                           f"letters={min(len(letters), limit)}"])
        return {"per_source": counts, "resolved_per_source": resolved, "total": sum(counts.values()),
                "open": sum(counts.values()) - sum(resolved.values()), "letters": letters[:limit]}

    def reprocess(self, principal: Principal, *, source: str | None = None,
                  event_ids: Sequence[str] = ()) -> dict[str, Any]:
        """Re-process the selected letters (by source, or by event ids, or both) that are still open;
        answers the counts (``selected == resolved + still_unreadable + skipped``). Audited."""
        require(principal, "dead_letters")
        if not self.can_reprocess:
            raise ReprocessStopped("re-processing needs the service's settings (Kafka, mapping files)")
        result = self._reprocess(principal, source=source, event_ids=event_ids)
        self.audit.append(principal, "reprocess_dead_letters", REPROCESS_PURPOSE, [],
                          [f"source={source or '*'}", f"letters={result['selected']}"])
        return result

    def facts(self) -> list[tuple[str, str, datetime]]:
        """(source, reason, observed at) of every dead letter, for the source scorecards."""
        letters = [logged.event for logged in self.read_letters()]
        return [(getattr(e, "source", "?"), getattr(e, "reason", ""), e.observed_at) for e in letters
                if getattr(e, "observed_at", None) is not None]

    def _reprocess(self, principal: Principal, *, source: str | None, event_ids: Sequence[str]) -> dict[str, Any]:
        if not source and not event_ids:
            raise ReprocessRefused("choose a source or dead-letter ids to re-process")
        assert self.settings is not None and self.kafka is not None and self.mappings is not None
        with self._lock:
            letters = [logged.event for logged in self.read_letters() if isinstance(logged.event, DeadLetter)]
            wanted = set(event_ids)
            chosen = [d for d in letters if (not source or d.source == source) and (not wanted or d.event_id in wanted)]
            result = Reprocessed(selected=len(chosen))
            if wanted - {d.event_id for d in chosen}:
                result.skip("no such dead letter", len(wanted - {d.event_id for d in chosen}))
                result.selected += len(wanted - {d.event_id for d in chosen})
            if len(chosen) > MAX_LETTERS:
                raise ReprocessRefused(f"{len(chosen)} dead letters selected; re-process at most {MAX_LETTERS} at a time")
            done = self.outcomes.of([d.event_id for d in chosen])
            specs = self.mappings()  # the mapping files as they are now
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
                raise ReprocessStopped(f"re-processing stopped: Kafka did not answer ({type(exc).__name__}); "
                                       "try again, nothing is sent twice") from None
            finally:
                self.outcomes.record(result.outcomes, by=principal.username)
        return result.as_dict()


def letter_view(letter: Any) -> dict[str, Any]:
    """What a steward sees of one dead letter: every text through the redactor, and the row as read
    with each column masked by the canonical field its mapping reads it into (ID numbers, phones,
    names, assistance, amounts, health: masked whole; other columns redacted as free text)."""
    source = str(getattr(letter, "source", "?"))
    raw_row: dict[str, Any] | None = getattr(letter, "raw_row", None)
    shown_row = None if raw_row is None else redact_row(raw_row, source)
    # A value the row's mapping says is sensitive (an amount, a programme) is hidden wherever the
    # letter repeats it: the excerpt is the same row as one line of text, without its column names.
    values = {str(c): str(v) for c, v in (raw_row or {}).items() if v is not None}
    hidden = sorted({values[c] for c, v in (shown_row or {}).items()
                     if c in values and v != redact(values[c]) and len(values[c]) >= 2}, key=len, reverse=True)

    def shown(text: str) -> str:
        for value in hidden:
            text = text.replace(value, "***")
        return redact(text)

    return {
        "event_id": getattr(letter, "event_id", ""), "source": source,
        "stage": getattr(letter, "stage", ""), "location": shown(getattr(letter, "location", "")),
        "reason": shown(getattr(letter, "reason", "")),
        "record_id": shown(getattr(letter, "record_id", None) or ""),
        "raw_excerpt": shown(getattr(letter, "raw_excerpt", "")),
        "raw_row": shown_row,
        "observed_at": str(getattr(letter, "observed_at", "")),
    }
