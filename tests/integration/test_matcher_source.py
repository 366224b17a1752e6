"""The matcher a worker uses: the newest stored parameters, unless they were trained for other
matching settings (an upgrade changed a comparison), which are logged and left unused instead of
stopping the worker."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from core.matching.model import default_parameters
from onceonly.matcher_source import CurrentMatcher
from store.engine import make_engine
from store.matcher_parameters import MatcherParameterStore


def _store(tmp_path: Path) -> MatcherParameterStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")  # creates the tables
    return MatcherParameterStore(engine)


def test_a_worker_picks_up_newly_stored_parameters(tmp_path: Path) -> None:
    store = _store(tmp_path)
    current = CurrentMatcher(store, id_hash_key="k", check_every_s=0)
    store.save(default_parameters().model_copy(update={"version": "trained-1"}))
    assert current().parameters.version == "trained-1"


def test_parameters_trained_for_other_settings_are_logged_and_not_used(tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    store = _store(tmp_path)
    fitting = default_parameters().model_copy(update={"version": "trained-1"})
    store.save(fitting)
    current = CurrentMatcher(store, id_hash_key="k", check_every_s=0)
    # an older training: one comparison fewer than the settings have now
    stale = fitting.model_copy(update={"version": "trained-for-old-settings", "comparisons": fitting.comparisons[1:]})
    store.save(stale)
    with caplog.at_level(logging.ERROR, logger="onceonly.matcher_source"):
        matcher = current()
    assert matcher.parameters.version == "trained-1"
    assert "trained-for-old-settings not used" in caplog.text and "onceonly train" in caplog.text
    caplog.clear()
    current()  # asked again: not logged again
    assert "not used" not in caplog.text
