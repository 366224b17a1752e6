"""A door check (入户核实): a community visit on which the worker verified at the door where the
resident lives.

The community mapping reads 核实方式 入户核实 as ``attributes.verification: at_door`` and 走访日期 as
``attributes.visited_on`` and as the record's ``seen_on`` (the day the worker was at the door). The
rule a door check takes part in (the latest check outranks the older records placing the resident
elsewhere; a register that changes its row after it wins again) is applied over a profile's place
candidates (``core.places.derive``, the 住址有冲突 flag) and over its residential address values
(``core.profile.survivorship``); the collection planner asks for these fields (``core.planner``).
All of them read what a door check is, and what news a record carries, here.

Pure, and importing only the record schema: ``core.places`` imports ``core.profile``, and both
import this module.
"""

from __future__ import annotations

from datetime import date
from typing import TypeVar

from schemas.resident import ResidentRecord

__all__ = ["AT_DOOR", "SETTLED_FIELD", "VERIFICATION_FIELD", "VISITED_ON_FIELD", "checked_on", "is_door_check",
           "latest_news"]

AT_DOOR = "at_door"  # the value of attributes.verification on a visit verified at the door (入户核实)
_VERIFICATION = "verification"  # the attribute key
VERIFICATION_FIELD = f"attributes.{_VERIFICATION}"  # 核实方式
VISITED_ON_FIELD = "attributes.visited_on"  # 走访日期
# The only field a door check settles: the worker saw where the resident lives, nothing else.
SETTLED_FIELD = "residential_address"

Day = TypeVar("Day", date, str)  # a date, or an ISO day as stored place candidates write it


def is_door_check(record: ResidentRecord) -> bool:
    """Whether ``record`` is a visit on which the worker verified the address at the door (not by phone)."""
    return record.attributes.get(_VERIFICATION) == AT_DOOR


def checked_on(record: ResidentRecord) -> date | None:
    """The day of a door check; ``None`` for any other record, and for a check with no date (it
    settles nothing it could be compared with)."""
    return record.seen_on if is_door_check(record) else None


def latest_news(changed_on: Day | None, checked_on: Day | None) -> Day | None:
    """The latest dated news about where the resident lives: a register's change of its row
    (``changed_on``) or a door check (``checked_on``); ``None`` when neither is dated.

    >>> latest_news(date(2026, 3, 1), date(2026, 6, 20))
    datetime.date(2026, 6, 20)
    >>> latest_news("2026-03-01", None)
    '2026-03-01'
    """
    if changed_on is None or checked_on is None:
        return changed_on if checked_on is None else checked_on
    return max(changed_on, checked_on)
