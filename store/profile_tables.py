"""The profile store: a projection of the profile-events topic, rebuildable by replay."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Date, DateTime, Index, Integer, String, Table, Text

from store.tables import metadata

# One row per profile: the folded document plus the columns readers search and scope by.
profiles = Table(
    "profiles",
    metadata,
    Column("profile_id", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("status", String(100), nullable=False),
    Column("merged_into", String(64)),
    Column("name", String(200)),
    Column("name_key", String(200)),  # pinyin / Latin comparison key, for search
    Column("birth_date", Date),
    Column("id_hash", String(64)),  # keyed hash of the surviving ID number, never the number
    Column("household_id", String(64)),
    Column("community", String(100)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("doc", JSON, nullable=False),
)
Index("ix_profiles_name", profiles.c.name)
Index("ix_profiles_name_key", profiles.c.name_key)
Index("ix_profiles_id_hash", profiles.c.id_hash)
Index("ix_profiles_household", profiles.c.household_id)
Index("ix_profiles_community", profiles.c.community)

# The log as the store saw it, for history and time travel (as of a given time).
profile_event_log = Table(
    "profile_event_log",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("profile_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("type", String(64), nullable=False),
    Column("payload", Text, nullable=False),
)
Index("ix_profile_event_log_profile", profile_event_log.c.profile_id, profile_event_log.c.version)

# Where every source record is linked: `export links` and lookups by source record. Each profile
# owns its rows (profile id is part of the key), because events of different profiles arrive on
# different partitions: a merged-away profile's late event must not overwrite the survivor's row.
record_links = Table(
    "record_links",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("record_id", String(200), primary_key=True),
    Column("profile_id", String(64), primary_key=True),
)
Index("ix_record_links_profile", record_links.c.profile_id)
