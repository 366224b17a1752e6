"""Small text helpers shared by the parsers: width folding, blanks, Chinese numerals."""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime
from functools import cache

import opencc

# Values departments write into a cell when they mean "nothing here".
_BLANKS = frozenset({"", "-", "--", "—", "/", "\\", "无", "暂无", "空", "null", "none", "nan", "n/a", "#n/a", "未填"})

_CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
CN_NUMERAL_CHARS = "〇零一二两三四五六七八九十百"


def fold_width(text: str) -> str:
    """Full-width letters, digits and punctuation to their ordinary forms (NFKC), trimmed.

    >>> fold_width("１１０１０５　")
    '110105'
    """
    return unicodedata.normalize("NFKC", text).strip()


# NUL and the other C0/C1 controls (tab, line feed and carriage return stay: an address cell may
# hold a line break), lone surrogates, and the bidi embedding/override/isolate marks that can make
# a name read differently from what it holds.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def strip_unsafe(text: str) -> str:
    """``text`` without characters no field may hold (a NUL breaks PostgreSQL's text type).

    >>> strip_unsafe("王\x00芳\u202e")
    '王芳'
    """
    return _UNSAFE.sub("", text)


def has_unsafe(text: str) -> bool:
    """Whether :func:`strip_unsafe` would change ``text``."""
    return _UNSAFE.search(text) is not None


def as_text(value: object) -> str | None:
    """A payload cell as trimmed text, or ``None`` when it is blank.

    Spreadsheet numbers read as floats (``13800138000.0``) come back without the ``.0``.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = fold_width(str(value))
    if text.casefold() in _BLANKS:
        return None
    return text


@cache
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → simplified characters with OpenCC ``t2s``.

    >>> to_simplified("陳志瑋")
    '陈志玮'
    """
    converted: str = _t2s().convert(text)
    return converted


def cn_numeral_to_int(text: str) -> int | None:
    """A small Chinese numeral (0–999) to an int: 三 → 3, 十二 → 12, 二十 → 20, 一九八五 → 1985.

    Digit-by-digit numerals (years such as 一九八五) are read as positional digits.
    Returns ``None`` for text that is not such a numeral.
    """
    if not text or any(ch not in CN_NUMERAL_CHARS for ch in text):
        return None
    if "十" not in text and "百" not in text:
        return int("".join(str(_CN_DIGITS[ch]) for ch in text))
    total, current = 0, 0
    for ch in text:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
    return total + current


_ARABIC_OR_CN = re.compile(rf"^(?:\d+|[{CN_NUMERAL_CHARS}]+)$")


def arabic(text: str) -> str:
    """A house, building or unit number as Arabic digits when it is a plain numeral.

    >>> arabic("三"), arabic("12"), arabic("A")
    ('3', '12', 'A')
    """
    if _ARABIC_OR_CN.match(text):
        if text.isdigit():
            return str(int(text))
        number = cn_numeral_to_int(text)
        if number is not None:
            return str(number)
    return text
