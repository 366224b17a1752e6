"""The files transport against civil affairs' drop folder: the connector contract, three ways.

The department system is a folder of ledger exports written by ``simulators.civil_affairs``:
GB18030 CSV split by street, UTF-8 CSV with a BOM split by programme, and XLSX split by street.
The mapping is the real ``mappings/civil_affairs.yaml`` with the folder pointed at ``tmp_path``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from onceonly.settings import Settings
from simulators.civil_affairs import LedgerFolder, LedgerFormat, SplitBy, ledger_rows, write_ledger
from tests.helpers import PROJECT
from tests.integration.connector_contract import ConnectorContract, DepartmentSystem

pytestmark = pytest.mark.kafka

MAPPING: dict[str, Any] = yaml.safe_load((PROJECT / "mappings" / "civil_affairs.yaml").read_text(encoding="utf-8"))


class CivilAffairsFolder(ConnectorContract):
    fmt: LedgerFormat = "gb18030"
    split_by: SplitBy = "所属街道"
    kept_bad_rows = 1  # 性别 "3": kept with sex unknown

    def department(self, tmp_path: Path, n_rows: int) -> DepartmentSystem:
        ledger = write_ledger(tmp_path / "inbox", ledger_rows(n_rows), fmt=self.fmt, split_by=self.split_by)
        spec = {**MAPPING, "transport": {**MAPPING["transport"], "path": str(ledger.folder)}}
        return DepartmentSystem(spec, {"ledger": ledger})

    def change_one(self, system: DepartmentSystem) -> str:
        return self._ledger(system).change_row()

    def delete_one(self, system: DepartmentSystem) -> str:
        return self._ledger(system).remove_row()

    def add_bad_rows(self, system: DepartmentSystem) -> int:
        return self._ledger(system).inject_bad_rows()

    # -- beyond the contract: what clerks do to a drop folder -------------------------------------
    def test_a_re_exported_file_with_new_enrolments_sends_only_the_new_rows(
            self, hub_settings: Settings, tmp_path: Path) -> None:
        system = self.department(tmp_path, self.rows)
        ledger = self._ledger(system)
        self.pull(hub_settings, system)
        newcomers = ledger_rows(self.rows + 3)[self.rows:]  # three residents newly on assistance
        name = next(iter(ledger.files))
        ledger.files[name].insert(0, ledger.files[name].pop())  # re-sorted too: every 序号 moves
        ledger.add_file_version(newcomers, name)
        counts = self.pull(hub_settings, system)
        assert (counts.events, counts.ended, counts.dead_letters) == (3, 0, 0)
        assert counts.unchanged == len(ledger.files[name]) - 3
        assert len(self.raw(hub_settings, system)) == self.rows + 3

    @staticmethod
    def _ledger(system: DepartmentSystem) -> LedgerFolder:
        ledger: LedgerFolder = system.state["ledger"]
        return ledger


class TestGb18030CsvByStreet(CivilAffairsFolder):
    fmt = "gb18030"
    split_by = "所属街道"


class TestUtf8BomCsvByProgramme(CivilAffairsFolder):
    fmt = "utf-8-sig"
    split_by = "救助类别"


class TestXlsxByStreet(CivilAffairsFolder):
    fmt = "xlsx"
    split_by = "所属街道"
