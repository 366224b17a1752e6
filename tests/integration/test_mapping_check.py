"""``onceonly mapping check`` on each simulated department's file (``simulators.district_files``),
through the shipped mapping files, nothing sent to Kafka: sensible fill and parse rates, the coded
values outside their code tables, the rows a connector would refuse with their reasons, and the
match evidence each department's rows carry. ID numbers never appear in clear."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest

from connectors.spec import ConnectorSpec
from onceonly.settings import Settings
from services.mapping_check import check_file
from simulators.district_files import DEPARTMENTS, write_department_files
from tests.helpers import PROJECT, cli, cli_env

RESIDENTS, SEED = 120, 4242


@pytest.fixture(scope="module")
def departments(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("departments")
    write_department_files(folder, RESIDENTS, SEED)
    return folder


def _spec(source: str) -> ConnectorSpec:
    return ConnectorSpec.load(PROJECT / "mappings" / f"{source}.yaml")


def _rates(report: dict[str, object]) -> dict[str, tuple[float | None, float | None]]:
    return {f["target"]: (f["fill_rate"], f["parse_rate"]) for f in report["fields"]}  # type: ignore[attr-defined]


@pytest.mark.parametrize("source", DEPARTMENTS)
def test_each_simulated_department_reads_cleanly_through_its_mapping(departments: Path, source: str) -> None:
    report = check_file(_spec(source), departments / f"{source}.csv").as_dict()
    assert report["rows"] > 0 and report["accepted"] == report["rows"] and report["refused"] == []
    rates = _rates(report)
    first = "addresses.residential" if source == "grid_centre" else "name"
    assert rates[first] == (1.0, 1.0)  # every row names its resident (or building), and it is read
    for target, (fill, parse) in rates.items():
        assert fill is not None and 0.0 <= fill <= 1.0, target
        assert parse is None if fill == 0.0 else parse is not None and parse >= 0.95, (target, parse)
    assert all(not c["outside_code_table"] for c in report["coded"].values())
    assert len(report["sample"]) == 5


def test_the_figures_tell_the_departments_apart(departments: Path) -> None:
    reports = {s: check_file(_spec(s), departments / f"{s}.csv").as_dict() for s in DEPARTMENTS}
    police, social, housing, community = (reports[s] for s in ("public_security", "social_security", "housing",
                                                                "community"))
    # The household register is the authority for ID numbers: every row carries a valid one.
    assert _rates(police)["id_number"] == (1.0, 1.0)
    assert police["evidence"]["valid_id_number"] == police["accepted"]
    # Social security rows carry typos in ID numbers: filled everywhere, not all valid.
    fill, parse = _rates(social)["id_number"]
    assert fill == 1.0 and parse is not None and 0.9 <= parse < 1.0
    # Housing often has no ID number; community visits never collect one, but phones and dwellings.
    assert _rates(housing)["id_number"][0] < 1.0  # type: ignore[operator]
    assert community["evidence"]["valid_id_number"] == 0 and community["evidence"]["phone"] > 0
    assert community["evidence"]["dwelling"] > 0


def test_refused_rows_are_listed_with_reasons_and_unknown_codes_are_counted(departments: Path,
                                                                               tmp_path: Path) -> None:
    path = tmp_path / "community.csv"
    path.write_text((departments / "community.csv").read_text(encoding="utf-8-sig"), encoding="utf-8")
    with path.open(encoding="utf-8") as fh:
        columns = next(csv.reader(fh))
    bad = [  # appended after the simulated rows
        {"走访编号": "BAD-1", "姓名": "", "与户主关系": "本人"},  # nothing identifies the resident
        {"走访编号": "", "姓名": "王芳"},  # no record id
        {"走访编号": "BAD-3", "姓名": "=HYPERLINK(\"http://x\")"},  # a spreadsheet formula
        {"走访编号": "BAD-4", "姓名": "李雷", "与户主关系": "火星来客"},  # kept, the relation outside the table
    ]
    with path.open("a", encoding="utf-8", newline="") as fh:
        csv.DictWriter(fh, fieldnames=columns).writerows(bad)
    report = check_file(_spec("community"), path)
    reasons = dict(report.refused)
    assert len(reasons) == 3
    assert any("no name and no valid ID number" in r for r in reasons.values())
    assert any("missing record id" in r for r in reasons.values())
    assert any("formula" in r for r in reasons.values())
    assert report.outside["relation_to_head"] == {"火星来客": 1}
    assert report.rows == report.accepted + 3


def test_the_cli_prints_the_report_as_json_and_masks_id_numbers(departments: Path, hub_settings_files: Settings) -> None:
    out = subprocess.run(cli("mapping", "check", str(departments / "public_security.csv"), "--mapping",
                             str(PROJECT / "mappings" / "public_security.yaml"), "--json", "--steward", "steward-wang"),
                         env=cli_env(hub_settings_files), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["source"] == "public_security" and report["refused_count"] == 0
    native, standardised = report["sample"][0]["fields"]["id_number"]
    assert "*" in native and native == standardised  # 320103********6254 on both sides


@pytest.fixture
def hub_settings_files(tmp_path: Path) -> Settings:
    """A store for the audit entry; no broker: nothing reaches Kafka."""
    return Settings(data_dir=tmp_path / "var", kafka_bootstrap="127.0.0.1:1")
