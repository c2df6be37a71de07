"""Fleet KPIs from the maintained per-channel rows against the full DuckDB scan they replace.

    .venv/bin/python benchmarks/fleet.py [--rows 10000000] [--db PATH] [--keep]

Generates the warehouse of ``benchmarks/analyze.py`` (``--rows`` video snapshot rows, 1,000
videos a channel, 540 daily channel snapshots), fills each video's ``latest_*`` columns as the
collector's snapshot writes do, then measures in one process, on one warehouse:

- ``refresh_all``: the first refresh of ``channel_kpis`` (every channel stale, as after the
  migration);
- ``refresh_one`` / ``refresh_tenth``: a run landing for 1 channel / a tenth of the channels
  (what each collection run pays, inside its closing transaction);
- ``scan``: ``fleet_kpi_scan`` (the full scan over every snapshot row; the peer);
- ``maintained``: ``fleet_kpi_table`` answered from ``channel_kpis``: median, p95 and p99;
- ``equal``: the maintained table equals the scan (rtol 1e-12).

Prints one JSON object with the figures, the load average and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import analyze  # noqa: E402 -- the sibling benchmark's generator

AT = datetime(2026, 12, 1, tzinfo=UTC)
SCAN_MEMORY_LIMIT = analyze.SQL_MEMORY_LIMIT
"""The scan's DuckDB buffer limit, as in ``benchmarks/analyze.py`` (the figure this replaces)."""


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _fill_latest(path: Path) -> None:
    """Each video's newest counts in ``videos.latest_*``, as every snapshot write keeps them."""
    from tubescope.warehouse.repository import Warehouse

    with Warehouse.open(path) as warehouse:
        warehouse.connection().execute(
            """
            UPDATE videos SET latest_observed_at = l.seen, latest_view_count = l.v,
                latest_like_count = l.lk, latest_comment_count = l.c
            FROM (
                SELECT video_id, max(observed_at) AS seen, arg_max_null(view_count, observed_at) AS v,
                       arg_max_null(like_count, observed_at) AS lk,
                       arg_max_null(comment_count, observed_at) AS c
                FROM video_snapshots GROUP BY video_id
            ) AS l
            WHERE videos.video_id = l.video_id
            """
        )


def _timed(work: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def measure(path: Path, repeat: int) -> dict[str, Any]:
    """Every figure, on the warehouse at ``path``."""
    import pandas as pd

    from tubescope.jobs import catalog
    from tubescope.pipeline.kpi_aggregates import refresh_channel_kpis
    from tubescope.warehouse.repository import Warehouse

    out: dict[str, Any] = {}
    with Warehouse.open(path, memory_limit=SCAN_MEMORY_LIMIT) as warehouse:
        seconds, written = _timed(lambda: refresh_channel_kpis(warehouse, at=AT))
        out["refresh_all"] = {"seconds": round(seconds, 3), "channels": written}
        ids = [
            str(r[0]) for r in warehouse.connection().execute("SELECT channel_id FROM channels").fetchall()
        ]
        for name, chosen in (("refresh_one", ids[:1]), ("refresh_tenth", ids[: max(1, len(ids) // 10)])):
            times = []
            for _ in range(repeat):
                with warehouse.transaction() as con:
                    for channel_id in chosen:
                        con.rows("INSERT INTO channel_kpis_stale VALUES (?)", [channel_id])
                    seconds, written = _timed(lambda: refresh_channel_kpis(warehouse, at=AT))
                times.append(seconds)
            out[name] = {"median_ms": round(statistics.median(times) * 1000, 2), "channels": written}

        scans = []
        for _ in range(repeat):
            seconds, scan = _timed(lambda: catalog.fleet_kpi_scan(warehouse))
            scans.append(seconds)
        out["scan"] = {
            "cold_s": round(scans[0], 3),
            "warm_median_s": round(statistics.median(scans[1:] or scans), 3),
        }
        for _ in range(3):  # warm-up calls, not counted
            catalog.fleet_kpi_table(warehouse)
        answers = []
        for _ in range(repeat * 20):
            seconds, table = _timed(lambda: catalog.fleet_kpi_table(warehouse))
            answers.append(seconds)
        out["maintained"] = {
            "calls": len(answers),
            "median_ms": round(statistics.median(answers) * 1000, 2),
            "p95_ms": round(_percentile(answers, 95) * 1000, 2),
            "p99_ms": round(_percentile(answers, 99) * 1000, 2),
            "channels": len(table),
        }
        try:
            pd.testing.assert_frame_equal(table, scan, check_exact=False, rtol=1e-12)
            out["equal"] = True
        except AssertionError as exc:
            out["equal"] = False
            out["difference"] = str(exc)[:500]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="video snapshot rows to generate")
    parser.add_argument("--db", type=Path, help="warehouse file (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the generated warehouse")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    load_before = [round(x, 2) for x in os.getloadavg()]
    workdir = Path(tempfile.mkdtemp(prefix="tubescope-fleet-"))
    path = args.db or workdir / f"fleet_{args.rows}.duckdb"
    generated: dict[str, Any] = {"reused": str(path)}
    if not path.exists():
        generated = analyze.generate(path, args.rows)
        _fill_latest(path)
    results = measure(path, args.repeat)
    speedup = results["scan"]["warm_median_s"] * 1000 / results["maintained"]["median_ms"]
    summary = {
        "speedup_vs_scan": round(speedup, 1),
        "targets": {
            "maintained_under_50ms": results["maintained"]["p95_ms"] < 50,
            "at_least_10x_faster_than_scan": speedup >= 10,
            "equal_to_scan": results["equal"],
        },
    }
    print(json.dumps({"benchmark": "fleet", "rows": args.rows, "machine": analyze.machine(),
                      "load_average_at_start": load_before,
                      "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
                      "generated": generated, "results": results, "summary": summary}, indent=2))  # fmt: skip
    if not args.keep and args.db is None:
        path.unlink(missing_ok=True)
        Path(str(path) + ".wal").unlink(missing_ok=True)
        workdir.rmdir()


if __name__ == "__main__":
    main()
