"""`make audit-deps`: pip-audit over the pinned requirements, failing on a known vulnerability only.

pip-audit reports a dependency it could not look up as skipped and still says "No known
vulnerabilities found", exit 0. Where its vulnerability service cannot be reached (a machine that
reaches PyPI's package index but not its JSON API, or no route to OSV), every dependency is
skipped: this script says so in one loud line and exits 0, so CI fails on a found vulnerability
and not on a missing network. ``ONCEONLY_REQUIRE_AUDIT=1`` turns "nothing could be audited" into a
failure (for a CI that does reach the service).

    python .ci/audit_deps.py requirements/lock.txt
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

NETWORK_ERRORS = ("ConnectionError", "NameResolutionError", "Max retries exceeded", "Temporary failure in name")


def verdict(report: Mapping[str, Any], *, require_audit: bool = False) -> tuple[int, str]:
    """The exit code and the line to print for pip-audit's JSON report."""
    dependencies = list(report.get("dependencies") or [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    audited = len(dependencies) - len(skipped)
    if vulnerable:
        lines = [f"{d['name']} {d.get('version', '')}: " + ", ".join(
            f"{v.get('id')} (fixed in {', '.join(v.get('fix_versions') or []) or 'no release yet'})" for v in d["vulns"])
            for d in vulnerable]
        return 1, "audit-deps: known vulnerabilities in " + str(len(vulnerable)) + " dependencies:\n  " + "\n  ".join(lines)
    if dependencies and audited == 0:
        why = skipped[0].get("skip_reason", "")
        message = (f"audit-deps: NOT AUDITED: the vulnerability service answered for none of {len(dependencies)} "
                   f"dependencies (first: {why})")
        return (1 if require_audit else 0), message
    return 0, f"audit-deps: no known vulnerabilities in {audited} dependencies ({len(skipped)} skipped)"


def main(argv: list[str]) -> int:
    lock = Path(argv[1] if len(argv) > 1 else "requirements/lock.txt")
    require_audit = os.environ.get("ONCEONLY_REQUIRE_AUDIT") == "1"
    pip_audit = Path(sys.executable).with_name("pip-audit")
    run = subprocess.run(  # noqa: S603 - our own venv's pip-audit on our own lock file
        [str(pip_audit), "-r", str(lock), "--no-deps", "--disable-pip", "--progress-spinner", "off", "-f", "json"],
        capture_output=True, text=True, timeout=900, check=False)
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        if any(error in run.stderr for error in NETWORK_ERRORS):
            print(f"audit-deps: NOT AUDITED: pip-audit could not reach its vulnerability service "
                  f"({run.stderr.strip().splitlines()[-1][:300]})")
            return 1 if require_audit else 0
        print(run.stderr, file=sys.stderr)
        print(f"audit-deps: pip-audit failed (exit {run.returncode})")
        return run.returncode or 1
    code, message = verdict(report, require_audit=require_audit)
    print(message)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
