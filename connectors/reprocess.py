"""Re-processing dead letters after a mapping fix (死信重处理).

A connector-stage dead letter carries the native row it refused (``DeadLetter.raw_row``). Once a
steward has fixed the department's mapping file, the row is run again through the *current*
mapping by the same shared loop a pull uses (``connectors.pull.Connector``): the same checks, the
same envelope, the same sink, the same memory of content hashes. So a row that is now readable
reaches ``raw.<source>`` exactly once — re-processing it again finds its hash known and sends
nothing (collected once) — and a row still refused stays a dead letter with the new reason.

Each letter is one page of the loop, so that the page's counts say what became of that letter.
The refusals are not sent to the dead-letter topic again (the letter is already there); they come
back as outcomes, which the caller records (``store.dead_letter_outcomes``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from connectors.kafka_sink import Acked, KafkaSink
from connectors.pull import Connector, RunCounts, Topics
from connectors.rows import CursorLookup, NativeRow, Page
from connectors.spec import ConnectorSpec
from connectors.state import ConnectorState
from core.privacy import redact
from schemas.source_record import DeadLetter
from store.dead_letter_outcomes import RESOLVED, UNREADABLE, LetterOutcome


def reprocessable(letter: DeadLetter) -> str | None:
    """Why ``letter`` cannot be re-processed, or ``None`` when it can."""
    if letter.stage != "connector":
        return f"a {letter.stage}-stage letter: its record is already in the raw topic (replay the workers instead)"
    if letter.raw_row is None:
        return "the row was not kept (unreadable file line, or written before rows were kept)"
    return None


@dataclass
class Reprocessed:
    """What one re-processing run did: ``selected == resolved + still_unreadable + skipped``."""

    selected: int = 0
    resolved: int = 0  # now readable: sent, or already in the raw topic
    sent: int = 0  # new versions sent to raw.<source>
    still_unreadable: int = 0
    skipped: int = 0  # not re-processable, already resolved, or no mapping for the source
    outcomes: list[LetterOutcome] = field(default_factory=list)
    skipped_reasons: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped += n
        self.skipped_reasons[reason] = self.skipped_reasons.get(reason, 0) + n

    def as_dict(self) -> dict[str, Any]:
        return {"selected": self.selected, "resolved": self.resolved, "sent": self.sent,
                "still_unreadable": self.still_unreadable, "skipped": self.skipped,
                "skipped_reasons": dict(self.skipped_reasons),
                "letters": [{"event_id": o.event_id, "source": o.source, "outcome": o.outcome, "reason": o.reason}
                            for o in self.outcomes]}


class _LetterReader:
    """One page per letter, in the scope the row was first read in."""

    def __init__(self, letters: Sequence[DeadLetter]) -> None:
        self.letters = letters

    def pages(self, cursors: CursorLookup) -> Iterator[Page]:
        for letter in self.letters:
            yield Page(rows=[NativeRow(letter.location, dict(letter.raw_row or {}))], scope=letter.scope)

    def scanned_scopes(self) -> Sequence[str] | None:
        return []  # a selection of rows says nothing about the rows not selected: nothing ends

    def unchanged_scopes(self) -> Sequence[str]:
        return []


class _KeepRefusals:
    """The connector's sink, except that refusals are kept here instead of going to the dead-letter
    topic a second time."""

    def __init__(self, sink: KafkaSink, deadletter_topic: str) -> None:
        self.sink = sink
        self.deadletter_topic = deadletter_topic
        self.refusals: list[DeadLetter] = []

    @property
    def api_version(self) -> tuple[int, ...] | None:
        return self.sink.api_version

    def send(self, topic: str, key: str, event: BaseModel) -> None:
        if topic == self.deadletter_topic and isinstance(event, DeadLetter):
            self.refusals.append(event)
            return
        self.sink.send(topic, key, event)

    def flush(self, timeout: float = 300.0) -> list[Acked]:
        return self.sink.flush(timeout)


def reprocess_letters(letters: Sequence[DeadLetter], spec: ConnectorSpec, state: ConnectorState, sink: KafkaSink,
                      topics: Topics, *, id_hash_key: str, result: Reprocessed | None = None) -> Reprocessed:
    """Run ``letters`` (one source's, re-processable ones) through ``spec``'s current mapping."""
    result = result if result is not None else Reprocessed()
    keeper = _KeepRefusals(sink, topics.deadletter)
    before = RunCounts()
    ordered = list(letters)
    position = iter(ordered)

    def after_page(counts: RunCounts) -> None:
        letter = next(position)
        events, dead = counts.events - before.events, counts.dead_letters - before.dead_letters
        before.events, before.unchanged, before.dead_letters = counts.events, counts.unchanged, counts.dead_letters
        if dead:
            reason = keeper.refusals[-1].reason if keeper.refusals else "still unreadable"
            result.still_unreadable += 1
            result.outcomes.append(LetterOutcome(letter.event_id, letter.source, UNREADABLE,
                                                 redact(reason)[:500], letter.record_id))
        else:
            result.resolved += 1
            result.sent += events
            result.outcomes.append(LetterOutcome(letter.event_id, letter.source, RESOLVED, "", letter.record_id))

    connector = Connector(spec, _LetterReader(ordered), state, keeper, topics,  # type: ignore[arg-type]
                          id_hash_key=id_hash_key, on_page=after_page)
    connector.run()
    return result
