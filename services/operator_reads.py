"""Reads of resident data made from the command line, audited like the query service's: who ran
it (the operator's name), why, which residents, which fields. ``onceonly export`` is here;
``onceonly plan`` is ``services.planning.PlanningService.operator_plan`` (a refused plan, an
unknown form or profile ids that lead nowhere, leaves a refusal entry there).
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from core.access import Principal, Role, Scope, scope_of
from core.privacy import redact_purpose

EXPORT_PURPOSE = "导出记录归属（命令行）"  # record → profile → community links, for scoring a labelled set


class Auditor(Protocol):
    def append(self, principal: Principal, action: str, purpose: str, residents: Sequence[str],
               fields: Sequence[str]) -> object: ...


def operator(name: str | None = None, *, role: Role = "steward") -> Principal:
    """The person at the terminal, as the audit log names them: ``--steward`` or the OS account (a
    steward, or the admin for account commands: who can run the CLI can write the store anyway)."""
    who = (name or "").strip() or _os_user()
    return Principal(user_id=f"cli:{who}", username=who, role=role)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's anonymous uid)
        return "unknown"


Link = tuple[str, str, str, str | None, str | None]  # source, record id, profile id, community, grid


def export_links_audited(audit: Auditor, principal: Principal, links: Callable[[Scope], Iterable[Link]],
                         write: Callable[[Link], None], *, purpose: str = EXPORT_PURPOSE) -> int:
    """Write every link of a resident in the principal's scope (``core.access.scope_of``: ``links``
    filters by it in SQL, and each link is asked again here) and append one ``export_links`` entry
    naming every resident written (also when the writing stopped half-way: what was written was read)."""
    scope = scope_of(principal)
    residents: dict[str, None] = {}
    count = 0
    try:
        for link in links(scope):
            if not scope.admits(link[3], link[4]):
                continue
            write(link)
            residents[link[2]] = None
            count += 1
    finally:
        audit.append(principal, "export_links", redact_purpose(purpose)[:200], list(residents),
                     ["source", "record_id", "profile_id", "community", "grid"])
    return count
