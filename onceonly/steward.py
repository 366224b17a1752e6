"""Steward decisions from the command line: each becomes events through the resolver, then Kafka."""

from __future__ import annotations

from datetime import UTC, datetime

from onceonly import bootstrap
from onceonly.settings import Settings
from schemas.profile_events import ProfileEvent, StewardCommand
from streams.resolve import KafkaOutboxSender


def now() -> datetime:
    return datetime.now(UTC)


def submit(settings: Settings, command: StewardCommand) -> list[ProfileEvent]:
    """Apply a steward command (under the resolver's lock) and publish the resulting events."""
    state = bootstrap.resolver_state(bootstrap.engine(settings))
    events = state.handle_command(command)
    sender = KafkaOutboxSender(bootstrap.kafka_bootstrap(settings), settings.profile_events_topic)
    try:
        state.publish_outbox(sender.send, sender.flush)
    finally:
        sender.close()
    return events
