"""Masked forms of single values: an ID number, a phone number, a name, any sensitive field.

One function per kind, used by every reader (API, console, exports, messages), so a value is
masked the same way wherever it is shown.
"""

from __future__ import annotations

import re

__all__ = ["mask_id_number", "mask_name", "mask_phone", "mask_value"]

_NOT_DIGIT = re.compile(r"[^0-9０-９]")


def mask_id_number(value: str) -> str:
    """Mask an ID number for display: the division code and the last four stay.

    >>> mask_id_number("11010519850307002X")
    '110105********002X'
    >>> mask_id_number("110105850307002")
    '110105*****7002'

    Short strings (a mistyped or partial number) keep at most their last two characters.
    """
    compact = "".join(value.split())
    if len(compact) >= 14:
        return compact[:6] + "*" * (len(compact) - 10) + compact[-4:]
    if len(compact) >= 6:
        return "*" * (len(compact) - 2) + compact[-2:]
    return "*" * len(compact)


def mask_phone(text: str) -> str:
    """A phone number with the middle hidden: ``13800138000`` and ``+86 138 0013 8000`` →
    ``138****8000``; a short (local) number keeps its last two digits.

    >>> mask_phone("+8613800138000"), mask_phone("84561234")
    ('138****8000', '******34')
    """
    digits = _NOT_DIGIT.sub("", text)
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if len(digits) >= 11:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    if len(digits) > 2:
        return "*" * (len(digits) - 2) + digits[-2:]
    return "*" * len(digits)


def mask_name(name: str) -> str:
    """The first character of a name: ``张三丰`` → ``张**``.

    >>> mask_name("张三丰")
    '张**'
    """
    name = name.strip()
    return name[:1] + "*" * max(len(name) - 1, 0) if len(name) > 1 else "*" * len(name)


def mask_value(field: str, value: str) -> str:
    """The masked form of one value of ``field``: ``110105********002X``, ``139****0000``, ``***``."""
    if field == "id_number":
        return mask_id_number(value)
    if field == "phones":
        return mask_phone(value)
    return "***"
