"""What a connector's reader yields: a native row with its location, or a row it could not read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NativeRow:
    location: str  # file + line, page + index, table + key
    values: dict[str, Any]


@dataclass(frozen=True)
class UnreadableRow:
    location: str
    reason: str
