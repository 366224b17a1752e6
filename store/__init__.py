"""SQL adapters (SQLAlchemy): the profile store and the hub's own bookkeeping.

SQLite is the embedded default; PostgreSQL is the production store. Every table here is either a
projection of a Kafka topic (rebuildable by replay) or a checkpoint of a connector.
"""
