"""Validating what the sources sent: Great Expectations over each source's new batch and over the
profile store, the one use case behind the validate flow (``flows.validate``) and the publish flow's
gate (``flows.publish``); the steward's data-quality page (``services.quality``) reads what it records.

A *batch* is what a source sent since its last publish: every record with a ledger row after the
source's published watermark (``store.flow_batches``), at its latest version, standardised once:
when the resolver has linked that version (same content hash), its form is read from the resolver's
state (``ResolverState.linked_forms``: what the stream's standardise stage made, as the profile
holds it), else it is standardised here with the department's mapping file as it is now
(``core.standardise.stage.standardise_envelope``, the function the stream agent calls): a version
not resolved yet, dead-lettered, or re-standardised after a mapping fix (its hash in the resolver
then derives from the new form). So a mapping fixed but not yet re-standardised is validated as the
hub holds the records, not as the fix would read them. The ledger (``store.ledger``, table
``source_records``) is used rather than the resolved profiles because a batch's quality is the
department's, before survivorship hides a bad value behind a better source's one. Data Docs are
rebuilt on every run under ``<data_dir>/gx/``; a failing batch is quarantined and a steward report
is written under ``<data_dir>/quarantine/``. The suites themselves are code in :mod:`services.expectations`.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from core.privacy import redact
from core.profile import Profile
from core.standardise import FieldMapping
from core.standardise.stage import standardise_envelope
from schemas.profile_events import record_key
from schemas.record_events import RecordStandardised
from schemas.resident import ResidentRecord
from schemas.source_record import DeadLetter, SourceRecord
from services.expectations import (
    SourceRules,
    SuiteRun,
    batch_frame,
    batch_row,
    batch_suite,
    profile_frames,
    profile_suites,
    rules_for,
    unknown_value_counts,
)
from store import flow_batches
from store.profile_tables import record_links
from store.tables import source_records

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@dataclass(frozen=True)
class Batch:
    source: str
    first_id: int  # exclusive
    last_id: int
    rows: tuple[dict[str, object], ...]

    @property
    def batch_id(self) -> str:
        return f"{self.source}-{self.first_id + 1}-{self.last_id}"


@dataclass(frozen=True)
class Finding:
    """One expectation's outcome, as a steward reads it."""

    suite: str
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int | None
    unexpected_percent: float | None
    examples: tuple[str, ...]  # record ids or codes, never ID numbers


@dataclass
class Validation:
    """What a validation run found; ``passed`` gates the publish."""

    batches: list[Batch]
    findings: list[Finding]
    data_docs: str
    report: str | None = None
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def failed_suites(self) -> set[str]:
        return {f.suite for f in self.findings if not f.success}

    @property
    def passed(self) -> bool:
        return not self.failed_suites()


# -- reading ------------------------------------------------------------------------------------------
LinkedForms = Callable[[Collection[str]], Mapping[str, tuple[str, ResidentRecord]]]
"""Record key (``source:record_id``) → (content hash, standardised record) of the version the
resolver linked (``store.resolver_state.ResolverState.linked_forms``)."""

Standardise = Callable[[SourceRecord, Mapping[str, FieldMapping]], RecordStandardised | DeadLetter]


def read_batches(engine: Engine, mappings: Mapping[str, FieldMapping], sources: list[str], *,
                 linked_forms: LinkedForms | None = None,
                 standardise: Standardise = standardise_envelope) -> list[Batch]:
    """Each source's records changed since its published watermark, latest version, standardised.

    A version the resolver has linked (same content hash as the ledger row's) is taken in the
    standardised form its profile holds, as the stream's standardise stage made it; any other
    (not resolved yet, dead-lettered, a newer version, or re-standardised after a mapping fix) is
    standardised here with ``standardise``.
    """
    read: list[tuple[str, int, int, dict[str, Any]]] = []  # source, watermark, last id, live rows by record id
    for source in sources:
        since = flow_batches.published_watermark(engine, source)
        stmt = (select(source_records).where(source_records.c.source == source, source_records.c.id > since)
                .order_by(source_records.c.id))
        latest: dict[str, Any] = {}
        last_id = since
        with engine.connect() as conn:
            for row in conn.execute(stmt):
                latest[row.record_id] = row  # ordered by id: the last one is the latest version
                last_id = row.id
        if latest:
            read.append((source, since, last_id, {rid: row for rid, row in latest.items() if row.change != "end"}))
    # One look-up for every source: a profile holding records of several sources is decoded once.
    keys = [record_key(source, rid) for source, _, _, live in read if source in mappings for rid in live]
    held = linked_forms(keys) if linked_forms is not None and keys else {}
    found = []
    for source, since, last_id, live in read:
        rows = []
        for record_id, row in live.items():
            linked = held.get(record_key(source, record_id)) if source in mappings else None
            if linked is not None and linked[0] == row.content_hash:
                result: RecordStandardised | DeadLetter = RecordStandardised(
                    event_id=row.event_id, source=row.source, record_id=row.record_id, change="upsert",
                    content_hash=row.content_hash, observed_at=row.observed_at, record=linked[1])
            else:
                envelope = SourceRecord(event_id=row.event_id, source=row.source, record_id=row.record_id,
                                        change=row.change, content_hash=row.content_hash,
                                        observed_at=row.observed_at, mapping_version=row.mapping_version,
                                        location=row.location, payload=row.payload)
                result = standardise(envelope, mappings)
            rows.append(batch_row(record_id, result))
        found.append(Batch(source=source, first_id=since, last_id=last_id, rows=tuple(rows)))
    return found


def link_counts(engine: Engine) -> Counter[str]:
    with engine.connect() as conn:
        return Counter(r.profile_id for r in conn.execute(select(record_links.c.profile_id)))


# -- running Great Expectations ------------------------------------------------------------------------
def run_suites(data_dir: Path, runs: list[SuiteRun]) -> tuple[list[Finding], str]:
    """Validate every table with its suite in one file-backed GX project under ``data_dir/gx``;
    rebuild the Data Docs; return the findings and the Data Docs index path."""
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    data_dir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(data_dir))
    datasource = context.data_sources.add_or_update_pandas("onceonly")
    findings: list[Finding] = []
    for run in runs:
        asset_name = run.name
        names = {a.name for a in datasource.assets}
        asset = datasource.get_asset(asset_name) if asset_name in names else datasource.add_dataframe_asset(asset_name)
        definitions = {d.name for d in asset.batch_definitions}
        definition = (asset.get_batch_definition("whole") if "whole" in definitions
                      else asset.add_batch_definition_whole_dataframe("whole"))
        suite = context.suites.add_or_update(run.suite)
        validation = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=f"validate.{run.suite.name}", data=definition, suite=suite))
        checkpoint = context.checkpoints.add_or_update(gx.Checkpoint(
            name=f"checkpoint.{run.suite.name}", validation_definitions=[validation],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs")]))
        result = checkpoint.run(batch_parameters={"dataframe": run.frame})
        for validation_result in result.run_results.values():
            for outcome in validation_result.results:
                config = outcome.expectation_config
                if config is None:
                    continue
                details = outcome.result or {}
                examples = tuple(str(v) for v in (details.get("partial_unexpected_list") or [])[:10])
                findings.append(Finding(
                    suite=run.suite.name, expectation=config.type, column=config.kwargs.get("column"),
                    success=bool(outcome.success), unexpected_count=details.get("unexpected_count"),
                    unexpected_percent=details.get("unexpected_percent"), examples=examples))
    context.build_data_docs()
    docs = data_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    return findings, str(docs)


UNKNOWN_VALUES_LISTED = 50  # per batch


def _cell(text: str) -> str:
    """A value as one markdown table cell (a department may write anything in a code column)."""
    return redact(" ".join(text.replace("|", "/").split()))[:80]


def write_report(data_dir: Path, validation: Validation) -> Path:
    """A markdown report a steward can read without GX: what failed, where, and what to do."""
    folder = data_dir / "quarantine"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"validation-{validation.checked_at:%Y%m%dT%H%M%S%f}.md"
    failed = validation.failed_suites()
    lines = [f"# Validation {'passed' if validation.passed else 'FAILED'} — {validation.checked_at:%Y-%m-%d %H:%M:%S} UTC",
             "", "Publishing is blocked until a later run passes." if failed else "Published.", ""]
    lines += ["## Batches", "", "| batch | source | records | status |", "|---|---|---|---|"]
    for batch in validation.batches:
        status = "quarantined" if f"batch.{batch.source}" in failed else "passed"
        lines.append(f"| {batch.batch_id} | {batch.source} | {len(batch.rows)} | {status} |")
    lines += ["", "## Failed expectations", "", "| suite | expectation | column | unexpected | examples |",
              "|---|---|---|---|---|"]
    for f in validation.findings:
        if not f.success:
            share = f" ({f.unexpected_percent:.1f} %)" if f.unexpected_percent is not None else ""
            lines.append(f"| {f.suite} | {f.expectation} | {f.column or ''} | {f.unexpected_count}{share} | "
                         f"{', '.join(f.examples)} |")
    # Kept records whose coded field is empty because the value is outside its code table: not a
    # failure (the batch passes), but what a steward adds to the mapping's codes or asks about.
    lines += ["", "## Unknown code values", "", "| batch | source | field | value | records |", "|---|---|---|---|---|"]
    for batch in validation.batches:
        for name, value, count in unknown_value_counts(batch.rows)[:UNKNOWN_VALUES_LISTED]:
            lines.append(f"| {batch.batch_id} | {batch.source} | {name} | {_cell(value)} | {count} |")
    lines += ["", "## What to do", "",
              "- Check the failing rows with the department (examples are record ids or code values).",
              "- Once the department has corrected them and the connector has re-read them, the next "
              "validation run validates the corrected versions and publishes.",
              "", f"Data Docs: {validation.data_docs}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# -- the use case ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ValidateBatches:
    """Validate every resident source's new batch and the profile store; ``rules``: per-source
    thresholds instead of :data:`services.expectations.SOURCE_RULES`."""

    rules: Mapping[str, SourceRules] | None = None


class ValidationService:
    """``mappings`` and ``sources`` read the mapping files and the resident sources as they are when a
    run starts; ``profiles`` reads the profile store; ``linked_forms`` (optional) the standardised
    forms the resolver holds (:func:`read_batches`); reports and Data Docs go under ``data_dir``."""

    def __init__(self, engine: Engine, profiles: Callable[[], Iterable[Profile]], *,
                 mappings: Callable[[], Mapping[str, FieldMapping]], sources: Callable[[], list[str]],
                 data_dir: Path, id_hash_key: str, linked_forms: LinkedForms | None = None) -> None:
        self.engine = engine
        self.profiles = profiles
        self.mappings = mappings
        self.sources = sources
        self.data_dir = data_dir
        self.id_hash_key = id_hash_key
        self.linked_forms = linked_forms

    def validate(self, command: ValidateBatches) -> Validation:
        """Run the suites, write the report and record each batch as passed or quarantined."""
        engine = self.engine
        flow_batches.create_tables(engine)
        batches = read_batches(engine, self.mappings(), self.sources(), linked_forms=self.linked_forms)
        runs = [SuiteRun(name=b.source, frame=batch_frame(b.rows),
                         suite=batch_suite(b.source, rules_for(b.source, command.rules))) for b in batches]
        frames = profile_frames(self.profiles(), link_counts(engine), id_hash_key=self.id_hash_key)
        suites = profile_suites()
        runs += [SuiteRun(name=name, frame=frames[name], suite=suites[name]) for name in suites]
        findings, docs = run_suites(self.data_dir, runs)
        validation = Validation(batches=batches, findings=findings, data_docs=docs)
        validation.report = str(write_report(self.data_dir, validation))
        failed = validation.failed_suites()
        for batch in batches:
            status = flow_batches.QUARANTINED if (failed and f"batch.{batch.source}" in failed) else flow_batches.PASSED
            flow_batches.record_batch(engine, batch_id=batch.batch_id, source=batch.source, first_id=batch.first_id,
                                      last_id=batch.last_id, records=len(batch.rows), status=status,
                                      report=validation.report, data_docs=docs)
        return validation
