"""Signed checkpoints of the audit chain (审计日志检查点), kept outside the database.

A checkpoint says "the chain held ``seq`` entries and entry ``seq`` had hash ``hash``", signed with
the audit key. Someone who can rewrite the database can cut entries off the end of the log, or wipe
it, and leave a consistent chain behind; a checkpoint written elsewhere (a file, the Kafka log)
still names the later entry, so ``verify`` finds the cut. Only the entries after the newest
checkpoint can go unnoticed: the interval (entries or seconds) bounds that window.

Writing happens on a background thread: an append hands over its committed head and returns; the
read it audits never waits for a file sync or a broker.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import json
import logging
import os
import socket
import threading
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["Checkpoint", "CheckpointFile", "CheckpointSink", "Checkpointer", "sign_checkpoint"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checkpoint:
    seq: int  # the last entry the chain held
    hash: str  # that entry's hash: the chain head
    entries: int  # how many entries the chain held (entries are numbered from 1 without gaps: = seq)
    legacy_until: int  # the last entry written without a MAC (before the audit key), 0 when none
    at: str  # when the checkpoint was written (UTC, ISO 8601)
    writer: str  # which process wrote it (host:pid)
    mac: str  # HMAC-SHA256 of the fields above with the audit key

    def body(self) -> bytes:
        fields = {k: v for k, v in asdict(self).items() if k != "mac"}
        return b"audit-checkpoint:" + json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("utf-8")

    def signed_by(self, key: bytes) -> bool:
        return hmac.compare_digest(self.mac, hmac.new(key, self.body(), hashlib.sha256).hexdigest())

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Checkpoint:
        """A checkpoint as written; raises ``ValueError`` for anything else."""
        try:
            data = json.loads(text)
            return cls(seq=int(data["seq"]), hash=str(data["hash"]), entries=int(data["entries"]),
                       legacy_until=int(data["legacy_until"]), at=str(data["at"]), writer=str(data["writer"]),
                       mac=str(data["mac"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a checkpoint ({type(exc).__name__})") from None


def sign_checkpoint(key: bytes, seq: int, head_hash: str, legacy_until: int, *, writer: str | None = None,
                    at: datetime | None = None) -> Checkpoint:
    unsigned = Checkpoint(seq=seq, hash=head_hash, entries=seq, legacy_until=legacy_until,
                          at=(at or datetime.now(UTC)).isoformat(timespec="seconds"),
                          writer=writer or f"{socket.gethostname()}:{os.getpid()}", mac="")
    mac = hmac.new(key, unsigned.body(), hashlib.sha256).hexdigest()
    return Checkpoint(**{**asdict(unsigned), "mac": mac})


class CheckpointSink(ABC):
    """Somewhere outside the database that keeps checkpoints: written by the checkpointer, read by verify.

    The contract every sink keeps (``tests/contract``): what one writes, any sink on the same place
    reads back as written, each writer's checkpoints in the order written; a sink may drop a
    writer's older checkpoints (a compacted topic) but never its newest; nothing written reads as
    nothing.
    """

    name: str  # says where, in logs and in verify's report

    @abstractmethod
    def write(self, checkpoint: Checkpoint) -> None:
        """Keep ``checkpoint`` (returns once it is durable; raises when it could not be kept)."""

    @abstractmethod
    def read(self) -> list[str]:
        """Every record kept, as written (verify parses and checks each one)."""

    def close(self) -> None:  # noqa: B027 - a sink without connections has nothing to release
        """Release what the sink holds open (a producer); the default holds nothing."""


class CheckpointFile(CheckpointSink):
    """JSON lines appended to a file (``O_APPEND``, fsynced): one line per checkpoint, never rewritten,
    so the file may live on append-only or WORM storage. Several processes may share it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"file {path}"

    def write(self, checkpoint: Checkpoint) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (checkpoint.to_json() + "\n").encode("utf-8")  # well under PIPE_BUF: one write, not interleaved
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self) -> list[str]:
        if not self.path.exists():
            return []
        return [line for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]


class Checkpointer:
    """Writes a checkpoint of the newest committed head after ``every_entries`` new entries, and
    at most ``every_seconds`` after any entry not yet checkpointed, whichever comes first; and once
    more at ``close`` (when the process exits without one: to the files). A sink that fails is
    logged and tried again with the next checkpoint; the audited reads never see it."""

    def __init__(self, key: bytes, sinks: Sequence[CheckpointSink], *, every_entries: int = 100,
                 every_seconds: float = 30.0) -> None:
        self.key = key
        self.sinks = list(sinks)
        self.every_entries = every_entries
        self.every_seconds = every_seconds
        # The last entry without a MAC, asked of the log once, on this thread (a scan of the legacy entries).
        self.legacy_source: Callable[[], int] = lambda: 0
        self._legacy: int | None = None
        self.written = 0  # checkpoints written to at least one sink
        self._head: tuple[int, str] | None = None  # newest committed (seq, hash) of this process
        self._done = 0  # seq of the newest checkpoint written
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = False
        self._thread: threading.Thread | None = None

    def committed(self, seq: int, head_hash: str) -> None:
        """Called after each group commit: cheap, never blocks on I/O."""
        with self._lock:
            if self._head is None or seq > self._head[0]:
                self._head = (seq, head_hash)
            if self._thread is None and not self._closing:
                self._thread = threading.Thread(target=self._run, name="audit-checkpointer", daemon=True)
                self._thread.start()
                _open.add(self)
            due = seq - self._done >= self.every_entries
        if due:
            self._wake.set()

    def flush(self, sinks: Sequence[CheckpointSink] | None = None) -> Checkpoint | None:
        """Write a checkpoint of the newest head now (to ``sinks``, default all), if it is not
        checkpointed yet."""
        with self._lock:
            head = self._head
            if head is None or head[0] <= self._done:
                return None
        if self._legacy is None:
            self._legacy = self.legacy_source()
        checkpoint = sign_checkpoint(self.key, head[0], head[1], self._legacy)
        wrote = False
        for sink in self.sinks if sinks is None else sinks:
            try:
                sink.write(checkpoint)
                wrote = True
            except Exception as exc:  # a full disk or an absent broker must not stop the reads
                log.warning("audit checkpoint %s not written to %s: %s", checkpoint.seq, sink.name, type(exc).__name__)
        if wrote:
            with self._lock:
                self._done = max(self._done, checkpoint.seq)
                self.written += 1
        return checkpoint

    def close(self) -> None:
        with self._lock:
            self._closing = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(timeout=60)
        self.flush()
        _open.discard(self)
        for sink in self.sinks:
            sink.close()

    def _run(self) -> None:
        while True:
            self._wake.wait(timeout=self.every_seconds)
            self._wake.clear()
            if self._closing:
                return
            self.flush()

    def read(self) -> Iterable[tuple[str, str]]:
        """(sink name, record) for every record every sink keeps."""
        for sink in self.sinks:
            for record in sink.read():
                yield sink.name, record


# Checkpointers with a running thread: at exit each writes its last checkpoint (a CLI command's
# entries) to its files only. A broker may be gone by then, and waiting for it would hold the exit;
# the next checkpoint any process writes to the topic covers these entries too.
_open: weakref.WeakSet[Checkpointer] = weakref.WeakSet()


@atexit.register
def _flush_open() -> None:
    for checkpointer in list(_open):
        try:
            checkpointer.flush([sink for sink in checkpointer.sinks if isinstance(sink, CheckpointFile)])
        except Exception as exc:  # exiting anyway
            log.warning("audit checkpoint at exit failed: %s", type(exc).__name__)
