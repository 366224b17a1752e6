"""Versioned matcher parameters: a training run stores a version, workers load the newest.

Workers poll ``latest_version`` and swap their matcher when it changes: a new model is picked
up without a restart.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, Column, DateTime, Engine, Integer, String, Table, select

from core.matching import MatchModelParameters
from store.tables import metadata

matcher_parameters = Table(
    "matcher_parameters",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("version", String(100), nullable=False, unique=True),
    Column("stored_at", DateTime(timezone=True), nullable=False),
    Column("parameters", JSON, nullable=False),
)


class MatcherParameterStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(self, parameters: MatchModelParameters) -> None:
        with self.engine.begin() as conn:
            conn.execute(matcher_parameters.insert().values(
                version=parameters.version, stored_at=datetime.now(UTC),
                parameters=parameters.model_dump(mode="json")))

    def latest_version(self) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(matcher_parameters.c.version).order_by(matcher_parameters.c.seq.desc())
                                .limit(1)).scalar_one_or_none()

    def latest(self) -> MatchModelParameters | None:
        with self.engine.connect() as conn:
            doc = conn.execute(select(matcher_parameters.c.parameters).order_by(matcher_parameters.c.seq.desc())
                               .limit(1)).scalar_one_or_none()
        return None if doc is None else MatchModelParameters.model_validate(doc)

    def versions(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(matcher_parameters.c.version).order_by(matcher_parameters.c.seq))
                        .scalars())
