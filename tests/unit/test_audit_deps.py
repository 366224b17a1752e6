"""`make audit-deps` (.ci/audit_deps.py): fails on a known vulnerability, never passes silently."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest


def _script() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / ".ci" / "audit_deps.py"
    spec = importlib.util.spec_from_file_location("audit_deps", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


audit = _script()


def test_a_known_vulnerability_fails_the_audit_and_names_its_fix() -> None:
    report = {"dependencies": [
        {"name": "requests", "version": "2.19.0",
         "vulns": [{"id": "PYSEC-2018-28", "fix_versions": ["2.20.0"], "aliases": []}]},
        {"name": "six", "version": "1.17.0", "vulns": []},
    ]}
    code, message = audit.verdict(report)
    assert code == 1
    assert "requests 2.19.0: PYSEC-2018-28 (fixed in 2.20.0)" in message


def test_nothing_audited_is_said_loudly_and_fails_only_when_the_audit_is_required() -> None:
    # What pip-audit answers where PyPI's JSON API is out of reach: every dependency skipped, exit 0.
    report = {"dependencies": [{"name": "six", "skip_reason": "Dependency not found on PyPI and could not be audited"}]}
    code, message = audit.verdict(report)
    assert (code, message.split(":")[1].strip()) == (0, "NOT AUDITED")
    assert audit.verdict(report, require_audit=True)[0] == 1


@pytest.mark.parametrize("skipped", [0, 1])
def test_clean_dependencies_pass_and_the_skipped_are_counted(skipped: int) -> None:
    deps = [{"name": "six", "version": "1.17.0", "vulns": []}]
    deps += [{"name": "onceonly", "skip_reason": "not on PyPI"}] * skipped
    code, message = audit.verdict({"dependencies": deps})
    assert code == 0
    assert message.endswith(f"in 1 dependencies ({skipped} skipped)")
