"""A steward's answer to a held pull (批量注销确认): the ends the mass-change guard kept back.

A pull that would have ended too much of a source, or met a changed header or encoding, ended
nothing and left a pending hold (``connectors.end_guard``, ``store.pull_holds``). Here a steward
lists them and decides: *accept* sends the held ends now, through the same loop and sink a pull
uses, as a connector run with its own counts; *reject* ends nothing and the records stay as they
were. Both are audited here, whichever entry point asked: the API, the console or the CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.access import Principal, require
from services.ports import Auditor
from store.pull_holds import HeldRecord, PullHold, PullHolds

__all__ = ["EndSender", "HoldDecided", "HoldDecision", "PullHoldService", "UnknownHold"]

EndSender = Callable[[str, Sequence[HeldRecord], str], int]
"""(source, held records, note) → how many ends reached the raw topic (only those still live and
unseen since the hold). Raises when the broker does not acknowledge them."""

PURPOSE = "批量注销确认"


class UnknownHold(LookupError):
    """No hold has this id."""


class HoldDecided(RuntimeError):
    """The hold is no longer pending: accepted, rejected or superseded before."""


@dataclass(frozen=True)
class HoldDecision:
    hold: PullHold
    ended: int  # end events sent (0 on reject)


class PullHoldService:
    def __init__(self, holds: PullHolds, send_ends: EndSender, audit: Auditor) -> None:
        self.holds = holds
        self.send_ends = send_ends
        self.audit = audit

    def pending(self, principal: Principal, *, source: str | None = None) -> list[PullHold]:
        """Holds awaiting a steward, newest first (counts and reasons; no record values)."""
        require(principal, "confirm_ends")
        return self.holds.holds(status="pending", source=source)

    def recent(self, principal: Principal, *, limit: int = 20) -> list[PullHold]:
        """The latest holds whatever their status: what was decided, by whom."""
        require(principal, "confirm_ends")
        return self.holds.holds(status=None, limit=limit)

    def accept(self, principal: Principal, hold_id: str, note: str = "") -> HoldDecision:
        """The records are really gone: send their ends now (once), close the hold, audit."""
        hold = self._pending(principal, hold_id)
        # Claimed first, so that two stewards accepting at once send the ends once; reopened if
        # the broker did not take them (what it did take is remembered: a retry sends no twice).
        if not self.holds.decide(hold_id, "accepted", by=principal.username, note=note):
            raise HoldDecided(f"hold {hold_id} was decided meanwhile")
        try:
            ended = self.send_ends(hold.source, self.holds.records(hold_id),
                                   f"hold {hold_id} accepted by {principal.username}")
        except BaseException:
            self.holds.reopen(hold_id)
            raise
        self.holds.record_ended(hold_id, ended)
        self._audit(principal, "accept_pull_hold", hold, ended)
        return HoldDecision(self._get(hold_id), ended)

    def reject(self, principal: Principal, hold_id: str, note: str = "") -> HoldDecision:
        """A mistake at the source (an emptied table, a mis-exported file): end nothing, audit."""
        hold = self._pending(principal, hold_id)
        if not self.holds.decide(hold_id, "rejected", by=principal.username, note=note):
            raise HoldDecided(f"hold {hold_id} was decided meanwhile")
        self._audit(principal, "reject_pull_hold", hold, 0)
        return HoldDecision(self._get(hold_id), 0)

    # -- helpers ---------------------------------------------------------------------------------
    def _pending(self, principal: Principal, hold_id: str) -> PullHold:
        require(principal, "confirm_ends")
        hold = self._get(hold_id)
        if hold.status != "pending":
            raise HoldDecided(f"hold {hold_id} is already {hold.status}")
        return hold

    def _get(self, hold_id: str) -> PullHold:
        hold = self.holds.get(hold_id)
        if hold is None:
            raise UnknownHold(f"no held pull {hold_id}")
        return hold

    def _audit(self, principal: Principal, action: str, hold: PullHold, ended: int) -> None:
        self.audit.append(principal, action, PURPOSE, [],
                          [f"hold={hold.hold_id}", f"source={hold.source}", f"held={hold.to_end}", f"ended={ended}"])
