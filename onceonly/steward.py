"""Steward decisions from the command line: the CLI's wiring of :mod:`services.stewarding`."""

from __future__ import annotations

from datetime import UTC, datetime

from core.access import Principal
from onceonly import bootstrap
from onceonly.settings import Settings
from schemas.profile_events import ProfileEvent, StewardCommand
from services.ports import SendOutbox
from services.stewarding import StewardingService
from streams.resolve import publish_once


def now() -> datetime:
    return datetime.now(UTC)


def submit(settings: Settings, command: StewardCommand) -> list[ProfileEvent]:
    """Apply a steward command (under the resolver's lock), publish the resulting events (a failed
    publish raises: the events stay in the outbox for the workers), audited as the named steward."""
    engine = bootstrap.engine(settings)

    def publish(send_outbox: SendOutbox) -> int:
        return publish_once(bootstrap.kafka_bootstrap(settings), settings.profile_events_topic, send_outbox)

    service = StewardingService(bootstrap.resolver_state(engine), publish, bootstrap.audit_log(settings, engine))
    principal = Principal(user_id=f"cli:{command.steward}", username=command.steward, role="steward")
    return service.submit(principal, command).events
