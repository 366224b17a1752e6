"""Re-standardising a source after a mapping fix (``services.restandardise.restandardise``), pure:
raw versions and the records topic in, only the records whose standardised form changed out, with
ids derived from their cause; the resolver takes such an event as a new version of the record."""

from __future__ import annotations

from datetime import UTC, datetime

from core.matching import default_matcher
from core.resolution import ResolverMemory
from core.standardise import FieldMapping
from core.standardise.stage import standardise_envelope
from schemas.profile_events import RecordUpdated
from schemas.record_events import RecordStandardised
from schemas.source_record import DeadLetter, SourceRecord
from services.restandardise import restandardise

AT = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
FIELDS = {"name": "姓名", "sex": "性别", "relation_to_head": "与户主关系"}
BROKEN = FieldMapping(source="community", fields=FIELDS, codes={"sex": {"男": "male", "女": "female"}})
FIXED = FieldMapping(source="community", fields=FIELDS,
                     codes={"sex": {"男": "male", "女": "female"}, "relation_to_head": {"表舅": "99"}})


def visit(record_id: str, relation: str, *, name: str = "李雷") -> SourceRecord:
    return SourceRecord.of(source="community", record_id=record_id, mapping_version="cm-1", observed_at=AT,
                           payload={"姓名": name, "性别": "男", "与户主关系": relation})


def standardised(raw: list[SourceRecord], mapping: FieldMapping) -> list[RecordStandardised]:
    out = [standardise_envelope(r, {"community": mapping}) for r in raw]
    return [r for r in out if isinstance(r, RecordStandardised)]


RAW = [visit("V-1", "配偶"), visit("V-2", "表舅")]  # 配偶 is GB/T 4761 text; 表舅 needs the fix


def test_only_the_record_the_fix_changes_is_sent_again() -> None:
    counts, changed, refused = restandardise("community", FIXED, RAW, standardised(RAW, BROKEN))
    assert (counts.records, counts.changed, counts.unchanged, counts.refused, counts.pending) == (2, 1, 1, 0, 0)
    [event] = changed
    assert event.record_id == "V-2" and event.record is not None and event.record.relation_to_head == "99"
    assert event.source_event_id == RAW[1].event_id and event.cause == RAW[1].event_id
    assert refused == []


def test_the_new_event_id_is_the_same_on_every_run_and_differs_from_the_first_reading() -> None:
    first = restandardise("community", FIXED, RAW, standardised(RAW, BROKEN))[1]
    second = restandardise("community", FIXED, RAW, standardised(RAW, BROKEN))[1]
    assert [e.event_id for e in first] == [e.event_id for e in second]
    assert first[0].event_id != RAW[1].event_id and first[0].content_hash != RAW[1].content_hash


def test_a_second_run_after_the_first_sends_nothing() -> None:
    before = standardised(RAW, BROKEN)
    changed = restandardise("community", FIXED, RAW, before)[1]
    counts, again, _ = restandardise("community", FIXED, RAW, before + changed)
    assert again == [] and counts.unchanged == 2


def test_a_version_the_workers_have_not_standardised_yet_is_left_to_them() -> None:
    newer = visit("V-2", "表舅", name="李 雷")
    counts, changed, _ = restandardise("community", FIXED, [*RAW, newer], standardised(RAW, BROKEN))
    assert counts.pending == 1 and [e.record_id for e in changed] == []


def test_an_ended_record_is_not_read_again_and_a_record_the_fix_cannot_read_is_refused() -> None:
    gone = SourceRecord.of(source="community", record_id="V-1", payload={}, change="end", mapping_version="cm-1",
                           observed_at=AT)
    nameless = FieldMapping(source="community", fields={"name": "名字", "sex": "性别"})  # a wrong column: no name
    counts, changed, refused = restandardise("community", nameless, [*RAW, gone], standardised(RAW, BROKEN))
    assert counts.records == 1 and changed == []
    [letter] = refused
    assert isinstance(letter, DeadLetter) and letter.record_id == "V-2" and "cannot standardise" in letter.reason
    assert letter.raw_row == RAW[1].payload  # kept for a later re-process


def test_the_resolver_updates_the_record_once_and_ignores_a_redelivery() -> None:
    memory, matcher = ResolverMemory(), default_matcher()
    for event in standardised(RAW, BROKEN):
        memory.resolve(event, matcher)
    [event] = restandardise("community", FIXED, RAW, standardised(RAW, BROKEN))[1]
    [updated] = memory.resolve(event, matcher)
    assert isinstance(updated, RecordUpdated) and updated.record.relation_to_head == "99"
    assert updated.caused_by == event.event_id
    assert memory.resolve(event, matcher) == []  # the same content hash again: nothing
