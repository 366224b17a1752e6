"""Validation standardises each record version once: a batch takes the form the resolver holds for
the versions it has linked (``ResolverState.linked_forms``) and standardises in-process only the
others. On SQLite and PostgreSQL: the batch rows are the in-process ones, record for record, and a
version changed after resolution is standardised again, never taken stale from the resolver."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd
import pytest
from sqlalchemy import Engine

from connectors.spec import ConnectorSpec
from core.matching import default_matcher
from core.standardise import FieldMapping
from core.standardise.stage import standardise_envelope
from schemas.record_events import RecordStandardised
from schemas.source_record import DeadLetter, SourceRecord
from services.expectations import batch_frame
from services.validation import Batch, read_batches
from simulators.district import generate_district, render_district
from store import flow_batches
from store.ledger import Delivered, SourceRecordLedger
from store.resolver_state import ResolverState
from tests.helpers import PROJECT

OBSERVED = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)


def resident_mappings() -> dict[str, FieldMapping]:
    specs = [ConnectorSpec.load(path) for path in sorted((PROJECT / "mappings").glob("*.yaml"))]
    return {spec.source: mapping for spec in specs
            if (mapping := spec.field_mapping()) is not None and mapping.holds == "residents"}


def district_envelopes(mappings: Mapping[str, FieldMapping], residents: int = 40, seed: int = 5) -> list[SourceRecord]:
    """A simulated district's department rows as the connectors would send them."""
    specs = {spec.source: spec for path in sorted((PROJECT / "mappings").glob("*.yaml"))
             if (spec := ConnectorSpec.load(path)).source in mappings}
    found = []
    for rendered in render_district(generate_district(residents, seed=seed), seed=seed):
        if rendered.source not in mappings:
            continue
        values = {k: "" if v is None else str(v) for k, v in rendered.row.items()}
        record_id = "|".join(values.get(c, "") for c in specs[rendered.source].record_id)
        found.append(SourceRecord.of(source=rendered.source, record_id=record_id, payload=values,
                                     mapping_version="test", observed_at=OBSERVED))
    return found


@dataclass
class Counting:
    """The in-process standardiser, counting the versions it is asked to standardise."""

    calls: list[str] = field(default_factory=list)

    def __call__(self, envelope: SourceRecord, mappings: Mapping[str, FieldMapping]) -> RecordStandardised | DeadLetter:
        self.calls.append(envelope.identity)
        return standardise_envelope(envelope, mappings)


def frames(batches: list[Batch]) -> dict[str, pd.DataFrame]:
    return {b.source: batch_frame(b.rows) for b in batches}


def assert_same_batches(got: list[Batch], expected: list[Batch]) -> None:
    assert [(b.source, b.first_id, b.last_id, len(b.rows)) for b in got] == \
        [(b.source, b.first_id, b.last_id, len(b.rows)) for b in expected]
    for source, frame in frames(expected).items():
        pd.testing.assert_frame_equal(frames(got)[source], frame)


@pytest.fixture
def resolved(store_engine: Engine) -> tuple[Engine, ResolverState, dict[str, FieldMapping], list[SourceRecord]]:
    """The district in the ledger, standardised as the stream does and resolved."""
    mappings = resident_mappings()
    envelopes = district_envelopes(mappings)
    SourceRecordLedger(store_engine).apply([Delivered("raw", 0, n, e) for n, e in enumerate(envelopes)])
    state = ResolverState(store_engine)
    items = [r for e in envelopes if isinstance(r := standardise_envelope(e, mappings), RecordStandardised)]
    state.resolve_batch(items, default_matcher())
    flow_batches.create_tables(store_engine)
    return store_engine, state, mappings, envelopes


def test_linked_versions_are_read_from_the_resolver_and_give_the_in_process_rows(
        resolved: tuple[Engine, ResolverState, dict[str, FieldMapping], list[SourceRecord]]) -> None:
    engine, state, mappings, envelopes = resolved
    sources = sorted(mappings)
    counting = Counting()
    linked = read_batches(engine, mappings, sources, linked_forms=state.linked_forms, standardise=counting)
    in_process = read_batches(engine, mappings, sources)

    assert sum(len(b.rows) for b in in_process) == len({e.identity for e in envelopes}) > 50
    assert len(in_process) >= 4  # several departments, each with its own batch
    assert_same_batches(linked, in_process)
    # Only what the stream could not standardise (dead letters: never resolved) is standardised again.
    dead = {e.identity for e in envelopes if isinstance(standardise_envelope(e, mappings), DeadLetter)}
    assert sorted(counting.calls) == sorted(dead)
    held = state.linked_forms([e.identity for e in envelopes])
    assert len(held) == len({e.identity for e in envelopes} - dead)
    assert all(held[e.identity][0] == e.content_hash for e in envelopes if e.identity in held)


def test_a_version_changed_after_resolution_is_standardised_again(
        resolved: tuple[Engine, ResolverState, dict[str, FieldMapping], list[SourceRecord]]) -> None:
    engine, state, mappings, envelopes = resolved
    latest = {e.identity: e for e in envelopes}
    changed = []
    for source in ("public_security", "community"):  # the department renames two residents after resolution
        column = mappings[source].fields["name"][0]
        for n, envelope in enumerate([e for e in latest.values() if e.source == source and e.payload.get(column)][:2]):
            payload = {**envelope.payload, column: f"改名测试{'甲乙'[n]}"}
            changed.append(SourceRecord.of(source=source, record_id=envelope.record_id, payload=payload,
                                           mapping_version="test", observed_at=OBSERVED))
    SourceRecordLedger(engine).apply([Delivered("raw", 0, len(envelopes) + n, e) for n, e in enumerate(changed)])

    sources = sorted(mappings)
    counting = Counting()
    linked = read_batches(engine, mappings, sources, linked_forms=state.linked_forms, standardise=counting)
    assert_same_batches(linked, read_batches(engine, mappings, sources))
    assert {e.identity for e in changed} <= set(counting.calls)
    names = {(b.source, row["record_id"]): row["name"] for b in linked for row in b.rows}
    assert {names[(e.source, e.record_id)] for e in changed} == {"改名测试甲", "改名测试乙"}
    # the resolver still holds the old version of each: its hash is not the ledger's
    held = state.linked_forms([e.identity for e in changed])
    assert all(held[e.identity][0] != e.content_hash for e in changed)
