"""Masking of ID numbers in text: no raw ID number may leave the core in a message."""

from __future__ import annotations

import re

# A run of 10+ digits (ASCII or full-width), optionally split by spaces or hyphens and ending in
# an X: anything that might be an ID number, a legacy one, or one typed with separators.
_ID_LIKE = re.compile(r"[0-9０-９](?:[ \-－]?[0-9０-９]){9,}(?:[ \-－]?[xXｘＸ])?")


def mask_id_number(value: str) -> str:
    """Mask an ID number for display: the division code and the last four stay.

    >>> mask_id_number("11010519850307002X")
    '110105********002X'
    >>> mask_id_number("110105850307002")
    '110105*****7002'

    Short strings keep at most their last two characters.
    """
    compact = "".join(value.split())
    if len(compact) >= 14:
        return compact[:6] + "*" * (len(compact) - 10) + compact[-4:]
    if len(compact) >= 6:
        return "*" * (len(compact) - 2) + compact[-2:]
    return "*" * len(compact)


def mask_id_numbers_in_text(text: str) -> str:
    """Mask every run of characters in ``text`` that could be an ID number."""
    return _ID_LIKE.sub(lambda m: mask_id_number(re.sub(r"[ \-－]", "", m.group(0))), text)
