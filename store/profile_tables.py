"""The profile store: a projection of the profile-events topic, rebuildable by replay."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Date, DateTime, Float, Index, Integer, String, Table, Text, false

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
    Column("grid", String(200)),  # "秦虹社区/第2网格": the grid (网格) qualified by its community
    # Where the resident lives, derived from the profile's addresses and the gazetteer (core.places):
    # on what basis (named by a record, standard_address, record, steward), the registered
    # community, and 人户分离 (registered in one place, living in another).
    Column("place_basis", String(32)),
    Column("registered_community", String(100)),
    Column("lives_apart", Boolean, nullable=False, default=False, server_default=false()),
    Column("place_contested", Boolean, nullable=False, default=False, server_default=false()),  # records disagree
    # Read-side copies of what a search hit shows, so a result page parses no documents. The ID
    # number is kept only masked here (110105********002X); its clear form stays in the document.
    Column("sex", String(32)),
    Column("relation_to_head", String(64)),
    Column("address", Text),  # the residential (else registered) address as written
    Column("id_masked", String(32)),
    # What a community's resident list filters and counts by (core.profile.read_side.life_columns):
    # a worker's home page reads these for every resident of her community, never the documents.
    Column("deceased_on", Date),
    Column("moved_out_on", Date),
    Column("says_alone", Boolean, nullable=False, default=False, server_default=false()),
    Column("assistance", Boolean, nullable=False, default=False, server_default=false()),
    Column("disability", Boolean, nullable=False, default=False, server_default=false()),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("doc", JSON, nullable=False),
)
Index("ix_profiles_name", profiles.c.name)
Index("ix_profiles_name_key", profiles.c.name_key)
Index("ix_profiles_id_hash", profiles.c.id_hash)
Index("ix_profiles_household", profiles.c.household_id)
Index("ix_profiles_community", profiles.c.community)
Index("ix_profiles_grid", profiles.c.grid)
# A worker's home page (services.home) pages through the community's residents in the order of each
# sort (SORTS): read in that order from these instead of sorting the whole community.
Index("ix_profiles_community_name", profiles.c.community, profiles.c.name, profiles.c.profile_id)
Index("ix_profiles_community_birth_date", profiles.c.community, profiles.c.birth_date, profiles.c.profile_id)
Index("ix_profiles_community_address", profiles.c.community, profiles.c.address, profiles.c.profile_id)
# A worker's home page counts her whole community at a glance on every view: from these two indexes
# alone (the community's narrow columns; a household's live members), never from the rows.
Index("ix_profiles_community_glance", profiles.c.community, profiles.c.status, profiles.c.deceased_on,
      profiles.c.moved_out_on, profiles.c.household_id, profiles.c.birth_date, profiles.c.says_alone,
      profiles.c.assistance, profiles.c.disability, profiles.c.lives_apart, profiles.c.place_contested, profiles.c.grid)
Index("ix_profiles_household_live", profiles.c.household_id, profiles.c.status, profiles.c.deceased_on,
      profiles.c.moved_out_on)
# The few residents flagged 住址有冲突 / 人户分离 (partial indexes), for a search by the flag alone
# (services.queries): read in the order of its results (name, profile id) without reading every profile.
# The condition is written exactly as store.place_flags writes it: SQLite uses a partial index only
# for a query naming the same term.
for _flag, _column in (("contested", profiles.c.place_contested), ("apart", profiles.c.lives_apart)):
    Index(f"ix_profiles_{_flag}", profiles.c.name, profiles.c.profile_id,
          sqlite_where=_column.is_(True), postgresql_where=_column.is_(True))

# What search looks up instead of scanning documents, written by the projection with each profile
# (core.profile.search_terms): ``phone`` (E.164), ``name`` (variants: aliases, pinyin),
# ``address`` (character bigrams of the normalised addresses) and ``address_line`` (each whole
# normalised address, to confirm a bigram hit and rank it). Only active profiles have terms.
profile_search_terms = Table(
    "profile_search_terms",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("term", String(300), primary_key=True),
    Column("profile_id", String(64), primary_key=True),
    Column("weight", Float, nullable=False),  # how strongly the term speaks for the profile (ranking)
)
# A profile's own terms, index-only: rewriting them, and confirming a fragment against its lines.
Index("ix_profile_search_terms_profile", profile_search_terms.c.profile_id, profile_search_terms.c.kind,
      profile_search_terms.c.term, profile_search_terms.c.weight)

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
# What changed since a time (services.home ``changes``): the recent events, not the whole log (where the
# planner does not read the community's residents and their events instead).
Index("ix_profile_event_log_occurred", profile_event_log.c.occurred_at, profile_event_log.c.profile_id)

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
