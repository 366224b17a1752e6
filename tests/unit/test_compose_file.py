"""docker-compose.yml cannot run here (no Docker engine), so its structure is checked instead."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from onceonly.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
HUB_SERVICES = [name for name, svc in SERVICES.items() if str(svc.get("image", "")).startswith("onceonly:")]
# Variables only the embedded local run reads (where to cache the broker's jars on a laptop).
LOCAL_ONLY = {"ONCEONLY_KAFKA_CACHE", "ONCEONLY_REQUIRE_POSTGRES", "ONCEONLY_REQUIRE_BROWSER"}


def test_the_production_stack_has_kafka_postgres_prefect_workers_and_the_query_service() -> None:
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:3.9.")
    assert SERVICES["postgres"]["image"].startswith("postgres:")
    assert SERVICES["prefect-server"]["image"].startswith("prefecthq/prefect:3.8.8")
    assert SERVICES["worker"]["deploy"]["replicas"] >= 2
    assert "serve" in SERVICES["api"]["command"]


def test_every_image_is_pinned_to_a_tag() -> None:
    for name, svc in SERVICES.items():
        image = svc["image"]
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", image), f"{name}: {image} is not pinned"
        assert not image.endswith(":latest"), name


def test_long_running_services_have_healthchecks_and_state_has_named_volumes() -> None:
    for name in ("kafka", "postgres", "prefect-server", "worker", "api"):
        assert "healthcheck" in SERVICES[name], name
    assert {"kafka-data", "postgres-data"} <= set(COMPOSE["volumes"])


def test_every_setting_the_code_reads_is_set_for_the_hub_services() -> None:
    read_by_code = {f"ONCEONLY_{name.upper()}" for name in Settings.model_fields}
    for path in [*ROOT.glob("*/**/*.py"), *ROOT.glob("mappings/*.yaml")]:
        if {".venv", "tests", "bench"} & set(path.parts):  # benchmarks are not services
            continue
        read_by_code |= set(re.findall(r"ONCEONLY_[A-Z_]+", path.read_text(encoding="utf-8")))
    read_by_code -= LOCAL_ONLY
    assert HUB_SERVICES
    for name in HUB_SERVICES:
        missing = read_by_code - set(SERVICES[name]["environment"])
        assert not missing, f"{name} does not set {sorted(missing)}"
