"""A department's extract row (共享抽取): the granted fields of one profile.

The grants themselves (sharing classes, purposes, bases) are one model, :mod:`core.access.grants`,
shared by the query service, the publish flow and the planner; re-exported here for the planner.
"""

from __future__ import annotations

from typing import Any

from core.access.grants import DepartmentGrant, FieldGrant, GrantError, Grants, SharingClass
from core.planner.fields import read_field
from core.privacy import keyed_hash, mask_value
from core.profile.model import Profile

__all__ = ["SNAPSHOT_VERSION", "DepartmentGrant", "FieldGrant", "GrantError", "Grants", "SharingClass", "extract_row",
           "published_snapshot"]

SNAPSHOT_VERSION = 2  # 1 carried the whole profile (every field, clear ID numbers, provenance)


def extract_row(profile: Profile, grant: DepartmentGrant) -> dict[str, str | None]:
    """One resident's row of a department's extract: the profile id and the granted fields only."""
    row: dict[str, str | None] = {"profile_id": profile.profile_id}
    for granted in grant.fields:
        known = read_field(profile.golden, granted.field)
        row[granted.field] = known.value if known else None
    return row


def published_snapshot(profile: Profile, grants: Grants, *, id_hash_key: str) -> dict[str, Any]:
    """What ``profiles.published`` holds for one profile (``schemas/published/profile_snapshot.schema.json``).

    Only fields some department's grant shares (:attr:`Grants.shared_fields`); of those, a field the
    catalogue shares unconditionally in clear, a conditional one masked (its clear value goes only
    to the extracts of the departments granted it, with a basis). The ID number never in clear: its
    keyed hash (HMAC with the hub's key: joinable, useless without the key) and its masked form.
    A merged-away profile is its redirect.
    """
    head: dict[str, Any] = {"schema_version": SNAPSHOT_VERSION, "profile_id": profile.profile_id,
                            "version": profile.version, "status": profile.status}
    if not profile.is_active:
        return {**head, "merged_into": profile.merged_into}
    fields: dict[str, str | None] = {}
    for field in sorted(grants.shared_fields):
        known = read_field(profile.golden, field)
        value = known.value if known else None
        if field == "id_number":
            fields["id_number_hash"] = keyed_hash(value, id_hash_key) if value else None
            fields["id_number"] = mask_value(field, value) if value else None
        elif value is not None and grants.catalogue.get(field) != "unconditional":
            fields[field] = ";".join(mask_value(field, part) for part in value.split(";"))  # each phone
        else:
            fields[field] = value
    return {**head, "updated_at": profile.updated_at.isoformat(), "fields": fields}
