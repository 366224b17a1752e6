"""Where a resident lives (居住地): the gazetteer (标准地址库) and each profile's community and grid.

Pure. A dwelling's address gives *place keys* (compound + building, compound, road + number +
building, road + number); *facts* say which community (社区) and grid (网格) a place key belongs
to, from the grid-management centre's standard-address file, from records that name their
community, or from a steward's correction; :func:`assign` turns the facts of one key into its
assignment, and :func:`derive_place` gives a profile its community and grid from its own
addresses (residential first, then property, then registered).
"""

from core.places.assign import Assignment, PlaceFact, PlaceOrigin, assign, assign_counted
from core.places.derive import PlaceCandidate, ProfilePlace, candidates, decisive_keys, derive_place, record_facts
from core.places.keys import place_keys

__all__ = [
    "Assignment",
    "PlaceCandidate",
    "PlaceFact",
    "PlaceOrigin",
    "ProfilePlace",
    "assign",
    "assign_counted",
    "candidates",
    "decisive_keys",
    "derive_place",
    "place_keys",
    "record_facts",
]
