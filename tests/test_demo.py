"""``tubescope demo`` (what ``make demo`` runs) works end to end as a newcomer would run it: a CLI
subprocess on the built-in emulator, its warehouse checked independently with DuckDB."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

TUBESCOPE = Path(sys.executable).parent / "tubescope"


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TUBESCOPE), "demo", *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("TUBESCOPE_")}, "COLUMNS": "200"},
    )


@pytest.fixture(autouse=True)
def _installed() -> None:
    if not TUBESCOPE.is_file():
        pytest.skip(f"the tubescope script is not installed beside {sys.executable}")


def test_demo_collects_every_day_trains_and_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "demo-output"
    # A second run into the same folder starts a fresh warehouse: nothing is counted twice.
    for _ in range(2):
        done = _demo("--out", str(out), "--days", "3", "--peers", "1")
        assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    report = out / "report.html"
    assert f"report written to {report.resolve()}" in done.stdout
    assert report.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")

    summary = re.search(
        r"collected (\d+) channels (\d+) times \((\d+) quota units\), trained model\s+(\S+)", done.stderr
    )
    assert summary is not None, done.stderr
    channels, collections, quota, version = int(summary[1]), int(summary[2]), int(summary[3]), summary[4]
    assert (channels, collections) == (2, 3)

    with duckdb.connect(str(out / "demo.duckdb"), read_only=True) as db:
        runs = db.sql(
            "SELECT status, started_at::DATE, quota_spent FROM collection_runs ORDER BY 2"
        ).fetchall()
        per_channel = db.sql(
            "SELECT channel_id, count(*), count(DISTINCT observed_at::DATE) FROM channel_snapshots GROUP BY 1"
        ).fetchall()
        versions = [row[0] for row in db.sql("SELECT version FROM model_manifests").fetchall()]
    assert [status for status, _day, _spent in runs] == ["completed"] * 3
    assert len({day for _status, day, _spent in runs}) == 3  # one collection per simulated day
    assert quota == sum(sum(json.loads(spent).values()) for _status, _day, spent in runs) > 0
    assert sorted(count for _channel, count, _days in per_channel) == [3, 3]
    assert all(days == 3 for _channel, _count, days in per_channel)
    assert versions == [version]


def test_demo_refuses_too_few_days_without_a_traceback(tmp_path: Path) -> None:
    done = _demo("--out", str(tmp_path / "out"), "--days", "1")
    assert done.returncode != 0
    assert "--days" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
