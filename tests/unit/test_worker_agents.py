"""A worker runs the agents it is told to (``onceonly worker --agents``), all of them by default."""

from __future__ import annotations

import pytest

from streams.app import AGENTS, StreamWiring, build_app
from tests.fakes import MemoryLedger


def _agents(chosen: frozenset[str]) -> set[str]:
    app = build_app(StreamWiring(app_id="unit", bootstrap="127.0.0.1:1", raw_topics=["raw.civil_affairs"],
                                 records_topic="records", deadletter_topic="deadletter", ledger=MemoryLedger(),
                                 agents=chosen))
    return set(app.conf.onceonly_agents)


def test_every_agent_wired_runs_by_default() -> None:
    assert _agents(frozenset()) == {"ledger", "standardise"}  # no projection, resolver or gazetteer wired


def test_a_worker_runs_only_the_agents_chosen() -> None:
    assert _agents(frozenset({"ledger", "standardise"})) == {"ledger", "standardise"}
    assert _agents(frozenset({"resolve"})) == set()  # chosen but not wired: nothing to run


def test_an_unknown_agent_is_refused_with_the_names_to_choose_from() -> None:
    with pytest.raises(ValueError, match="unknown agents") as refused:
        _agents(frozenset({"resolver"}))
    assert all(name in str(refused.value) for name in AGENTS)


def test_agents_reading_the_same_topic_are_not_split() -> None:
    """Workers share a topic's partitions: a worker with the ledger alone would leave the partitions
    it was given unstandardised (and one with standardise alone, unlanded)."""
    with pytest.raises(ValueError, match="same workers"):
        _agents(frozenset({"standardise", "resolve"}))
