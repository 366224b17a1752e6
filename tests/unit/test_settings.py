from __future__ import annotations

from pathlib import Path

import pytest

from onceonly.settings import Settings


def test_settings_come_from_prefixed_environment_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ONCEONLY_KAFKA_BOOTSTRAP", "kafka:9092")
    monkeypatch.setenv("ONCEONLY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ONCEONLY_TOPIC_PREFIX", "x.")
    settings = Settings()
    assert settings.kafka_bootstrap == "kafka:9092"
    assert settings.store_url == f"sqlite:///{tmp_path / 'onceonly.db'}"
    assert settings.raw_topic("housing") == "x.raw.housing"


def test_the_id_hash_key_is_not_printed() -> None:
    assert "onceonly-dev-key" not in repr(Settings())
