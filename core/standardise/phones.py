"""Phone numbers (联系电话) to E.164 with ``phonenumbers``, default region CN.

Mobiles, landlines with area codes (025-84561234, (025)84561234), local landlines given a
default area code, +86/0086 prefixes and full-width digits are read. A number that cannot be
made valid is a *warning*, never an error: a bad phone must not stop a resident's record.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import phonenumbers

from core.privacy import mask_phone
from core.standardise._text import as_text

__all__ = ["PhoneParse", "mask_phone", "parse_phone", "parse_phones"]

_SPLIT = re.compile(r"[,，;；/、|\n]|\s{2,}|或")
_EXTENSION = re.compile(r"(?:转|分机|ext\.?|x)\s*\d{1,6}$", re.IGNORECASE)
_KEEP = re.compile(r"[^\d+]")
_FLOAT_TAIL = re.compile(r"\.0+$")  # a number that went through a spreadsheet float


@dataclass(frozen=True)
class PhoneParse:
    numbers: tuple[str, ...]  # E.164, unique, in the order written
    warnings: tuple[str, ...] = ()


def _area(default_area_code: str | None) -> str | None:
    if not default_area_code:
        return None
    digits = re.sub(r"\D", "", default_area_code).lstrip("0")
    return digits or None


@functools.lru_cache(maxsize=65536)
def parse_phone(raw: str, *, default_area_code: str | None = None) -> str | None:
    """One number as E.164, or ``None`` when it is not a valid Chinese (or + prefixed) number.

    >>> parse_phone("（０２５）８４５６１２３４"), parse_phone("84561234", default_area_code="025")
    ('+862584561234', '+862584561234')
    """
    text = _EXTENSION.sub("", _FLOAT_TAIL.sub("", raw.strip()))
    digits = _KEEP.sub("", text)
    if not digits:
        return None
    area = _area(default_area_code)
    if area and digits.isdigit() and 7 <= len(digits) <= 8 and digits[0] not in "01":
        digits = f"0{area}{digits}"
    try:
        number = phonenumbers.parse(digits, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _chunks(text: str) -> list[str]:
    chunks: list[str] = []
    for part in _SPLIT.split(text):
        part = part.strip()
        if not part:
            continue
        pieces = part.split()
        # "13800138000 13900139000": two numbers; "025 84561234" or "+86 138 0013 8000": one.
        if len(pieces) > 1 and all(len(_KEEP.sub("", p)) >= 7 for p in pieces):
            chunks.extend(pieces)
        else:
            chunks.append(part)
    return chunks


def parse_phones(*values: object, default_area_code: str | None = None) -> PhoneParse:
    """All phone numbers in one or more cells (a cell may hold several: "138…/025-…").

    >>> parse_phones("13800138000、025-84561234", "无").numbers
    ('+8613800138000', '+862584561234')
    """
    numbers: list[str] = []
    warnings: list[str] = []
    for value in values:
        text = as_text(value)
        if text is None:
            continue
        for chunk in _chunks(text):
            e164 = parse_phone(chunk, default_area_code=default_area_code)
            if e164 is None:
                warnings.append(f"phone_invalid: {mask_phone(chunk) or 'no digits'} is not a valid phone number")
            elif e164 not in numbers:
                numbers.append(e164)
    return PhoneParse(numbers=tuple(numbers), warnings=tuple(warnings))
