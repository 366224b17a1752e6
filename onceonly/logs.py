"""The one logging setup of the CLI, the stream worker and the query service.

One handler on the root logger, writing to stderr, either a readable line or one JSON object per
line (``ONCEONLY_LOG_FORMAT=json``, for a log collector). Every line passes the redactor
(:func:`core.privacy.redaction.redact`) on its way out, so an ID number or a phone number that
reached a log message, an argument or an exception's text is masked before it is written.
Faust and uvicorn are started without logging setups of their own, so their lines take the same path;
and every record is redacted as it is made (:class:`RedactedRecords`), for the handlers of libraries
that install their own (Prefect's flows).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from core.privacy.redaction import redact

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that log every refused connection while a broker starts; their errors surface as exceptions.
QUIET = {"kafka": logging.CRITICAL}
# What every LogRecord carries: anything else was passed with ``extra=`` and goes into the JSON object.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class RedactingFormatter(logging.Formatter):
    """A readable line, redacted as a whole (message, arguments and traceback alike)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, and
    ``exception`` / ``stack`` / any ``extra=`` fields when present. Each text is redacted before it
    is encoded, so JSON escaping cannot hide a number from the redactor."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = redact(record.exc_text or self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                entry[name] = _plain(value)
        return json.dumps(entry, ensure_ascii=False)


class RedactedRecords:
    """A LogRecord factory that redacts the message (arguments filled in) and the traceback as the
    record is made, so a handler that is not ours writes them masked too: Prefect installs its own,
    and ships flow-run logs to its server. Records below the level are never made (no cost)."""

    def __init__(self, make: Callable[..., logging.LogRecord]) -> None:
        self.make = make

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.make(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: logging itself reports it when the record is emitted
            return record
        record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(_TRACEBACKS.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record


_TRACEBACKS = logging.Formatter()


def _plain(value: Any) -> Any:
    """A JSON-native ``extra=`` value as it is (numbers, booleans), anything else as redacted text."""
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(value if isinstance(value, str) else repr(value))


def configure_logging(log_format: LogFormat = "text", level: str | int = "WARNING",
                      stream: TextIO | None = None) -> logging.Handler:
    """Replace the root logger's handlers with the one redacting handler (on ``stream``, default
    stderr); returns it. Called once by each process: ``onceonly``'s entry point, and each of the
    query service's worker processes (uvicorn starts them afresh)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else RedactingFormatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(quiet)
    logging.captureWarnings(True)  # warnings.warn(...) text passes the redactor too
    if not isinstance(logging.getLogRecordFactory(), RedactedRecords):
        logging.setLogRecordFactory(RedactedRecords(logging.getLogRecordFactory()))
    return handler
