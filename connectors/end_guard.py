"""The mass-change guard (批量注销保护): when a pull may end records on its own, and when a steward decides.

An emptied department table, a ledger re-exported with one renamed column, or a file in another
encoding all look, to the pull loop, like every record of the source disappearing. So a pull that
would end more than ``max_end_share`` of the source's live records, or that met a changed header
or encoding, ends nothing: it holds those ends for a steward to accept or reject.

Pure: no broker, no database. The pull loop counts, this decides.

Example::

    >>> hold_reasons(live=30, vanishing=30, max_share=0.05)
    ('would end 30 of 30 live records (100.0 %), over the 5.0 % allowed',)
    >>> hold_reasons(live=30, vanishing=1, max_share=0.05)
    ()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.privacy import Redactor, redact

DEFAULT_MAX_END_SHARE = 0.05


def hold_reasons(*, live: int, vanishing: int, max_share: float, shape_changes: Sequence[str] = ()) -> tuple[str, ...]:
    """Why the ``vanishing`` records of a source with ``live`` records must not end without a
    steward; empty when they may end now. Nothing to end is never held."""
    if vanishing <= 0:
        return ()
    reasons: list[str] = []
    share = vanishing / live if live > 0 else 1.0
    if share > max_share:
        reasons.append(f"would end {vanishing} of {live} live records ({share * 100:.1f} %), "
                       f"over the {max_share * 100:.1f} % allowed")
    reasons.extend(shape_changes)
    return tuple(reasons)


@dataclass(frozen=True)
class FileShape:
    """What a ledger file looked like: its header and the encoding its bytes were in (``None``:
    nothing to tell, e.g. plain ASCII or a workbook)."""

    columns: tuple[str, ...]
    encoding: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"columns": list(self.columns), "encoding": self.encoding}

    @classmethod
    def from_json(cls, saved: Any) -> FileShape | None:
        if not isinstance(saved, Mapping) or not isinstance(saved.get("columns"), list):
            return None
        encoding = saved.get("encoding")
        return cls(tuple(str(c) for c in saved["columns"]), str(encoding) if encoding else None)


def shape_changes(name: str, before: FileShape | None, now: FileShape) -> list[str]:
    """How ``now`` differs from what the source's previous run saw: columns gone (removed or renamed)
    or another encoding. New columns are no change: they end nothing.

    The words are shown to stewards and logged: a "header" may be a data row (an export without
    one), so new column names are listed only when none holds what the redactor hides, and ID or
    phone numbers in a file name or an old column name are masked."""
    if before is None:
        return []
    numbers = _NUMBERS_ONLY.redact
    file = numbers(name)
    changes: list[str] = []
    gone = [numbers(c) for c in before.columns if c and c not in now.columns]
    if gone:
        added = [c for c in now.columns if c and c not in before.columns]
        looks_like_data = any(redact(c) != c or len(c) > 30 for c in added)
        changes.append(f"{file}: header changed: column(s) {', '.join(gone)} missing"
                       + (" (its first line does not look like a header)" if looks_like_data
                          else f" (new: {', '.join(added)})" if added else ""))
    if before.encoding and now.encoding and before.encoding != now.encoding:
        changes.append(f"{file}: encoding changed from {before.encoding} to {now.encoding}")
    return changes


# File and column names are not about residents: only numbers that look like an ID or a phone are hidden.
_NUMBERS_ONLY = Redactor()
