"""Domain errors of the resolver. Messages name profiles, reviews and record keys only."""

from __future__ import annotations


class ResolutionError(ValueError):
    """Base of the resolver's errors: an input it cannot turn into events."""


class InconsistentState(ResolutionError):
    """The resolver's view contradicts itself (a record linked to a profile that lacks it)."""


class UnknownReview(ResolutionError):
    """A steward decision about a review that no profile has pending."""


class CommandRefused(ResolutionError):
    """A steward command that does not fit the profiles as they stand (the reason says why)."""
