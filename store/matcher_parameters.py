"""Versioned matcher parameters: a training run stores a version; the matchers built from them.

Which version resolving uses is not decided here, nor by a clock: the resolver switches when it
reads a ``MatcherSwitched`` control record on the records topic (``streams.resolve``), so
resolving the same records again switches at the same place. :class:`MatcherVersions` builds the
matcher of a version and says which version is newest (what a worker announces).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from sqlalchemy import JSON, Column, DateTime, Engine, Integer, String, Table, select

from core.matching import Matcher, MatchModelParameters
from store.tables import metadata

log = logging.getLogger(__name__)

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

    def get(self, version: str) -> MatchModelParameters | None:
        with self.engine.connect() as conn:
            doc = conn.execute(select(matcher_parameters.c.parameters)
                               .where(matcher_parameters.c.version == version)).scalar_one_or_none()
        return None if doc is None else MatchModelParameters.model_validate(doc)

    def versions(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(matcher_parameters.c.version).order_by(matcher_parameters.c.seq))
                        .scalars())


class UnusableVersion(ValueError):
    """Parameters that cannot be used: not stored, or trained for other matching settings."""


class MatcherVersions:
    """``get(version)``: the matcher of a stored parameter version (``None``: the default parameters).

    Parameters that do not fit the current matching settings (trained before an upgrade changed a
    comparison) raise :class:`UnusableVersion`, logged once: the resolver goes on with what it had.
    """

    def __init__(self, store: MatcherParameterStore, *, id_hash_key: str) -> None:
        self.store = store
        self.id_hash_key = id_hash_key
        self._lock = threading.Lock()
        self._built: dict[str | None, Matcher] = {}
        self._refused: dict[str, str] = {}

    def latest_version(self) -> str | None:
        return self.store.latest_version()

    def get(self, version: str | None) -> Matcher:
        with self._lock:
            found = self._built.get(version)
            if found is not None:
                return found
            if version in self._refused:
                raise UnusableVersion(self._refused[version])
            if version is None:
                built = Matcher(id_hash_key=self.id_hash_key)
            else:
                parameters = self.store.get(version)
                try:
                    if parameters is None:
                        raise ValueError("not stored")
                    built = Matcher(parameters, id_hash_key=self.id_hash_key)
                except ValueError as exc:
                    # Trained for other matching settings (an upgrade changed the comparisons): a
                    # worker that stopped here would stop resolving for everyone until someone trains.
                    reason = f"matcher parameters {version} not used ({exc}): run `onceonly train`"
                    log.error("%s", reason)
                    self._refused[version] = reason
                    raise UnusableVersion(reason) from None
                log.warning("matcher parameters %s loaded", version)
            self._built[version] = built
            return built
