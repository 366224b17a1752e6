"""Console sessions are signed with a key of their own (``ONCEONLY_SESSION_KEY``), not one derived
from the ID-hash key; the public default is refused off loopback by ``onceonly serve`` and by the
app itself, so a service started without the CLI (``uvicorn onceonly.cli:service_app``) is held to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine
from typer.testing import CliRunner

from api.app import create_app
from api.auth import SESSION_COOKIE, Sessions, session_secret
from onceonly.settings import DefaultKeyRefused, Settings
from store.auth_tables import UserStore
from tests.integration.api_world import PASSWORD

ID_KEY = "session-test-id-hash-key"


def _settings(tmp_path: Path, **extra: Any) -> Settings:
    return Settings(data_dir=tmp_path / "var", id_hash_key=ID_KEY, _env_file=None, **extra)


def test_whoever_holds_the_id_hash_key_cannot_forge_a_session(store_engine: Engine, tmp_path: Path) -> None:
    user_id = UserStore(store_engine).add("steward", PASSWORD, "steward")
    settings = _settings(tmp_path, session_key="session-test-session-key")
    with TestClient(create_app(store_engine, [], settings), raise_server_exceptions=False) as client:
        # A stream worker or connector holds the ID-hash key: a cookie signed from it is refused ...
        forged = Sessions(session_secret(ID_KEY)).issue(user_id)
        client.cookies.set(SESSION_COOKIE, forged)
        assert client.get("/api/v1/reviews").status_code == 401
        # ... and one signed with the session key is the steward's.
        client.cookies.set(SESSION_COOKIE, Sessions(session_secret("session-test-session-key")).issue(user_id))
        assert client.get("/api/v1/reviews").status_code == 200


def test_the_session_key_must_differ_from_the_id_hash_and_audit_keys(tmp_path: Path) -> None:
    for same in (ID_KEY, "session-test-audit-key"):
        with pytest.raises(ValueError, match="ONCEONLY_SESSION_KEY must differ"):
            _settings(tmp_path, audit_key="session-test-audit-key", session_key=same)


def test_the_app_refuses_to_start_off_loopback_with_a_default_key_also_without_the_cli(
        store_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own = {"audit_key": SecretStr("session-test-audit-key"), "session_key": SecretStr("session-test-session-key")}
    for missing in ("audit_key", "session_key"):
        kept = {k: v for k, v in own.items() if k != missing}
        settings = _settings(tmp_path, api_host="0.0.0.0", **kept)
        with pytest.raises(DefaultKeyRefused, match="refusing to start with the default ONCEONLY_"):
            create_app(store_engine, [], settings)
    create_app(store_engine, [], _settings(tmp_path, api_host="0.0.0.0", **own))  # every key its own: starts
    create_app(store_engine, [], _settings(tmp_path))  # loopback: the defaults are allowed (tests, make demo)
    # What uvicorn calls when started by hand: the settings come from the environment.
    from onceonly.cli import service_app

    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("ONCEONLY_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("ONCEONLY_ID_HASH_KEY", ID_KEY)
    monkeypatch.setenv("ONCEONLY_AUDIT_KEY", "session-test-audit-key")
    monkeypatch.delenv("ONCEONLY_SESSION_KEY", raising=False)
    monkeypatch.setenv("ONCEONLY_API_HOST", "0.0.0.0")
    with pytest.raises(DefaultKeyRefused, match="ONCEONLY_SESSION_KEY"):
        service_app()  # type: ignore[no-untyped-call]  # onceonly.cli leaves the uvicorn factory unannotated


def test_serve_refuses_the_default_session_key_off_loopback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from onceonly.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ONCEONLY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ONCEONLY_ID_HASH_KEY", ID_KEY)
    monkeypatch.setenv("ONCEONLY_AUDIT_KEY", "session-test-audit-key")
    monkeypatch.delenv("ONCEONLY_SESSION_KEY", raising=False)
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "refusing to start with the default ONCEONLY_SESSION_KEY" in result.output
    assert "Traceback" not in result.output
