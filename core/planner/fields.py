"""Canonical fields of a profile, read as plain text with where each value came from.

The collection planner and the department extracts both name fields the way stewards do:
``name``, ``birth_date``, ``residential_address``, ``attributes.assistance`` … This module reads
one such field out of a profile's surviving values (:class:`core.profile.GoldenFields`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from core.profile.model import Golden, GoldenFields
from schemas.resident import Address

__all__ = ["CANONICAL_FIELDS", "KnownValue", "UnknownField", "check_field", "read_field"]

# Every surviving field of a profile, in the order a form lists them.
CANONICAL_FIELDS: tuple[str, ...] = tuple(name for name in GoldenFields.model_fields if name != "attributes")


class UnknownField(ValueError):
    """A form or grant names a field the hub does not hold."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field!r} is not a canonical field (one of {', '.join(CANONICAL_FIELDS)}, "
                         f"or attributes.<key>)")
        self.field = field


@dataclass(frozen=True)
class KnownValue:
    """A field's surviving value as text, and its provenance (一数一源: which source said it, when)."""

    field: str
    value: str
    source: str
    record_id: str
    observed_at: datetime


def check_field(field: str) -> str:
    """``field`` if it names a canonical field or an attribute (``attributes.<key>``)."""
    if field in CANONICAL_FIELDS or (field.startswith("attributes.") and len(field) > len("attributes.")):
        return field
    raise UnknownField(field)


def read_field(golden: GoldenFields, field: str) -> KnownValue | None:
    """The surviving value of ``field``, or ``None`` when no source holds it.

    >>> read_field(GoldenFields(), "name") is None
    True
    """
    check_field(field)
    found: Golden[object] | None
    if field.startswith("attributes."):
        found = golden.attributes.get(field.removeprefix("attributes."))  # type: ignore[assignment]
    else:
        found = getattr(golden, field)
    if found is None:
        return None
    text = as_text(found.value)
    if text is None:
        return None
    return KnownValue(field=field, value=text, source=found.provenance.source, record_id=found.provenance.record_id,
                      observed_at=found.provenance.observed_at)


def as_text(value: object) -> str | None:
    """A surviving value as a form shows it: an address by its full text, phones joined by ``;``."""
    if value is None:
        return None
    if isinstance(value, Address):
        return value.raw or None
    if isinstance(value, tuple | list):
        parts = [p for p in (as_text(v) for v in value) if p]
        return ";".join(parts) or None
    if isinstance(value, date | datetime):
        return value.isoformat()
    text = str(value).strip()
    return text or None
