"""Domain errors of the profile fold. Messages name profiles, versions and record keys only."""

from __future__ import annotations


class ProfileError(ValueError):
    """Base of the profile fold's errors: an event that cannot apply to the profile's state."""


class UnknownProfile(ProfileError):
    """An event for a profile that has no events yet, and that cannot open one."""


class WrongProfile(ProfileError):
    """An event of another profile's stream."""


class VersionGap(ProfileError):
    """An event that skips versions: earlier events of the stream are missing."""


class UnknownRecord(ProfileError):
    """An update or end of a record that is not linked to the profile."""


class ProfileIsMerged(ProfileError):
    """An event for a merged-away profile other than the split that restores it."""


class UnknownEvent(ProfileError):
    """An event type the fold has no rule for."""
