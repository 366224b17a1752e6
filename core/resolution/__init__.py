"""Resolution (归并): standardised record versions and steward commands into profile events.

Pure: the matcher (``core.matching``) decides where a record belongs, the profile fold
(``core.profile``) gives versions and builds merge/split pairs, and a read-only
:class:`ResolverView` supplies the resolver's own state. ``store.resolver_state`` keeps that state
in SQL and ``streams.resolve`` runs it on the ``records`` topic.

Typical use::

    events = resolve(item, view, matcher)            # an item of the records topic
    events = confirm_review(command, view)           # a steward's decision
"""

from __future__ import annotations

from core.resolution.errors import CommandRefused, InconsistentState, ResolutionError, UnknownReview
from core.resolution.memory import Backing, LinkRow, ResolverChanges, ResolverMemory
from core.resolution.resolve import Emitter, active_profile, resolve, resolve_folded, review_id_for
from core.resolution.steward import command_events, confirm_review, reject_review, split_profile, undo_merge
from core.resolution.view import CandidateRecord, ProfileState, RecordLink, ResolverView

__all__ = [
    "Backing",
    "CandidateRecord",
    "CommandRefused",
    "Emitter",
    "InconsistentState",
    "LinkRow",
    "ProfileState",
    "RecordLink",
    "ResolutionError",
    "ResolverChanges",
    "ResolverMemory",
    "ResolverView",
    "UnknownReview",
    "active_profile",
    "command_events",
    "confirm_review",
    "reject_review",
    "resolve",
    "resolve_folded",
    "review_id_for",
    "split_profile",
    "undo_merge",
]
