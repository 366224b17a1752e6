"""The Great Expectations suites, as code: what a source batch and the profile store must satisfy.

Each suite runs over a small table built here from the hub's own models, never from raw ID
numbers: a batch row says *whether* a record's ID number is valid and agrees with its birth date
and sex; a profile row says how many valid ID numbers and linked records the profile holds. So
the failing values GX shows in its Data Docs are record ids and codes, not personal numbers.

Source batch (one row per record, its latest version in the batch):
  required fields present · ID-number validity rate ≥ the source's threshold · sex, ethnicity and
  relation to head inside GB/T 2261.1, GB 3304, GB/T 4761 (mostly: a record with one unknown code
  is kept, its field empty) · birth date and sex agree with the ID number · no duplicate record ids
  (after trimming and case-folding). Counted, never failing the batch: per coded field the values
  outside its code table, as the source wrote them (``unknown.<field>``), and per date field the
  records whose date could not be read (``unreadable.<field>``, by record id: a date is personal).
Profile store (one row per active profile, one per ID-number claim):
  at most one profile per valid ID number · every active profile has a linked record · every
  surviving field's provenance is a record of the profile · no profile holds two valid ID numbers
  · a household has at most one head.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import great_expectations as gx
import pandas as pd
from great_expectations.core.result_format import ResultFormat

from core.privacy import keyed_hash
from core.profile import Profile
from core.standardise.codes import ETHNICITY, RELATION_TO_HEAD, SEX
from schemas.record_events import RecordStandardised
from schemas.resident import ResidentRecord
from schemas.source_record import DeadLetter

HEAD_OF_HOUSEHOLD = {"01", "02"}  # GB/T 4761: 本人 (the head, in registers listing the head as 本人), 户主
UNKNOWN_CODE = "<not in the code list>"
_SEX_CODES = {"male": "1", "female": "2", "unknown": "0"}


@dataclass(frozen=True)
class SourceRules:
    """The thresholds a source's batches are held to (departments differ: housing often has no ID)."""

    required: tuple[str, ...] = ("name",)
    required_min: float = 0.98  # share of rows with every required field
    standardised_min: float = 0.95  # share of rows the standardiser could read at all
    id_valid_min: float = 0.95  # of the rows carrying a citizen ID number, share valid
    consistent_min: float = 0.95  # of the rows with a valid ID number, share whose birth date/sex agree
    # share of code values inside their code lists: an odd value is kept (and counted below); a
    # batch where a fifth or more are outside is a mapping to fix (a department that writes its own
    # codes), not a few mistyped rows — one odd row in a 15-row ledger must not block publishing
    codes_min: float = 0.8


SOURCE_RULES: dict[str, SourceRules] = {
    "public_security": SourceRules(id_valid_min=0.97),
    "social_security": SourceRules(id_valid_min=0.90, consistent_min=0.90),
    "civil_affairs": SourceRules(id_valid_min=0.90, consistent_min=0.90),
    "housing": SourceRules(id_valid_min=0.80, consistent_min=0.90),
    "community": SourceRules(id_valid_min=0.90, consistent_min=0.90),
}


def rules_for(source: str, overrides: Mapping[str, SourceRules] | None = None) -> SourceRules:
    return (overrides or {}).get(source) or SOURCE_RULES.get(source) or SourceRules()


# -- the tables the suites run over ------------------------------------------------------------------
def _code(record: ResidentRecord, target: str) -> str | None:
    if any(w.startswith(f"{target}_unknown") for w in record.warnings):
        return UNKNOWN_CODE
    value: str | None = getattr(record, target)
    return value


# The coded and date fields whose kept-but-unreadable values a batch counts (field → warning kinds).
CODED_FIELDS = ("sex", "ethnicity", "relation_to_head", "marital_status", "nationality")
DATE_FIELDS = ("birth_date", "deceased_on", "moved_out_on")
_QUOTED_VALUE = re.compile(r"""^(['"])(.*)\1 is not a known""", re.DOTALL)


def unknown_values(record: ResidentRecord) -> dict[str, str]:
    """The record's coded fields left empty because their value is outside the code table, with
    the value as the source wrote it (``{"ethnicity": "火星族"}``); a group value whose sex is not
    known (与户主关系 子女) as ``group:子女``."""
    found: dict[str, str] = {}
    for warning in record.warnings:
        kind, _, message = warning.partition(":")
        for field_name in CODED_FIELDS:
            if kind == f"{field_name}_unknown":
                match = _QUOTED_VALUE.match(message.strip())
                found.setdefault(field_name, match.group(2) if match else message.strip())
            elif kind == f"{field_name}_group":
                found.setdefault(field_name, f"group:{message.strip()}")
    return found


def unknown_value_counts(rows: Iterable[Mapping[str, object]]) -> list[tuple[str, str, int]]:
    """``(field, value, records)`` of a batch's coded values outside their code tables, most
    frequent first within each field (the steward's data-quality page lists them)."""
    counts: Counter[tuple[str, str]] = Counter()
    for row in rows:
        for name in CODED_FIELDS:
            value = row.get(f"unknown.{name}")
            if isinstance(value, str) and value:
                counts[(name, value)] += 1
    return sorted(((f, v, n) for (f, v), n in counts.items()), key=lambda t: (CODED_FIELDS.index(t[0]), -t[2], t[1]))


def batch_row(record_id: str, result: RecordStandardised | DeadLetter) -> dict[str, object]:
    """One record of a source batch, as the batch suite sees it."""
    row: dict[str, object] = {"record_id": record_id, "record_key": record_id.strip().casefold(),
                              "standardised": False}
    record = result.record if isinstance(result, RecordStandardised) else None
    if record is None:
        return row
    warnings = record.warnings
    has_ric = record.id_number is not None or record.id_number_invalid is not None
    row.update({
        "standardised": True,
        "name": record.name,
        "id_number_valid": (record.id_number is not None) if has_ric else None,
        "sex": UNKNOWN_CODE if any(w.startswith("sex_unknown") for w in warnings) else _SEX_CODES[record.sex],
        "ethnicity": _code(record, "ethnicity"),
        "relation_to_head": _code(record, "relation_to_head"),
        "birth_date_agrees_with_id": (not any(w.startswith("birth_date_mismatch") for w in warnings))
        if record.id_number else None,
        "sex_agrees_with_id": (not any(w.startswith("sex_mismatch") for w in warnings)) if record.id_number else None,
    })
    for name in ("household_id", "birth_date", "phones"):
        value = getattr(record, name)
        row[name] = (";".join(value) or None) if isinstance(value, tuple) else value
    for name, value in unknown_values(record).items():
        row[f"unknown.{name}"] = value
    for name in DATE_FIELDS:
        if any(w.startswith(f"{name}_unreadable") for w in warnings):
            row[f"unreadable.{name}"] = record_id
    return row


BATCH_COLUMNS = ("record_id", "record_key", "standardised", "name", "id_number_valid", "sex", "ethnicity",
                 "relation_to_head", "birth_date_agrees_with_id", "sex_agrees_with_id", "household_id", "birth_date",
                 "phones", *(f"unknown.{f}" for f in CODED_FIELDS), *(f"unreadable.{f}" for f in DATE_FIELDS))


def batch_frame(rows: Iterable[dict[str, object]]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(BATCH_COLUMNS)).astype(object)


def profile_frames(profiles: Iterable[Profile], link_counts: Mapping[str, int], *,
                   id_hash_key: str) -> dict[str, pd.DataFrame]:
    """The profile store as two tables: ``profiles`` (one row per active profile) and ``id_claims``
    (one row per valid ID number an active profile holds, by keyed hash)."""
    active = [p for p in profiles if p.is_active]
    heads: defaultdict[str, int] = defaultdict(int)
    for profile in active:
        relation = profile.golden.relation_to_head
        if profile.household_id and relation is not None and relation.value in HEAD_OF_HOUSEHOLD:
            heads[profile.household_id] += 1
    rows, claims = [], []
    for profile in active:
        valid = sorted({r.record.id_number for r in profile.live_records.values() if r.record.id_number})
        claims += [{"profile_id": profile.profile_id, "id_hash": keyed_hash(n, id_hash_key)} for n in valid]
        rows.append({
            "profile_id": profile.profile_id,
            "linked_records": int(link_counts.get(profile.profile_id, 0)),
            "valid_id_numbers": len(valid),
            "fields_without_provenance": len(_unproven(profile)),
            "household_heads": heads[profile.household_id] if profile.household_id else None,
        })
    return {
        "profiles": pd.DataFrame(rows, columns=["profile_id", "linked_records", "valid_id_numbers",
                                                "fields_without_provenance", "household_heads"]).astype(object),
        "id_claims": pd.DataFrame(claims, columns=["profile_id", "id_hash"]).astype(object),
    }


def _unproven(profile: Profile) -> list[str]:
    """Surviving fields whose provenance is not one of the profile's linked records."""
    keys = set(profile.records)
    golden = profile.golden
    found = [(name, getattr(golden, name)) for name in type(golden).model_fields if name != "attributes"]
    found += [(f"attributes.{k}", v) for k, v in golden.attributes.items()]
    return [name for name, value in found
            if value is not None and f"{value.provenance.source}:{value.provenance.record_id}" not in keys]


# -- the suites --------------------------------------------------------------------------------------
def batch_suite(source: str, rules: SourceRules) -> gx.ExpectationSuite:
    e = gx.expectations
    # Built as a list: GX saves a suite on add_expectation once it has a context (none here yet).
    found: list[Any] = [e.ExpectColumnValuesToBeUnique(column="record_key")]
    found.append(e.ExpectColumnValuesToBeInSet(column="standardised", value_set=[True],
                                                        mostly=rules.standardised_min))
    for name in rules.required:
        found.append(e.ExpectColumnValuesToNotBeNull(column=name, mostly=rules.required_min))
    found.append(e.ExpectColumnValuesToBeInSet(column="id_number_valid", value_set=[True],
                                                        mostly=rules.id_valid_min))
    for column, table in (("sex", SEX), ("ethnicity", ETHNICITY), ("relation_to_head", RELATION_TO_HEAD)):
        found.append(e.ExpectColumnValuesToBeInSet(column=column, value_set=sorted(table.names),
                                                            mostly=rules.codes_min))
    for column in ("birth_date_agrees_with_id", "sex_agrees_with_id"):
        found.append(e.ExpectColumnValuesToBeInSet(column=column, value_set=[True],
                                                            mostly=rules.consistent_min))
    # Counts, not gates (mostly=0 always holds): GX reports how many rows hold a value and lists them.
    for column in (*(f"unknown.{f}" for f in CODED_FIELDS), *(f"unreadable.{f}" for f in DATE_FIELDS)):
        found.append(e.ExpectColumnValuesToBeNull(
            column=column, mostly=0.0, result_format=ResultFormat.SUMMARY,
            meta={"notes": "kept records whose field could not be read: counted, the batch does not fail"}))
    return gx.ExpectationSuite(name=f"batch.{source}", expectations=found)


def profile_suites() -> dict[str, gx.ExpectationSuite]:
    e = gx.expectations
    found: list[Any] = [e.ExpectColumnValuesToBeUnique(column="profile_id")]
    found.append(e.ExpectColumnValuesToBeBetween(column="linked_records", min_value=1))
    found.append(e.ExpectColumnValuesToBeBetween(column="valid_id_numbers", min_value=0, max_value=1))
    found.append(e.ExpectColumnValuesToBeBetween(column="fields_without_provenance", min_value=0,
                                                            max_value=0))
    found.append(e.ExpectColumnValuesToBeBetween(column="household_heads", min_value=0, max_value=1))
    return {"profiles": gx.ExpectationSuite(name="store.profiles", expectations=found),
            "id_claims": gx.ExpectationSuite(name="store.id_claims",
                                             expectations=[e.ExpectColumnValuesToBeUnique(column="id_hash")])}


@dataclass
class SuiteRun:
    """One suite over one table, ready for GX."""

    name: str  # the batch or table, e.g. "public_security" or "profiles"
    frame: pd.DataFrame
    suite: gx.ExpectationSuite
    meta: dict[str, object] = field(default_factory=dict)
