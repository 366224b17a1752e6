"""The resolver's own tables: its state (a fold of the events it emitted) and its outbox.

Not a projection of a topic read by others: the resolve stage alone writes these, under one
global lock, and they can be rebuilt by replaying the ``records`` topic through the resolver.
Registered on the store's one MetaData, so ``make_engine`` creates them with the rest.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Index, Integer, LargeBinary, String, Table, Text

from store.tables import metadata

# Each linked source record: the profile holding it now (merges and splits move it), the content
# hash of the version linked (the same hash again changes nothing) and its blocking keys.
resolver_records = Table(
    "resolver_records",
    metadata,
    Column("record_key", String(300), primary_key=True),  # source:record_id
    Column("profile_id", String(64), nullable=False, index=True),
    Column("content_hash", String(64), nullable=False),
    Column("block_keys", JSON, nullable=False),
)

# The blocking index: how many records share each key, and which (skipped above the rule's cap).
resolver_blocks = Table(
    "resolver_blocks",
    metadata,
    Column("block_key", String(300), primary_key=True),
    Column("size", Integer, nullable=False),
)
resolver_block_members = Table(
    "resolver_block_members",
    metadata,
    Column("block_key", String(300), primary_key=True),
    Column("record_key", String(300), primary_key=True),
)

# Each profile folded (core.profile.Profile as zlib-compressed JSON), its version and status, and the
# order the resolver opened it in: the smaller ``created_seq`` is the older profile, which survives a merge.
resolver_profiles = Table(
    "resolver_profiles",
    metadata,
    Column("profile_id", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("status", String(100), nullable=False),
    Column("created_seq", BigInteger, nullable=False, unique=True),
    Column("body", LargeBinary, nullable=False),
)

# Which profile has each pending review (it follows merges; gone once decided).
resolver_reviews = Table(
    "resolver_reviews",
    metadata,
    Column("review_id", String(64), primary_key=True),
    Column("profile_id", String(64), nullable=False),
)

# Every input handled: a records-topic event id or a steward command id. A redelivered input is
# skipped; ``error`` says why an input made no events when it could not be resolved.
resolver_processed = Table(
    "resolver_processed",
    metadata,
    Column("input_id", String(200), primary_key=True),
    Column("events", Integer, nullable=False),
    Column("error", Text),
)

# The matcher parameters the resolver resolves with now: the version of the last MatcherSwitched it
# read on the records topic (one row; none: the default parameters).
resolver_matcher = Table(
    "resolver_matcher",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", String(100), nullable=False),
)

# The transactional outbox: events written with the state that caused them, published to the
# profile-events topic in ``seq`` order (so each profile's versions reach the topic in order).
resolver_outbox = Table(
    "resolver_outbox",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),  # assigned under the global lock
    Column("event_id", String(64), nullable=False, unique=True),
    Column("profile_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("payload", LargeBinary, nullable=False),  # schemas.codec.encode(event)
    Column("published", Boolean, nullable=False, default=False),
)
Index("ix_resolver_outbox_unpublished", resolver_outbox.c.published, resolver_outbox.c.seq)
Index("ix_resolver_outbox_profile", resolver_outbox.c.profile_id, resolver_outbox.c.version)
