"""Is the live store the fold of the log? Replay places and profile-events into a scratch (or
given) store and compare checksums with the live one.

``onceonly replay`` rebuilds from the whole log (a rebuild, or a check with the workers stopped);
the verify flow replays only up to the offsets the live store has applied, so a check while the
workers catch up is no false alarm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from store.engine import make_engine
from store.profile_projection import ProfileProjection
from store.replay import applied_upto, rebuild

__all__ = ["Comparison", "remove_sqlite", "replay_and_compare", "verify_applied"]


@dataclass(frozen=True)
class Comparison:
    events: int  # read from the log
    live: str  # the live store's checksum
    replayed: str  # the rebuilt store's

    @property
    def identical(self) -> bool:
        return self.live == self.replayed


def replay_and_compare(live: ProfileProjection, *, target_url: str, bootstrap: str, profile_events_topic: str,
                       places_topic: str, only_applied: bool = False,
                       progress: Callable[[int], None] | None = None) -> Comparison:
    """Rebuild into the EMPTY store at ``target_url`` and compare; with ``only_applied``, up to
    what ``live`` has applied of each topic. A scratch SQLite target is removed afterwards."""
    upto = (applied_upto(live.engine, profile_events_topic=profile_events_topic, places_topic=places_topic)
            if only_applied else None)
    engine: Engine = make_engine(target_url)
    try:
        rebuilt = rebuild(engine, id_hash_key=live.id_hash_key, bootstrap=bootstrap,
                          profile_events_topic=profile_events_topic, places_topic=places_topic,
                          progress=progress, upto=upto)
    finally:
        engine.dispose()
    return Comparison(events=rebuilt.events, live=live.store_checksum(), replayed=rebuilt.checksum)


def verify_applied(live: ProfileProjection, *, scratch_dir: Path, bootstrap: str, profile_events_topic: str,
                   places_topic: str) -> Comparison:
    """The verify flow's check: replay up to what ``live`` has applied into a scratch SQLite store
    under ``scratch_dir`` (removed afterwards) and compare."""
    scratch = scratch_dir / f"replay-{datetime.now(UTC):%Y%m%dT%H%M%S%f}.db"
    try:
        return replay_and_compare(live, target_url=f"sqlite:///{scratch}", bootstrap=bootstrap,
                                  profile_events_topic=profile_events_topic, places_topic=places_topic,
                                  only_applied=True)
    finally:
        remove_sqlite(scratch)


def remove_sqlite(path: Path) -> None:
    """A scratch SQLite store and its WAL files."""
    path.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
