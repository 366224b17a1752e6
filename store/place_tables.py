"""The gazetteer (标准地址库) in the store: facts per place key, each key's assignment, and the
place keys each profile is located by. A projection of the places topic (the grid centre's
standard addresses, stewards' corrections) and of profile-events (records that name their
community): replay rebuilds it."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, Text, true

from store.tables import metadata

# "place key → community (grid)", one row per statement: a standard-address row, a record that
# names its community, or a steward's correction (source "steward", record id "").
place_facts = Table(
    "place_facts",
    metadata,
    Column("place_key", String(200), primary_key=True),
    Column("source", String(64), primary_key=True),
    Column("record_id", String(200), primary_key=True),
    Column("origin", String(32), nullable=False),
    Column("community", String(100), nullable=False),
    Column("grid", String(100)),
)
Index("ix_place_facts_record", place_facts.c.source, place_facts.c.record_id)

# The assignment of each key (core.places.assign over its facts), and whether its facts disagree.
places = Table(
    "places",
    metadata,
    Column("place_key", String(200), primary_key=True),
    Column("community", String(100), nullable=False),
    Column("grid", String(100)),
    Column("origin", String(32), nullable=False),
    Column("disagreement", Boolean, nullable=False, default=False),
    Column("facts", Integer, nullable=False, default=0),
)
Index("ix_places_community", places.c.community)

# Which keys locate which profile (to re-derive the profiles a changed key touches), and the
# profile's place candidates in order (core.places.PlaceCandidate as JSON). ``decisive``: the key
# decides one of the profile's candidates, or is more specific than the key that does
# (core.places.decisive_keys); a move of any other key of the profile cannot change its place
# unless a steward's correction lands on that key.
profile_places = Table(
    "profile_places",
    metadata,
    Column("profile_id", String(64), primary_key=True),
    Column("candidates", Text, nullable=False),
)
profile_place_keys = Table(
    "profile_place_keys",
    metadata,
    Column("place_key", String(200), primary_key=True),
    Column("profile_id", String(64), primary_key=True),
    Column("decisive", Boolean, nullable=False, default=True, server_default=true()),
)
Index("ix_profile_place_keys_profile", profile_place_keys.c.profile_id)
