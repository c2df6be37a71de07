"""`make audit`: pip-audit over requirements.lock against an advisory service (OSV by default).

Exit 1 when a locked dependency has a known vulnerability, 0 when none has. Where the advisory
service cannot be reached (no network, DNS, a registry mirror that does not serve advisories),
it says so in one line and exits 0: nothing was audited, and the line says that plainly.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

LOCK = Path(__file__).resolve().parents[1] / "requirements.lock"
_UNREACHABLE = ("ConnectionError", "NameResolutionError", "Max retries exceeded", "timed out")


def main() -> int:
    """Run pip-audit and summarise its verdict."""
    service = os.environ.get("AUDIT_SERVICE", "osv")
    found = shutil.which("pip-audit", path=str(Path(sys.executable).parent)) or shutil.which("pip-audit")
    if found is None:
        print("make audit: pip-audit is not installed (pip install -e '.[dev]')")
        return 1
    command = [found, "-r", str(LOCK), "--no-deps", "--disable-pip", "--progress-spinner", "off"]
    done = subprocess.run(  # noqa: S603 -- a fixed command line
        [*command, "-f", "json", "-s", service], capture_output=True, text=True, check=False
    )
    report: dict[str, list[dict[str, object]]] = {}
    try:
        report = json.loads(done.stdout or "{}")
    except json.JSONDecodeError:
        report = {}
    deps = report.get("dependencies", [])
    if any(marker in done.stderr for marker in _UNREACHABLE) or (
        deps and all("skip_reason" in d for d in deps)
    ):
        print(f"make audit: the advisory service ({service}) is unreachable from here; nothing was audited")
        return 0
    if not deps:
        print(f"make audit: pip-audit failed: {done.stderr.strip().splitlines()[-1:]}")
        return 1
    vulnerable = [d for d in deps if d.get("vulns")]
    for dep in vulnerable:
        ids = ", ".join(str(v.get("id")) for v in dep["vulns"])  # type: ignore[union-attr]
        print(f"{dep['name']} {dep.get('version')}: {ids}")
    print(f"make audit: {len(deps)} locked dependencies, {len(vulnerable)} with known vulnerabilities")
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
