"""What a principal is shown of a profile: each field shown, masked or left out, with provenance.

Pure: takes a folded :class:`core.profile.Profile` and the caller's principal, grants and the
fields it asked to unmask; returns plain dicts for the API and the console, and the list of
fields it disclosed (for the audit entry).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from core.access.grants import Grant
from core.access.masking import FIELDS, FieldView, mask_value, visibility
from core.access.roles import Principal
from core.profile import Golden, Profile
from schemas.profile_events import FieldEvidence, PendingReview
from schemas.resident import Address, ResidentRecord


@dataclass
class Disclosure:
    """The fields a view disclosed: ``name`` shown, ``id_number*`` masked, ``+id_number`` unmasked."""

    fields: list[str] = field(default_factory=list)

    def note(self, name: str, view: FieldView, unmasked: bool) -> None:
        tag = f"+{name}" if unmasked else (f"{name}*" if view == "masked" else name)
        if tag not in self.fields:
            self.fields.append(tag)


def render(value: Any) -> str | list[str]:
    """A field value as text: addresses by their written form, dates ISO, phones a list."""
    if isinstance(value, Address):
        return value.raw
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return [str(v) for v in value]
    return str(value)


def _shown(field_name: str, value: Any, view: FieldView) -> str | list[str]:
    text = render(value)
    if view != "masked":
        return text
    if isinstance(text, list):
        return [mask_value(field_name, v) for v in text]
    return mask_value(field_name, text)


def _golden_fields(profile: Profile) -> list[tuple[str, Golden[Any]]]:
    golden = profile.golden
    out: list[tuple[str, Golden[Any]]] = [(n, g) for n in FIELDS if (g := getattr(golden, n)) is not None]
    out += [(f"attributes.{k}", g) for k, g in sorted(golden.attributes.items())]
    return out


def field_views(profile: Profile, principal: Principal, *, unmask: Collection[str] = (),
                grants: Mapping[str, Grant] | None = None, disclosure: Disclosure | None = None
                ) -> list[dict[str, Any]]:
    """Every golden field the principal may see: value, source, observed time, conflicts."""
    out = []
    for name, golden in _golden_fields(profile):
        view = visibility(principal, name, unmask=unmask, grants=grants)
        if view == "hidden":
            continue
        if disclosure is not None:
            disclosure.note(name, view, unmasked=view == "shown" and name in unmask)
        out.append({
            "field": name,
            "value": _shown(name, golden.value, view),
            "masked": view == "masked",
            "source": golden.provenance.source,
            "record_id": golden.provenance.record_id,
            "observed_at": golden.provenance.observed_at.isoformat(),
            "conflicted": golden.conflicted,
            "conflicts": [{"value": _shown(name, c.value, view), "source": c.provenance.source,
                           "record_id": c.provenance.record_id, "observed_at": c.provenance.observed_at.isoformat()}
                          for c in golden.conflicts],
        })
    return out


SUMMARY_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "name"), ("sex", "sex"), ("birth_date", "birth_date"), ("id_number", "id_number"),
    ("household_id", "household_id"), ("relation_to_head", "relation_to_head"), ("address", "residential_address"),
)  # (key in a hit, the field whose visibility applies)


def summary(profile: Profile, principal: Principal, *, grants: Mapping[str, Grant] | None = None,
            disclosure: Disclosure | None = None) -> dict[str, Any]:
    """A search hit or household member: identity fields only, masked as the role requires."""
    golden = profile.golden
    residential = golden.residential_address or golden.registered_address
    values: dict[str, Any] = {}
    for key, value in (("name", golden.name), ("sex", golden.sex), ("birth_date", golden.birth_date),
                       ("id_number", golden.id_number), ("household_id", golden.household_id),
                       ("relation_to_head", golden.relation_to_head), ("address", residential)):
        values[key] = None if value is None else render(value.value)
    return summary_of(profile.profile_id, values, principal, grants=grants, disclosure=disclosure)


def summary_of(profile_id: str, values: Mapping[str, Any], principal: Principal, *,
               grants: Mapping[str, Grant] | None = None, disclosure: Disclosure | None = None) -> dict[str, Any]:
    """:func:`summary` from the rendered values of the store's read-side columns (no document).

    A sensitive value may be given already masked (the store keeps ID numbers masked beside the
    document): masking is idempotent, so it is shown masked either way; the caller passes the clear
    value only where :func:`core.access.visibility` says ``shown``.
    """
    out: dict[str, Any] = {"profile_id": profile_id}
    for name, key in SUMMARY_FIELDS:
        value = values.get(name)
        view = visibility(principal, key, grants=grants)
        if view == "hidden" or value is None:
            out[name] = None
            continue
        if disclosure is not None:
            disclosure.note(key, view, unmasked=False)
        shown = _shown(key, value, view)
        out[name] = shown if isinstance(shown, str) else "、".join(shown)
    return out


def record_view(record: ResidentRecord, principal: Principal, *, unmask: Collection[str] = (),
                grants: Mapping[str, Grant] | None = None) -> dict[str, Any]:
    """A source record's canonical fields, masked like the profile's."""
    out: dict[str, Any] = {"source": record.source, "record_id": record.record_id,
                           "observed_at": record.observed_at.isoformat()}
    values: dict[str, Any] = {
        "name": record.name, "id_number": record.id_number or record.id_number_invalid, "sex": record.sex,
        "birth_date": record.birth_date or record.birth_month, "phones": record.phones or None,
        "household_id": record.household_id,
        "residential_address": record.addresses.get("residential") or record.addresses.get("registered"),
    }
    for key, val in record.attributes.items():
        values[f"attributes.{key}"] = val
    for name, value in values.items():
        if value is None:
            continue
        view = visibility(principal, name, unmask=unmask, grants=grants)
        if view != "hidden":
            shown = _shown(name, value, view)
            out[name] = shown if isinstance(shown, str) else "、".join(shown)
    return out


def evidence_view(evidence: Collection[FieldEvidence]) -> list[dict[str, Any]]:
    """Per-field evidence of a match; compared values of sensitive fields masked."""
    out = []
    for e in evidence:
        sensitive = e.field in ("id_number", "phones", "phone")
        kind = "phones" if e.field.startswith("phone") else e.field
        out.append({"field": e.field, "level": e.level, "weight": round(e.weight, 3),
                    "left": mask_value(kind, e.left) if sensitive and e.left else e.left,
                    "right": mask_value(kind, e.right) if sensitive and e.right else e.right})
    return out


def review_view(review: PendingReview, candidates: Mapping[str, Profile], principal: Principal) -> dict[str, Any]:
    """A pending review side by side: the record, each candidate profile, the evidence and weights."""
    return {
        "review_id": review.review_id,
        "score": round(review.score, 3),
        "requested_at": review.requested_at.isoformat(),
        "record": record_view(review.record, principal),
        "candidates": [summary(candidates[c], principal) if c in candidates else {"profile_id": c}
                       for c in review.candidate_profile_ids],
        "evidence": evidence_view(review.evidence),
    }
