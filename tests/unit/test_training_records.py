"""What training trains on (``services.training.latest_records``), pure: the records topic as the
standardise agent wrote it, the raw versions it has not reached yet standardised in-process, ends
and unreadable versions treated as the resolver treats them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from core.standardise import FieldMapping
from core.standardise.stage import standardise_envelope
from schemas.record_events import MatcherSwitched, RecordStandardised
from schemas.source_record import SourceRecord
from services.restandardise import restandardise
from services.training import latest_records

AT = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
FIELDS = {"name": "姓名", "sex": "性别", "relation_to_head": "与户主关系"}
BROKEN = FieldMapping(source="community", fields=FIELDS, codes={"sex": {"男": "male", "女": "female"}})
FIXED = FieldMapping(source="community", fields=FIELDS,
                     codes={"sex": {"男": "male", "女": "female"}, "relation_to_head": {"表舅": "99"}})
SOURCES = frozenset({"community"})


def visit(record_id: str, relation: str = "表舅", *, name: str = "李雷", later: int = 0,
          source: str = "community") -> SourceRecord:
    return SourceRecord.of(source=source, record_id=record_id, mapping_version="cm-1",
                           observed_at=AT + timedelta(days=later), payload={"姓名": name, "性别": "男", "与户主关系": relation})


def agent(raw: list[SourceRecord], mapping: FieldMapping) -> list[RecordStandardised]:
    """What the standardise agent writes on the records topic for ``raw`` under ``mapping``."""
    out = [standardise_envelope(r, {r.source: mapping}) for r in raw]
    return [r for r in out if isinstance(r, RecordStandardised)]


def relations(records: Sequence[BaseModel], raw: list[SourceRecord],
              mapping: FieldMapping = FIXED) -> dict[str, str | None]:
    return {r.record_id: r.relation_to_head
            for r in latest_records(records, raw, {"community": mapping}, sources=SOURCES)}


def test_a_mapping_edited_without_restandardise_does_not_change_what_training_reads() -> None:
    raw = [visit("V-1")]
    # 表舅 unknown when the agent read it: the field stayed empty; today's mapping knows it.
    assert relations(agent(raw, BROKEN), raw, FIXED) == {"V-1": None}
    fresh = standardise_envelope(raw[0], {"community": FIXED})
    assert isinstance(fresh, RecordStandardised) and fresh.record is not None
    assert fresh.record.relation_to_head == "99"  # standardising again would have trained on another record


def test_after_restandardise_training_reads_the_fixed_form() -> None:
    raw = [visit("V-1")]
    written = agent(raw, BROKEN)
    _, changed, _ = restandardise("community", FIXED, raw, written)
    assert relations([*written, *changed], raw, BROKEN) == {"V-1": "99"}


def test_versions_the_workers_have_not_reached_are_standardised_with_todays_mapping() -> None:
    first = visit("V-1")
    newer = visit("V-1", "本人", later=1)  # 本人 (self): GB/T 4761 01 without a code table
    raw = [first, visit("V-2"), newer]
    # The agent read V-1's first version only; V-2 and V-1's newer version are waiting.
    assert relations(agent([first], BROKEN), raw, FIXED) == {"V-1": "01", "V-2": "99"}
    # Before any worker has run, everything is standardised here.
    assert relations([], raw, FIXED) == {"V-1": "01", "V-2": "99"}


def test_an_ended_record_is_left_out_whether_or_not_the_agent_has_read_the_end() -> None:
    upsert = visit("V-1")
    end = SourceRecord.of(source="community", record_id="V-1", mapping_version="cm-1", change="end", payload={},
                          observed_at=AT + timedelta(days=1))
    assert relations(agent([upsert], FIXED), [upsert, end]) == {}
    assert relations(agent([upsert, end], FIXED), [upsert, end]) == {}
    back = visit("V-1", "本人", later=2)  # the department lists the resident again
    assert relations(agent([upsert, end, back], FIXED), [upsert, end, back]) == {"V-1": "01"}


def test_an_unreadable_latest_version_leaves_the_previous_reading_the_resolver_keeps() -> None:
    readable = visit("V-1")
    nameless = visit("V-1", "本人", name="", later=1)  # no name and no ID: dead-lettered
    raw = [readable, nameless]
    assert agent([nameless], FIXED) == []
    assert relations(agent(raw, FIXED), raw) == {"V-1": "99"}
    assert relations(agent([nameless], FIXED), [nameless]) == {}  # nothing read before: nothing to train on


def test_control_records_and_other_sources_are_not_trained_on() -> None:
    resident = visit("V-1")
    place = visit("A-1", source="grid_addresses")  # a gazetteer source: standard addresses, not residents
    switch = MatcherSwitched.to("em-1", AT)
    written = [switch, *agent([resident], FIXED), *agent([place], FIXED)]
    assert relations(written, [resident, place]) == {"V-1": "99"}
