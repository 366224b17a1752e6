"""Taking departments' records in (数据采集): a department pushing a batch of its native rows (the
community workers' app, through ``POST /api/v1/ingest/{source}``; the planner's answers), and the hub
pulling a department's system as its mapping file declares (``onceonly ingest`` and ``onceonly
pull``, the ingest flow, the demo).

Both run through the same ``Connector`` loop (``connectors.pull``), so collected-once, dead letters
and run counts apply unchanged: pushing the same batch twice sends nothing the second time.

Pushed runs of one source never overlap in this process (two runs could both see a new row as new
and send it twice), so each source has a lock and a reused producer. Several API replicas pushing
the same source at once are not serialised: run one replica per pushed source.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from kafka.errors import KafkaError
from sqlalchemy.exc import SQLAlchemyError

from connectors.batch import BatchReader
from connectors.kafka_sink import KafkaSink, SinkError
from connectors.pull import Connector, RunCounts
from connectors.rows import Reader
from connectors.spec import ConnectorSpec
from kafka_adapter.admin import NoBroker

__all__ = ["PULL_CLIENT_ID", "BatchNotTaken", "Cell", "ConnectorFactory", "IngestService", "UnknownSource"]

log = logging.getLogger(__name__)

Cell = str | int | float | bool | None
PULL_CLIENT_ID = "onceonly-connector"


class UnknownSource(LookupError):
    """No mapping file for the source, or one whose source the hub pulls rather than takes pushes: 404."""


class BatchNotTaken(RuntimeError):
    """The broker, the store or a file did not answer during a pushed run: 503. Nothing unacknowledged
    was checkpointed, so sending the batch again is safe (collected once). ``cause`` names the failure."""

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(message)
        self.cause = cause


class ConnectorFactory(Protocol):
    """A department's connector on the hub's store and topics (``onceonly.bootstrap.connector``)."""

    def __call__(self, spec: ConnectorSpec, sink: KafkaSink, *, only_file: Path | None = None,
                 on_page: Callable[[RunCounts], None] | None = None, reader: Reader | None = None) -> Connector: ...


class IngestService:
    """``mapping_path`` names a source's mapping file, ``open_sink`` opens a producer on the hub's
    cluster (its argument: the client id), ``connector`` builds the shared loop around a sink;
    ``tokens`` is each pushing department's token."""

    def __init__(self, mapping_path: Callable[[str], Path], open_sink: Callable[[str], KafkaSink],
                 connector: ConnectorFactory, *, tokens: Mapping[str, str] | None = None) -> None:
        self.mapping_path = mapping_path
        self.open_sink = open_sink
        self.connector = connector
        self.tokens = dict(tokens or {})
        self._locks: dict[str, threading.Lock] = {}
        self._sinks: dict[str, KafkaSink] = {}
        self._guard = threading.Lock()

    # -- pushed batches ---------------------------------------------------------------------------
    def department_of(self, token: str) -> str | None:
        """The source whose token this is (compared in constant time), or None."""
        return next((source for source, known in self.tokens.items()
                     if hmac.compare_digest(known.encode(), token.encode())), None)

    def spec(self, source: str) -> ConnectorSpec:
        """The mapping of a source that takes pushes (kind ``ingest``), or :class:`UnknownSource`."""
        path = self.mapping_path(source)
        if not path.is_file():
            raise UnknownSource(f"no mapping file for source {source!r}")
        spec = ConnectorSpec.load(path)
        if spec.kind != "ingest":
            raise UnknownSource(f"source {source!r} is pulled by the hub, not pushed (kind {spec.kind})")
        return spec

    def push(self, spec: ConnectorSpec, batch_id: str, rows: Sequence[Mapping[str, Cell]],
             *, reader: Reader | None = None) -> RunCounts:
        """Run a pushed batch (``batch_id`` names it in dead-letter locations) through the loop, one run
        per source at a time; ``reader`` replaces the batch's own (the planner's answers bring rows it
        could not read). Raises :class:`BatchNotTaken` when the broker or the store did not answer."""
        with self._guard:
            lock = self._locks.setdefault(spec.source, threading.Lock())
        try:
            with lock:
                sink = self._sinks.get(spec.source)
                if sink is None:
                    sink = self._sinks[spec.source] = self.open_sink(f"onceonly-ingest-{spec.source}")
                connector = self.connector(spec, sink, reader=reader or BatchReader(batch_id, rows))
                return connector.run()
        except (NoBroker, KafkaError, SinkError, SQLAlchemyError, OSError) as exc:
            # Nothing unacknowledged was checkpointed: resending the batch is safe (collected once).
            log.warning("ingest %s: batch %s not taken in: %s", spec.source, batch_id, type(exc).__name__)
            raise BatchNotTaken(f"the batch was not taken in ({type(exc).__name__}); send it again",
                                type(exc).__name__) from exc

    def close(self) -> None:
        for sink in self._sinks.values():
            sink.close()
        self._sinks.clear()

    # -- pulls ------------------------------------------------------------------------------------
    def pull(self, spec: ConnectorSpec | str, *, only_file: Path | None = None,
             on_page: Callable[[RunCounts], None] | None = None) -> RunCounts:
        """One connector run of a department as its mapping declares (``spec``, or the source whose
        mapping file is in the mappings folder): incremental, collected once. ``only_file``: read
        that one file instead of the drop folder; ``on_page`` hears the counts after each page."""
        if isinstance(spec, str):
            spec = ConnectorSpec.load(self.mapping_path(spec))
        with self.open_sink(PULL_CLIENT_ID) as sink:
            return self.connector(spec, sink, only_file=only_file, on_page=on_page).run()
