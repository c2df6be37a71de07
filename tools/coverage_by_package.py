"""Print line coverage per package of src/tubescope from a `coverage json` report.

Usage: python tools/coverage_by_package.py coverage.json
The gate itself is `coverage report --fail-under` (threshold in pyproject.toml); this only prints.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path, PurePosixPath


def package_of(path: str) -> str:
    """``src/tubescope/jobs/collect.py`` -> ``tubescope.jobs``; top-level modules are their own row."""
    parts = PurePosixPath(path.replace("\\", "/")).parts
    inner = parts[parts.index("tubescope") :] if "tubescope" in parts else parts
    if len(inner) <= 2:
        return ".".join(inner).removesuffix(".py")
    return ".".join(inner[:2])


def main(report: str) -> int:
    """Print the table; 0 unless the report cannot be read."""
    with Path(report).open(encoding="utf-8") as handle:
        files = json.load(handle)["files"]
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for path, data in files.items():
        summary = data["summary"]
        row = totals[package_of(path)]
        row[0] += summary["num_statements"]
        row[1] += summary["covered_lines"]
    width = max(len(name) for name in totals)
    print(f"{'package':<{width}}  {'lines':>6}  {'covered':>7}  {'cover':>6}")
    for name, (lines, covered) in sorted(totals.items()):
        share = 100.0 * covered / lines if lines else 100.0
        print(f"{name:<{width}}  {lines:>6}  {covered:>7}  {share:>5.1f}%")
    lines = sum(row[0] for row in totals.values())
    covered = sum(row[1] for row in totals.values())
    print(f"{'TOTAL':<{width}}  {lines:>6}  {covered:>7}  {100.0 * covered / max(lines, 1):>5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
