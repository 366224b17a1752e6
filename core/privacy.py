"""Keeping raw ID numbers out of keys, logs and messages."""

from __future__ import annotations

import hashlib
import hmac
import re

# 18-digit (last may be X) or legacy 15-digit citizen ID numbers, also with full-width digits.
_ID_LIKE = re.compile(r"(?<![0-9０-９])[0-9０-９]{15}(?:[0-9０-９]{2}[0-9０-９XxＸｘ])?(?![0-9０-９XxＸｘ])")


def mask_id_number(value: str) -> str:
    """Keep the first 6 and last 4 characters: ``110105********002X``.

    >>> mask_id_number("11010519491231002X")
    '110105********002X'
    """
    value = value.strip()
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def redact_id_numbers(text: str) -> str:
    """Mask every run of 15–18 digits that could be an ID number inside free text."""
    return _ID_LIKE.sub(lambda m: mask_id_number(m.group(0)), text)


def keyed_hash(value: str, key: str) -> str:
    """HMAC-SHA256 of an ID number: stable, joinable, and useless without the key."""
    return hmac.new(key.encode("utf-8"), value.encode("utf-8"), hashlib.sha256).hexdigest()
