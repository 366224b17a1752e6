"""A steward's decisions (人工复核: confirm or reject a match; split a profile; undo a merge).

Each is a command the resolver turns into events under its lock (``ResolverState.handle_command``:
a command handled before makes none, a refused one raises :class:`core.resolution.ResolutionError`
and changes nothing). The events are published to profile-events at once when Kafka is
reachable, else the workers' outbox timer publishes them. The decision is audited here, whichever
entry point made it: the API, the console or the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from core.access import Principal, require
from schemas.profile_events import ConfirmMatch, ProfileEvent, RejectMatch, SplitProfile, StewardCommand, UndoMerge
from services.ports import Auditor, OutboxPublisher
from store.resolver_state import ResolverState

__all__ = ["Decided", "StewardingService"]

_ACTIONS: dict[type, str] = {ConfirmMatch: "confirm_review", RejectMatch: "reject_review",
                             SplitProfile: "split_profile", UndoMerge: "undo_merge"}


@dataclass(frozen=True)
class Decided:
    command: StewardCommand
    events: list[ProfileEvent]
    published: int | None  # events sent now; None: Kafka not reachable, the workers send them


class StewardingService:
    def __init__(self, resolver: ResolverState, publish: OutboxPublisher, audit: Auditor) -> None:
        self.resolver = resolver
        self.publish = publish
        self.audit = audit

    def confirm(self, principal: Principal, review_id: str, profile_id: str, note: str = "") -> Decided:
        """Link the reviewed record to the candidate ``profile_id`` (the link, and merge, events)."""
        return self.submit(principal, ConfirmMatch(steward=principal.username, issued_at=datetime.now(UTC),
                                                   review_id=review_id, profile_id=profile_id, note=note),
                           residents=[profile_id])

    def reject(self, principal: Principal, review_id: str, note: str = "") -> Decided:
        """The reviewed record is none of the candidates: it gets a profile of its own."""
        return self.submit(principal, RejectMatch(steward=principal.username, issued_at=datetime.now(UTC),
                                                  review_id=review_id, note=note))

    def submit(self, principal: Principal, command: StewardCommand, *, residents: Sequence[str] = ()) -> Decided:
        require(principal, "review")
        events = self.resolver.handle_command(command)
        published = self.publish(self.resolver.publish_outbox) if events else 0
        self.audit.append(principal, _ACTIONS[type(command)], "人工复核", list(residents), ["review"])
        return Decided(command, events, published)
