"""The one logging setup: JSON lines or text, and an ID number in a log line never reaches the output."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from onceonly.logs import configure_logging
from onceonly.settings import Settings

ID_NUMBER = "11010519491231002X"
MASKED = "110105********002X"


@pytest.fixture
def restored_root() -> Iterator[None]:
    """configure_logging replaces the root logger's handlers (pytest's own among them): put them back."""
    root = logging.getLogger()
    handlers, level, factory = list(root.handlers), root.level, logging.getLogRecordFactory()
    try:
        yield
    finally:
        logging.setLogRecordFactory(factory)
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        logging.captureWarnings(False)


def test_a_json_log_line_holds_the_id_number_masked_in_its_message_and_its_traceback(restored_root: None) -> None:
    out = io.StringIO()
    configure_logging("json", "INFO", out)
    log = logging.getLogger("streams.app")
    try:
        raise ValueError(f"bad row {ID_NUMBER}")
    except ValueError:
        log.exception("standardise: refused %s at %s", ID_NUMBER, "raw.housing[0]@7", extra={"source": "housing"})
    written = out.getvalue()
    assert ID_NUMBER not in written
    (line,) = written.splitlines()
    entry = json.loads(line)
    assert entry["message"] == f"standardise: refused {MASKED} at raw.housing[0]@7"
    assert entry["level"] == "ERROR" and entry["logger"] == "streams.app" and entry["source"] == "housing"
    assert f"ValueError: bad row {MASKED}" in entry["exception"]
    assert entry["time"].endswith("+00:00")


def test_a_full_width_id_number_in_an_extra_field_is_masked_too(restored_root: None) -> None:
    out = io.StringIO()
    configure_logging("json", "INFO", out)
    logging.getLogger("api").warning("lookup", extra={"term": "身份证 １１０１０５１９４９１２３１００２Ｘ"})
    assert "１９４９１２３１" not in out.getvalue()
    assert MASKED in json.loads(out.getvalue())["term"]


def test_a_text_log_line_is_redacted_and_the_level_filters(restored_root: None) -> None:
    out = io.StringIO()
    configure_logging("text", "WARNING", out)
    logging.getLogger("connectors").info("not shown %s", ID_NUMBER)
    logging.getLogger("connectors").warning("public_security: row %s unreadable", ID_NUMBER)
    written = out.getvalue()
    assert "not shown" not in written and ID_NUMBER not in written
    assert written.rstrip().endswith(f"WARNING connectors: public_security: row {MASKED} unreadable")


def test_a_handler_installed_by_a_library_after_the_setup_writes_masked_lines_too(restored_root: None) -> None:
    configure_logging("json", "INFO", io.StringIO())
    theirs = io.StringIO()  # as Prefect does: a handler and formatter of its own on its loggers
    handler = logging.StreamHandler(theirs)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    library = logging.getLogger("prefect.flow_runs")
    library.addHandler(handler)
    try:
        try:
            raise KeyError(ID_NUMBER)
        except KeyError:
            library.exception("resident %s", ID_NUMBER)
    finally:
        library.removeHandler(handler)
    assert ID_NUMBER not in theirs.getvalue()
    assert theirs.getvalue().startswith(f"ERROR resident {MASKED}") and f"KeyError: '{MASKED}'" in theirs.getvalue()


def test_the_log_format_and_level_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONCEONLY_LOG_FORMAT", "json")
    monkeypatch.setenv("ONCEONLY_LOG_LEVEL", "INFO")
    settings = Settings(_env_file=None)
    assert (settings.log_format, settings.log_level) == ("json", "INFO")
    monkeypatch.setenv("ONCEONLY_LOG_FORMAT", "xml")
    with pytest.raises(ValueError):
        Settings(_env_file=None)


def test_the_command_line_entry_point_logs_json_lines_through_the_redactor(
        restored_root: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from onceonly import cli

    monkeypatch.setenv("ONCEONLY_LOG_FORMAT", "json")
    monkeypatch.setenv("ONCEONLY_LOG_LEVEL", "INFO")
    # Stands in for a command: whatever a command logs passes the setup main() installed.
    monkeypatch.setattr(cli, "app", lambda: logging.getLogger("connectors.pull").info("row of %s", ID_NUMBER))
    cli.main()
    (line,) = capsys.readouterr().err.splitlines()
    assert json.loads(line)["message"] == f"row of {MASKED}"
