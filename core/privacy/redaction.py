"""The redactor: free text with ID numbers, phone numbers and sensitive facts taken out.

Every text that leaves the hub for a person or a log (API answers, console pages, dead letters,
exception messages, log lines, workbooks, audit purposes) goes through :func:`redact`. It finds

* **ID numbers in any spelling**: 15 or 18 digits, or 14–19 (one digit dropped or doubled), also
  split by spaces, hyphens, dots or slashes, in full-width digits, with a final X; a mistyped
  digit changes no length, so it is caught too. Shown as ``110105********002X``.
* **phone numbers**: mobiles (+86/0086 prefixes), landlines with area codes and 7–8 digit local
  numbers, with spaces, hyphens, dots or brackets (only the lengths a phone number has: a 9-digit
  household number is left alone). Shown as ``138****8000``. A date
  (``2024-01-05``, ``2024.01.05``, ``20240105``) is not a phone number.
* **catalogued sensitive fields**: the value after a label of a sensitive field (its Chinese
  label, its key, or a department's column name: ``救助类别：城市低保``, ``'发放金额': '1200'``,
  ``monthly_amount=1200``), an amount of money (``1200元``, ``¥1200``), and any text segment
  holding a sensitive term (低保, 残疾, a disease …; ``config/fields.yaml`` lists them).

It errs on the side of hiding: an 8-digit record number may be masked as a phone number.

>>> redact("身份证 １１０１０５ 1985-0307-002x，电话 138 0013 8000")
'身份证 110105********002X，电话 138****8000'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache

from core.privacy.masking import mask_id_number, mask_name, mask_phone, mask_value

__all__ = ["Redactor", "default_redactor", "redact", "redact_purpose", "redact_row"]

HIDDEN = "***"

# One character for one character, so a match in the folded text is the same span in the original.
_FOLD = str.maketrans({
    **{chr(0xFF10 + i): str(i) for i in range(10)},
    "Ｘ": "X", "ｘ": "x", "＋": "+", "－": "-", "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-",
    "−": "-", "\u3000": " ", "\u00a0": " ", "（": "(", "）": ")", "．": ".", "／": "/", "＿": "_",
})

# Digits joined by at most two separators: every way people split an ID number when they type it.
_ID_RUN = re.compile(r"[0-9](?:[ \t\-_./·()]{0,3}[0-9])*(?:[ \-]{0,3}[Xx](?![A-Za-z]))?")
# Phone numbers are split by spaces, hyphens, dots and brackets (not slashes, underscores: paths, codes).
_PHONE_RUN = re.compile(r"(?:\+|\(\+?)?[0-9](?:[ \-().]{0,3}[0-9])*")
# A date, alone or before an hour (``2026-12-07 09:30``): never 11 digits, so never a mobile.
_SPLIT_DATE = re.compile(r"\(?(?:18|19|20)[0-9]{2}([-.])[01]?[0-9]\1[0-3]?[0-9](?:[ ][0-9]{1,2})?")
_MONEY = re.compile(r"[¥￥][ ]?[0-9][0-9,]*(?:\.[0-9]+)?|[0-9][0-9,]*(?:\.[0-9]+)?[ ]?(?:元|万元)")
_DIGIT = re.compile(r"[0-9]")
_ANY_DIGIT = re.compile(r"[0-9\uff10-\uff19]")  # ASCII or full-width
_ANY_SEPARATOR = re.compile(r"[:=：]")  # a labelled value needs one
# Numbers that are phones even glued to letters (``tel13800138000``): a mobile, a landline with its area code.
_ALWAYS_PHONE = re.compile(r"1[3-9][0-9]{9}|0[1-9][0-9]{8,10}")
# What a Chinese phone number can be: a local number (7–8 digits), one with its area code (0 + 9–11),
# a mobile (11), a mobile after 86. A 9-digit household number is none of these.
_PHONE_LENGTH = re.compile(r"[0-9]{7,8}|0[0-9]{9,11}|1[0-9]{10}|86[0-9]{11}")
# What ends a labelled value or a segment of free text.
_VALUE_END = "\n\r\t,，;；'\"}|"
_SEGMENT_END = " \n\r\t,，;；、|'\"{}[\\]()（）:：=。！？!?/"

ID_MIN_DIGITS = 14  # one digit short of a legacy number; 15 and 18 are the real lengths


def _is_date(digits: str) -> bool:
    """A date written ``YYYYMMDD``, also one with a typo in it (``19221620``, month 16): the
    standardiser's warnings show an unreadable date as it was written."""
    return len(digits) == 8 and "1850" <= digits[:4] <= "2099" and digits[4] in "01" and digits[6] in "0123"


def _letter_beside(folded: str, start: int, end: int) -> bool:
    before = folded[start - 1] if start > 0 else ""
    after = folded[end] if end < len(folded) else ""
    return bool(re.match(r"[A-Za-z_]", before) or re.match(r"[A-Za-z_]", after))


@dataclass(frozen=True)
class Redactor:
    """``labels``: words after which a value is sensitive (field labels, keys, department columns);
    ``terms``: words that make the segment of text holding them sensitive."""

    labels: frozenset[str] = frozenset()
    terms: frozenset[str] = frozenset()
    _labelled: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)
    _termed: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)
    _lowered_terms: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.labels:
            words = "|".join(re.escape(w) for w in sorted(self.labels, key=len, reverse=True))
            # A Latin key must stand alone (``assistance=``, not ``noassistance``); a Chinese label may not.
            object.__setattr__(self, "_labelled", re.compile(
                rf"(?<![A-Za-z0-9_])(?:{words})['\"]?\s*[:=：]\s*['\"]?(?P<value>[^{re.escape(_VALUE_END)}]*)"))
        if self.terms:
            # The term alone: the segment around it is found by scanning to its ends, which is linear
            # (a pattern ``[^end]*term[^end]*`` tries every start in a long segment: quadratic).
            words = "|".join(re.escape(w) for w in sorted(self.terms, key=len, reverse=True))
            object.__setattr__(self, "_termed", re.compile(rf"(?:{words})", re.IGNORECASE))
            object.__setattr__(self, "_lowered_terms", tuple(sorted({w.lower() for w in self.terms})))

    def redact(self, text: str, *, terms: bool = True) -> str:
        """``text`` with every ID number, phone number, amount and sensitive value hidden; with
        ``terms=False`` a sensitive term itself stays (an audit purpose: 低保资格复核)."""
        if not text:
            return text
        if _ANY_DIGIT.search(text):  # most text the hub writes has none: skip what needs digits
            text = self._numbers(text)
            text = _replace(text, [(m.start(), m.end(), HIDDEN) for m in _MONEY.finditer(text.translate(_FOLD))])
        if self._labelled is not None and _ANY_SEPARATOR.search(text):
            text = self._labelled.sub(_hide_value, text)
        if self._termed is not None and terms and self._holds_term(text):
            text = self._hide_segments(text)
        return text

    def _holds_term(self, text: str) -> bool:
        # Substring tests run in C: far cheaper than the regex on text holding no term (most text).
        lowered = text.lower()
        return any(term in lowered for term in self._lowered_terms)

    def _hide_segments(self, text: str) -> str:
        """Each segment of ``text`` (between two of ``_SEGMENT_END``) holding a sensitive term is
        hidden, unless it is a label (救助类别 names a sensitive field and tells nothing about anyone)."""
        assert self._termed is not None
        spans: list[tuple[int, int, str]] = []
        for match in self._termed.finditer(text):
            if spans and match.start() < spans[-1][1]:
                continue  # in the segment already hidden
            start, end = match.start(), match.end()
            while start > 0 and text[start - 1] not in _SEGMENT_END:
                start -= 1
            while end < len(text) and text[end] not in _SEGMENT_END:
                end += 1
            if text[start:end] not in self.labels:
                spans.append((start, end, HIDDEN))
        return _replace(text, spans) if spans else text

    def _numbers(self, text: str) -> str:
        folded = text.translate(_FOLD)
        spans: list[tuple[int, int, str]] = []
        for match in _ID_RUN.finditer(folded):
            digits = "".join(_DIGIT.findall(match.group(0)))
            if len(digits) >= ID_MIN_DIGITS:
                tail = "X" if match.group(0)[-1] in "Xx" else ""
                spans.append((match.start(), match.end(), mask_id_number(digits + tail)))
        folded, text = _replace(folded, spans), _replace(text, spans)
        spans = []
        for match in _PHONE_RUN.finditer(folded):
            run = match.group(0)
            digits = "".join(_DIGIT.findall(run))
            if not _PHONE_LENGTH.fullmatch(digits) or _SPLIT_DATE.fullmatch(run) or _is_date(digits):
                continue
            if _letter_beside(folded, match.start(), match.end()) and not _ALWAYS_PHONE.fullmatch(digits.removeprefix("86")):
                continue  # part of a code or a hash (``row_1234567``, ``a1234567f``), not a number typed alone
            spans.append((match.start(), match.end(), mask_phone(digits)))
        return _replace(text, spans)

    def row(self, row: Mapping[str, object], columns: Mapping[str, str]) -> dict[str, str]:
        """A source row as a steward may see it: ``columns`` (native column → canonical field) tells
        which values are an ID number, a phone, a name or a sensitive field (masked whole);
        every other value, and every column name, is redacted as free text."""
        from core.access.catalogue import catalogue

        shown: dict[str, str] = {}
        for column, value in row.items():
            if value is None:
                continue
            text, name = str(value), self.redact(str(column))
            target = columns.get(str(column))
            if target is None:
                shown[name] = self.redact(text)
            elif target == "name":
                shown[name] = mask_name(text)
            elif target == "id_number" or target.startswith("other_ids"):
                shown[name] = mask_id_number(text)
            elif target == "phones":
                shown[name] = "、".join(mask_phone(p) for p in re.split(r"[,，;；/、]", text) if p.strip())
            elif catalogue().is_sensitive(target):
                shown[name] = mask_value(target, text) if text.strip() else text
            else:
                shown[name] = self.redact(text)
        return shown


def _hide_value(match: re.Match[str]) -> str:
    value = match.group("value")
    if not value.strip():
        return match.group(0)
    start = match.start("value") - match.start(0)
    return match.group(0)[:start] + HIDDEN


def _replace(text: str, spans: Iterable[tuple[int, int, str]]) -> str:
    out, last = [], 0
    for start, end, shown in spans:
        out += [text[last:start], shown]
        last = end
    out.append(text[last:])
    return "".join(out)


@cache
def default_redactor() -> Redactor:
    """The redactor of the shipped field catalogue (``config/fields.yaml`` and ``mappings/``)."""
    from core.access.catalogue import catalogue

    c = catalogue()
    labels: set[str] = set()
    for key in c.sensitive_fields:
        labels |= {c.label(key), key, key.removeprefix("attributes.")}
    for columns in c.columns.values():
        labels |= {column for column, target in columns.items() if c.is_sensitive(target)}
    return Redactor(labels=frozenset(w for w in labels if len(w) >= 2), terms=frozenset(c.sensitive_terms))


def redact(text: str) -> str:
    """:meth:`Redactor.redact` with the shipped catalogue: the one redactor every output path uses."""
    return default_redactor().redact(text)


def redact_purpose(purpose: str) -> str:
    """An audit entry's purpose: numbers, labelled values and amounts hidden, but the purpose kept
    readable (it names a programme or a task, 低保资格复核, which an auditor must read)."""
    return default_redactor().redact(purpose, terms=False)


def redact_row(row: Mapping[str, object], source: str) -> dict[str, str]:
    """A department's source row (a dead letter's) with its columns masked by what they map to."""
    from core.access.catalogue import catalogue

    return default_redactor().row(row, catalogue().columns.get(source, {}))
