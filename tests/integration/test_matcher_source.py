"""The matcher parameters a worker resolves with: switched where a ``MatcherSwitched`` stands on the
records topic (not by a clock), so resolving the same records again makes the same events; stored
parameters trained for other matching settings are logged and left unused instead of stopping the
worker."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

import faust
import pytest

from core.matching import Matcher
from core.matching.model import default_parameters
from schemas.codec import encode
from schemas.record_events import MatcherSwitched
from store.engine import make_engine
from store.matcher_parameters import MatcherParameterStore, MatcherVersions, UnusableVersion
from store.resolver_state import ResolverState
from streams.resolve import add_resolve_agent
from tests.integration.test_resolver_state import district
from tests.unit.test_resolution_agent import RecordingSender


def _store(tmp_path: Path) -> MatcherParameterStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")  # creates the tables
    return MatcherParameterStore(engine)


def test_each_stored_version_gives_its_matcher_and_none_the_default(tmp_path: Path) -> None:
    store = _store(tmp_path)
    versions = MatcherVersions(store, id_hash_key="k")
    assert versions.latest_version() is None
    assert versions.get(None).parameters.version == default_parameters().version
    store.save(default_parameters().model_copy(update={"version": "trained-1"}))
    assert versions.latest_version() == "trained-1"
    assert versions.get("trained-1").parameters.version == "trained-1"
    assert versions.get("trained-1") is versions.get("trained-1")  # built once


def test_parameters_trained_for_other_settings_are_logged_once_and_not_used(tmp_path: Path,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    store = _store(tmp_path)
    fitting = default_parameters().model_copy(update={"version": "trained-1"})
    # an older training: one comparison fewer than the settings have now
    store.save(fitting.model_copy(update={"version": "trained-for-old-settings", "comparisons": fitting.comparisons[1:]}))
    versions = MatcherVersions(store, id_hash_key="k")
    with caplog.at_level(logging.ERROR, logger="store.matcher_parameters"), pytest.raises(UnusableVersion):
        versions.get("trained-for-old-settings")
    assert "trained-for-old-settings not used" in caplog.text and "onceonly train" in caplog.text
    caplog.clear()
    with pytest.raises(UnusableVersion):
        versions.get("trained-for-old-settings")  # asked again: not logged again
    assert "not used" not in caplog.text


class Recorded(MatcherVersions):
    """The real versions, noting which one each batch asked for."""

    def __init__(self, store: MatcherParameterStore) -> None:
        super().__init__(store, id_hash_key="k")
        self.asked: list[str | None] = []

    def get(self, version: str | None) -> Matcher:
        self.asked.append(version)
        return super().get(version)


def _resolve_with_a_switch(folder: Path, cut: int) -> tuple[list[bytes], list[str | None], str | None]:
    """The first ``cut`` records, a switch to ``trained-1``, the rest (the switch repeated, as a
    second worker's start would), through the resolve agent into a fresh SQLite resolver state."""
    store = _store(folder)
    store.save(default_parameters().model_copy(update={"version": "trained-1"}))
    state = ResolverState(make_engine(f"sqlite:///{folder / 'resolver.db'}"))
    versions, sender = Recorded(store), RecordingSender()
    app = faust.App(f"switch-{folder.name}", broker="kafka://127.0.0.1:1", store="memory://", key_serializer="raw",
                    value_serializer="raw")
    agent = add_resolve_agent(app, records_topic="records", profile_events_topic="profile-events", state=state,
                              matcher=versions, sender=sender)
    items = district(60)
    switch = MatcherSwitched.to("trained-1", datetime(2026, 12, 7, tzinfo=UTC))

    async def run() -> None:
        async with agent.test_context() as ctx:
            for item in items[:cut]:
                await ctx.put(key=item.key.encode(), value=encode(item))
            await ctx.put(key=b"matcher-switch", value=encode(switch))
            for n, item in enumerate(items[cut:]):
                if n == 3:
                    await ctx.put(key=b"matcher-switch", value=encode(switch))
                await ctx.put(key=item.key.encode(), value=encode(item))

    asyncio.run(run())
    return [value for _, value in sender.acked], versions.asked, state.matcher_version()


def test_a_switch_on_the_records_topic_takes_effect_there_and_resolving_again_makes_the_same_events(
        tmp_path: Path) -> None:
    events, asked, in_use = _resolve_with_a_switch(tmp_path / "first", cut=40)
    again, _, _ = _resolve_with_a_switch(tmp_path / "again", cut=40)
    assert events and events == again  # byte for byte: event ids, profile ids, versions
    assert in_use == "trained-1"
    assert asked[0] is None and asked[-1] == "trained-1"  # the default before the switch, the version after
    assert set(asked[asked.index("trained-1"):]) == {"trained-1"}
