"""Privacy (个人信息保护): the only keyed hashes, masks and redactor of the hub.

Keyed hashes stand in for ID numbers in keys and indexes (:mod:`core.privacy.hashing`); masks show
one value partly (:mod:`core.privacy.masking`); the redactor takes ID numbers in any spelling,
phone numbers and sensitive facts out of free text (:mod:`core.privacy.redaction`). Every output
path (API, console, dead letters, exceptions, logs, workbooks, audit purposes) calls these, never
a copy of its own.
"""

from __future__ import annotations

from core.privacy.hashing import keyed_hash, short_keyed_hasher
from core.privacy.masking import mask_id_number, mask_name, mask_phone, mask_value
from core.privacy.redaction import Redactor, default_redactor, redact, redact_purpose, redact_row

# The name this function had when it only masked runs of 15–18 digits; it is the redactor now.
redact_id_numbers = redact

__all__ = [
    "Redactor",
    "default_redactor",
    "keyed_hash",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "mask_value",
    "redact",
    "redact_id_numbers",
    "redact_purpose",
    "redact_row",
    "short_keyed_hasher",
]
