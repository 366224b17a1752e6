"""The matcher a worker uses now: the newest stored parameter version, re-checked periodically."""

from __future__ import annotations

import logging
import threading
import time

from core.matching import Matcher
from store.matcher_parameters import MatcherParameterStore

log = logging.getLogger(__name__)


class CurrentMatcher:
    """Callable: returns a matcher built from the newest stored parameters (or the defaults).

    Parameters that do not fit the current matching settings (trained before an upgrade changed a
    comparison) are logged and left unused: the worker goes on with what it had.

    Checks the store at most every ``check_every_s`` seconds, so a training run's new version is
    picked up by running workers without a restart.
    """

    def __init__(self, store: MatcherParameterStore, *, id_hash_key: str, check_every_s: float = 10.0) -> None:
        self.store = store
        self.id_hash_key = id_hash_key
        self.check_every_s = check_every_s
        self._lock = threading.Lock()
        self._version: str | None = None
        self._matcher = Matcher(id_hash_key=id_hash_key)
        self._checked = 0.0
        self.refresh()

    @property
    def version(self) -> str:
        return self._version or self._matcher.parameters.version

    def refresh(self) -> None:
        version = self.store.latest_version()
        if version is not None and version != self._version:
            parameters = self.store.latest()
            if parameters is not None:
                try:
                    self._matcher = Matcher(parameters, id_hash_key=self.id_hash_key)
                except ValueError as exc:
                    # Trained for other matching settings (an upgrade changed the comparisons): a
                    # worker that stopped here would stop resolving for everyone until someone trains.
                    log.error("matcher parameters %s not used (%s); still using %s: run `onceonly train`",
                              parameters.version, exc, self._matcher.parameters.version)
                else:
                    log.warning("matcher parameters %s loaded", parameters.version)
                self._version = parameters.version
        self._checked = time.monotonic()

    def __call__(self) -> Matcher:
        with self._lock:
            if time.monotonic() - self._checked >= self.check_every_s:
                self.refresh()
            return self._matcher
