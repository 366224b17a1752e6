"""The gazetteer's use cases (标准地址库): what a steward sees of it, and a steward's correction.

A correction is an event on the places topic first (``PlaceAssignmentCorrected``); the places
agent applies it and re-derives every profile located through the key, so the store, a replay and
every reader agree. Each call is audited here, whichever entry point made it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import Engine, select

from core.access import Principal, require
from schemas.place_events import PlaceAssignmentCorrected
from services.ports import Auditor
from store.place_tables import places
from store.places import PlaceIndex, PlaceRow

__all__ = ["CorrectPlace", "GazetteerService", "UnknownPlace"]


class UnknownPlace(LookupError):
    """The place key is not in the gazetteer (nothing to correct)."""


@dataclass(frozen=True)
class CorrectPlace:
    """Assign ``place_key`` to ``community`` (and ``grid``), or withdraw the last correction
    (``community=None``)."""

    place_key: str
    community: str | None
    grid: str | None
    reason: str


class GazetteerService:
    def __init__(self, engine: Engine, publish: Callable[[str, BaseModel], None], audit: Auditor) -> None:
        self.engine = engine
        self.publish = publish  # (key, event) → the places topic, acknowledged
        self.audit = audit
        self.index = PlaceIndex()

    def summary(self, principal: Principal) -> dict[str, int]:
        require(principal, "review")
        with self.engine.connect() as conn:
            counts = self.index.counts(conn)
        self.audit.append(principal, "read_gazetteer", "标准地址库核查", [], ["places.summary"])
        return counts

    def disagreements(self, principal: Principal, limit: int = 200) -> list[PlaceRow]:
        """Keys whose facts disagree (records among themselves, or with the standard file)."""
        require(principal, "review")
        with self.engine.connect() as conn:
            rows = self.index.disagreements(conn, limit=limit)
        self.audit.append(principal, "read_gazetteer", "标准地址库核查", [], ["places.disagreements"])
        return rows

    def correct(self, principal: Principal, command: CorrectPlace) -> PlaceAssignmentCorrected:
        require(principal, "review")
        with self.engine.connect() as conn:
            known = conn.execute(select(places.c.place_key).where(places.c.place_key == command.place_key)).first()
        if known is None and command.community is None:
            raise UnknownPlace("no such place in the gazetteer")
        issued = datetime.now(UTC)
        event = PlaceAssignmentCorrected(
            event_id=hashlib.sha256(f"{command.place_key}\x1f{command.community}\x1f{command.grid}\x1f"
                                    f"{principal.username}\x1f{issued.isoformat()}".encode()).hexdigest()[:32],
            place_key=command.place_key, community=command.community, grid=command.grid,
            steward=principal.username, reason=command.reason, occurred_at=issued)
        self.publish(command.place_key, event)
        self.audit.append(principal, "correct_place", "标准地址纠错", [],
                          [f"place={command.place_key}", f"community={command.community or '-'}",
                           f"grid={command.grid or '-'}"])
        return event
