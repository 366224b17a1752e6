"""What a principal sees of each profile field: shown, masked, or hidden (not granted).

ID numbers (公民身份号码), phone numbers and sensitive attributes (assistance 救助, disability 残疾,
health 健康: sensitive personal information under PIPL; ``config/fields.yaml`` says which) are masked
by default; ``unmask`` names the fields the principal asked to see in clear, with a purpose the
caller logs.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Literal

from core.access.catalogue import catalogue
from core.access.grants import Grant
from core.access.roles import Principal, can
from core.privacy import mask_value as mask_value  # re-exported: core.access.mask_value

FieldView = Literal["shown", "masked", "hidden"]

FIELDS: tuple[str, ...] = (
    "name", "id_number", "sex", "birth_date", "birth_month", "phones", "registered_address",
    "residential_address", "property_address", "household_id", "relation_to_head", "ethnicity",
    "marital_status", "nationality", "deceased_on", "moved_out_on",
)
# Which fields are sensitive is said in one place, the field catalogue (config/fields.yaml).
SENSITIVE_FIELDS: frozenset[str] = frozenset(f for f in catalogue().sensitive_fields if not f.startswith("attributes."))


def is_sensitive(field: str) -> bool:
    """Whether the field catalogue marks ``field`` sensitive (an unlisted attribute: by its key).

    >>> is_sensitive("attributes.assistance"), is_sensitive("name")
    (True, False)"""
    return catalogue().is_sensitive(field)


def visibility(principal: Principal, field: str, *, unmask: Collection[str] = (),
               grants: Mapping[str, Grant] | None = None) -> FieldView:
    """How ``field`` is shown to ``principal`` when it asked to unmask ``unmask``."""
    if principal.role == "department_reader":
        grant = (grants or {}).get(principal.department or "")
        if grant is None or not grant.allows(field):
            return "hidden"
        return "shown" if not is_sensitive(field) or grant.in_clear(field) else "masked"
    if not can(principal, "read_profile"):
        return "hidden"
    if not is_sensitive(field):
        return "shown"
    return "shown" if can(principal, "unmask") and _asked(field, unmask) else "masked"


def _asked(field: str, unmask: Collection[str]) -> bool:
    return field in unmask or (field.startswith("attributes.") and "attributes" in unmask)


