"""The resident profile (居民画像): the pure fold of profile events, survivorship and households.

``apply``/``replay``/``as_of`` fold events into :class:`Profile`; ``survive`` picks each field's
surviving value by the rules in ``survivorship.yaml``; ``merge``/``split``/``undo_merge`` build the
paired events of a decision; ``checksum`` proves a rebuilt store equals the log's fold.
"""

from __future__ import annotations

from core.profile.decide import life_events, merge, new_profile_id, split, undo_merge
from core.profile.errors import (
    ProfileError,
    ProfileIsMerged,
    UnknownEvent,
    UnknownProfile,
    UnknownRecord,
    VersionGap,
    WrongProfile,
)
from core.profile.fold import apply, apply_all, as_of, checksum, follow, replay
from core.profile.households import household_members
from core.profile.model import Golden, GoldenFields, HistoryEntry, Observation, Profile, Provenance
from core.profile.survivorship import FieldRule, SurvivorshipRules, default_rules, load_rules, survive

__all__ = [
    "FieldRule",
    "Golden",
    "GoldenFields",
    "HistoryEntry",
    "Observation",
    "Profile",
    "ProfileError",
    "ProfileIsMerged",
    "Provenance",
    "SurvivorshipRules",
    "UnknownEvent",
    "UnknownProfile",
    "UnknownRecord",
    "VersionGap",
    "WrongProfile",
    "apply",
    "apply_all",
    "as_of",
    "checksum",
    "default_rules",
    "follow",
    "household_members",
    "life_events",
    "load_rules",
    "merge",
    "new_profile_id",
    "replay",
    "split",
    "survive",
    "undo_merge",
]
