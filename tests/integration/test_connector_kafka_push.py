"""The Kafka push transport against housing's own change feed: the connector contract and more.

The department system is ``simulators.housing.HousingRegistry`` publishing to its own topic on
the real broker (one topic per test); the mapping is the real ``mappings/housing.yaml`` pointed
at that topic.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from localinfra.kafka_broker import KafkaBroker
from onceonly.settings import Settings
from schemas.source_record import DeadLetter
from simulators.housing import HousingRegistry, change_event
from simulators.sample_rows import sample_rows
from tests.helpers import PROJECT, read_topic
from tests.integration.connector_contract import ConnectorContract, DepartmentSystem

pytestmark = pytest.mark.kafka

MAPPING: dict[str, Any] = yaml.safe_load((PROJECT / "mappings" / "housing.yaml").read_text(encoding="utf-8"))


class TestHousingChangeFeed(ConnectorContract):
    @pytest.fixture(autouse=True)
    def _broker(self, kafka_broker: KafkaBroker) -> None:
        self.bootstrap = kafka_broker.bootstrap

    def department(self, tmp_path: Path, n_rows: int) -> DepartmentSystem:
        registry = HousingRegistry(self.bootstrap, f"housing.changes.{uuid.uuid4().hex[:8]}")
        registry.create_topic()
        registry.register(sample_rows("housing", n_rows))
        spec = {**MAPPING, "transport": {**MAPPING["transport"], "topic": registry.topic}}
        return DepartmentSystem(spec, {"registry": registry})

    def change_one(self, system: DepartmentSystem) -> str:
        return self._registry(system).update()

    def delete_one(self, system: DepartmentSystem) -> str:
        return self._registry(system).remove()

    def add_bad_rows(self, system: DepartmentSystem) -> int:
        return self._registry(system).publish_bad()

    def stop(self, system: DepartmentSystem) -> None:
        self._registry(system).close()

    @staticmethod
    def _registry(system: DepartmentSystem) -> HousingRegistry:
        registry: HousingRegistry = system.state["registry"]
        return registry

    # -- beyond the contract: what is particular to a pushed change feed ----------------------------
    def test_raw_keys_are_filing_numbers_never_id_numbers(self, hub_settings: Settings, tmp_path: Path) -> None:
        system = self.department(tmp_path, self.rows)
        try:
            self.pull(hub_settings, system)
            registry = self._registry(system)
            id_numbers = {r["证件号码"] for r in registry.rows.values() if r["证件号码"]}
            assert id_numbers, "the sample should hold ID numbers for this test to mean anything"
            raw = self.raw(hub_settings, system)
            assert {r.record_id for r in raw} == set(registry.rows)
            assert not any(n in r.identity for r in raw for n in id_numbers)
        finally:
            self.stop(system)

    def test_a_re_registered_record_after_a_delete_comes_back(self, hub_settings: Settings, tmp_path: Path) -> None:
        system = self.department(tmp_path, 5)
        try:
            registry = self._registry(system)
            row = dict(next(iter(registry.rows.values())))
            self.pull(hub_settings, system)
            registry.remove(row["备案编号"])
            registry.register([row])  # deleted in error, registered again with the same content
            counts = self.pull(hub_settings, system)
            assert counts.events == 2
            changes = [r.change for r in self.raw(hub_settings, system) if r.record_id == row["备案编号"]]
            assert changes == ["upsert", "end", "upsert"]
        finally:
            self.stop(system)

    def test_dead_letters_name_topic_partition_and_offset_and_hide_id_numbers(
            self, hub_settings: Settings, tmp_path: Path) -> None:
        system = self.department(tmp_path, 3)
        try:
            registry = self._registry(system)
            leak = next(r for r in sample_rows("housing", 50) if r["证件类型"] == "身份证" and r["证件号码"])
            bad = change_event("upsert", leak)
            bad["row"]["证件号码"] = 123  # a number where the schema wants text
            registry._producer.send(registry.topic, key=b"x", value=json.dumps(bad, ensure_ascii=False).encode())
            registry.flush()
            counts = self.pull(hub_settings, system)
            assert counts.dead_letters == 1
            [letter] = [d for d in read_topic(hub_settings.kafka_bootstrap or "", hub_settings.deadletter_topic)
                        if isinstance(d, DeadLetter)]
            assert letter.location.startswith(f"{registry.topic}[") and "]@" in letter.location
            assert "证件号码" in letter.reason and leak["证件号码"] not in letter.model_dump_json()
        finally:
            self.stop(system)

