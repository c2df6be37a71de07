"""Benchmark of part-A analysis: fleet KPIs and one channel's analysis on a generated warehouse.

Generates a DuckDB warehouse (through ``tubescope.warehouse.Warehouse``, so the real schema and
migrations) of ``--rows`` video snapshot rows with plain SQL, then measures, each phase in a fresh
child process so every peak RSS is the phase's own:

- ``fleet_sql``: fleet KPIs of every channel computed inside DuckDB (``fleet_kpis_duckdb``);
- ``fleet_pandas``: the same KPIs the plain pandas way: ``load_frames()`` then ``fleet_kpis``;
- ``channel_sql``: one channel's KPIs in DuckDB, warm, p50/p99 over many calls;
- ``channel_pandas``: one channel's KPIs via ``load_frames([channel])`` + pandas;
- ``channel_full``: ``load_frames([channel])`` + ``analyze_channel`` (every part-A analysis).

Prints one JSON document with the figures and the machine. Defaults (1M rows) run in a few
minutes on two cores; ``--rows 10000000`` for the large run.

    .venv/bin/python benchmarks/analyze.py [--rows 1000000] [--db PATH] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

NOW = datetime(2026, 6, 1, tzinfo=UTC)
SNAPSHOTS_PER_VIDEO = 20
VIDEOS_PER_CHANNEL = 1000
SQL_MEMORY_LIMIT = "192MB"
"""DuckDB's buffer limit in the SQL phases: the fleet aggregate fits (spilling is DuckDB's job)."""


def _peak_rss_mb() -> float:
    """This process's peak resident set: VmHWM, which (unlike ru_maxrss) a fork does not inherit."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def generate(path: Path, rows: int, per_channel: int = VIDEOS_PER_CHANNEL) -> dict[str, Any]:
    from tubescope.warehouse.repository import Warehouse

    n_videos = max(1, rows // SNAPSHOTS_PER_VIDEO)
    n_channels = max(1, n_videos // per_channel)
    started = time.perf_counter()
    with Warehouse.open(path) as warehouse:
        con = warehouse.connection()
        con.execute(
            f"""
            INSERT INTO channels (channel_id, title, handle, description, published_at, country,
                default_language, uploads_playlist_id, subscriber_count, hidden_subscriber_count,
                view_count, video_count, first_seen_run_id, run_id, source, fetched_at)
            SELECT 'UC' || substr(md5(CAST(c AS VARCHAR)), 1, 22), 'Channel ' || c, '@ch' || c, '',
                   TIMESTAMPTZ '2024-01-01',
                   NULL, NULL,
                   printf('UU%022d', c), CASE WHEN c % 10 = 0 THEN NULL ELSE 10000 + c * 37 END, c % 10 = 0,
                   0, {per_channel}, 1, 1, 'bench', TIMESTAMPTZ '2026-06-01'
            FROM range({n_channels}) t(c)
            """  # noqa: S608 - integers formatted by this script
        )
        con.execute(
            f"""
            CREATE TEMP TABLE gen_videos AS
            SELECT i, substr(md5('v' || i), 1, 5) || printf('%06d', i) AS video_id,
                   'UC' || substr(md5(CAST(i // {per_channel} AS VARCHAR)), 1, 22) AS channel_id,
                   TIMESTAMPTZ '2025-01-01' + to_seconds(CAST((hash(i * 3 + 1) % 44582400) AS BIGINT))
                       AS published_at,
                   exp(7 + 3 * (hash(i * 3 + 2) % 1000000) / 1e6) AS final_views,
                   hash(i * 3 + 3) % 100 AS coin
            FROM range({n_videos}) t(i)
            """  # noqa: S608
        )
        con.execute(
            """
            INSERT INTO videos (video_id, channel_id, title, description, published_at, duration_seconds,
                duration_raw, video_format, tags, category_id, default_language, live_broadcast_content,
                privacy_status, first_seen_run_id, run_id, source, fetched_at, is_deleted)
            SELECT video_id, channel_id, 'Video ' || i || CASE WHEN coin < 30 THEN '?' ELSE '' END, '',
                   published_at, CASE WHEN coin < 25 THEN 45 ELSE 600 + coin * 10 END, NULL,
                   CASE WHEN coin < 25 THEN 'short' ELSE 'long' END, ['a', 'b'], '22', NULL, 'none', 'public',
                   1, 1, 'bench', TIMESTAMPTZ '2026-06-01', false
            FROM gen_videos ORDER BY channel_id, published_at, video_id
            """
        )
        con.execute(
            f"""
            INSERT INTO video_snapshots (video_id, channel_id, run_id, observed_at, view_count, like_count,
                comment_count, source, fetched_at, likes_hidden, comments_hidden)
            SELECT video_id, channel_id, 1, observed_at, views,
                   CASE WHEN coin % 33 = 0 THEN NULL ELSE CAST(views * 0.03 AS BIGINT) END,
                   CASE WHEN coin % 20 = 0 THEN NULL ELSE CAST(views * 0.002 AS BIGINT) END,
                   'bench', observed_at, coin % 33 = 0, coin % 20 = 0
            FROM (
                SELECT v.video_id, v.channel_id, v.coin,
                       v.published_at + to_hours(CAST(6 + 6 * j * (j + 1) AS BIGINT)) AS observed_at,
                       CAST(v.final_views * (1 - exp(-(6 + 6 * j * (j + 1)) / 24.0 / 5)) AS BIGINT) AS views
                FROM gen_videos v, range({SNAPSHOTS_PER_VIDEO}) s(j)
            )
            ORDER BY channel_id, video_id, observed_at
            """  # noqa: S608
        )
        con.execute(
            f"""
            INSERT INTO channel_snapshots (channel_id, run_id, observed_at, subscriber_count, view_count,
                video_count, source, fetched_at, subscribers_hidden)
            SELECT 'UC' || substr(md5(CAST(c AS VARCHAR)), 1, 22), 1,
                   TIMESTAMPTZ '2025-01-01 06:00:00' + to_days(CAST(d AS INTEGER)),
                   CASE WHEN c % 10 = 0 THEN NULL ELSE 10000 + c * 37 + d * (5 + c % 7) END,
                   1000000 + d * (1000 + c * 13), {per_channel}, 'bench',
                   TIMESTAMPTZ '2025-01-01 06:00:00' + to_days(CAST(d AS INTEGER)), c % 10 = 0
            FROM range({n_channels}) t(c), range(540) s(d)
            ORDER BY 1, 3
            """  # noqa: S608
        )
        con.execute("DROP TABLE gen_videos")
        con.execute("CHECKPOINT")
        counts = warehouse.table_counts()
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "video_snapshots": counts.get("video_snapshots"),
        "videos": counts.get("videos"),
        "channels": counts.get("channels"),
        "channel_snapshots": counts.get("channel_snapshots"),
        "db_mb": round(path.stat().st_size / 2**20, 1),
    }


def _channel(path: Path) -> str:
    from tubescope.warehouse.repository import Warehouse

    with Warehouse.open(path, read_only=True) as warehouse:
        row = warehouse.connection().execute(
            "SELECT channel_id FROM channels ORDER BY channel_id LIMIT 1 OFFSET 1"
        )
        found = row.fetchone()
    return str(found[0]) if found else ""


def phase(name: str, path: Path, repeat: int) -> dict[str, Any]:
    """One measurement, run in its own process."""
    from tubescope.analysis.frames import ChannelFrames
    from tubescope.analysis.summary import analyze_channel, channel_kpis_duckdb, fleet_kpis, fleet_kpis_duckdb
    from tubescope.warehouse.repository import Warehouse

    out: dict[str, Any] = {"phase": name}
    if name == "fleet_sql":
        with Warehouse.open(path, read_only=True, memory_limit=SQL_MEMORY_LIMIT) as warehouse:
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                table = fleet_kpis_duckdb(warehouse.connection(), NOW)
                times.append(time.perf_counter() - started)
        out.update(cold_s=times[0], warm_median_s=statistics.median(times[1:] or times), channels=len(table))
        out["duckdb_memory_limit"] = SQL_MEMORY_LIMIT
    elif name == "fleet_pandas":
        with Warehouse.open(path, read_only=True) as warehouse:
            started = time.perf_counter()
            loaded = warehouse.load_frames()
            load_s = time.perf_counter() - started
        frames = ChannelFrames(
            **{k: loaded[k] for k in ("channels", "videos", "video_snapshots", "channel_snapshots")}
        )
        started = time.perf_counter()
        table = fleet_kpis(frames, NOW)
        compute_s = time.perf_counter() - started
        out.update(load_s=load_s, compute_s=compute_s, total_s=load_s + compute_s, channels=len(table))
    elif name in {"channel_sql", "channel_pandas", "channel_full"}:
        channel_id = _channel(path)
        out["channel_id"] = channel_id
        with Warehouse.open(path, read_only=True, memory_limit=SQL_MEMORY_LIMIT) as warehouse:
            times: list[float] = []
            loads: list[float] = []
            runs = repeat * (60 if name == "channel_sql" else 2)
            for i in range(runs + 3):  # three warm-up calls are not counted
                started = time.perf_counter()
                if name == "channel_sql":
                    channel_kpis_duckdb(warehouse.connection(), channel_id, NOW)
                else:
                    loaded = warehouse.load_frames([channel_id])
                    loaded_at = time.perf_counter()
                    frames = ChannelFrames(
                        **{
                            k: loaded[k]
                            for k in ("channels", "videos", "video_snapshots", "channel_snapshots")
                        }
                    )
                    if name == "channel_pandas":
                        fleet_kpis(frames, NOW)
                    else:
                        analyze_channel(frames, channel_id, NOW)
                    if i >= 3:
                        loads.append(loaded_at - started)
                if i >= 3:
                    times.append(time.perf_counter() - started)
        out.update(
            runs=len(times),
            p50_ms=_percentile(times, 50) * 1000,
            p99_ms=_percentile(times, 99) * 1000,
            load_p50_ms=_percentile(loads, 50) * 1000 if loads else None,
        )
    else:
        raise SystemExit(f"unknown phase {name}")
    out["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    return out


def _run_child(name: str, path: Path, repeat: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--db", str(path), "--repeat", str(repeat)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return {"phase": name, "error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
    return dict(json.loads(done.stdout))


def machine() -> dict[str, Any]:
    import duckdb
    import pandas as pd
    import psutil

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "duckdb": duckdb.__version__,
        "pandas": pd.__version__,
        "load_average_1m_5m_15m": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="video snapshot rows to generate")
    parser.add_argument("--db", type=Path, help="warehouse file (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the generated warehouse")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.db, args.repeat)))
        return
    load_before = [round(x, 2) for x in os.getloadavg()]
    workdir = Path(tempfile.mkdtemp(prefix="tubescope-bench-"))
    path = args.db or workdir / f"bench_{args.rows}.duckdb"
    generated = generate(path, args.rows) if not path.exists() else {"reused": str(path)}
    results = {n: _run_child(n, path, args.repeat) for n in
               ("fleet_sql", "fleet_pandas", "channel_sql", "channel_pandas", "channel_full")}  # fmt: skip
    sql, pandas_ = results["fleet_sql"], results["fleet_pandas"]
    summary: dict[str, Any] = {}
    if "error" not in sql and "error" not in pandas_:
        summary = {
            "fleet_speedup_vs_pandas_total": round(pandas_["total_s"] / sql["warm_median_s"], 1),
            "fleet_speedup_vs_pandas_compute_only": round(pandas_["compute_s"] / sql["warm_median_s"], 1),
            "fleet_sql_peak_rss_mb": sql["peak_rss_mb"],
            "fleet_pandas_peak_rss_mb": pandas_["peak_rss_mb"],
            "targets": {
                "fleet_sql_rss_under_512mb": sql["peak_rss_mb"] < 512,
                "channel_kpis_p99_under_50ms": results["channel_sql"].get("p99_ms", 1e9) < 50,
                "fleet_at_least_5x_faster_than_pandas": pandas_["total_s"] / sql["warm_median_s"] >= 5,
            },
        }
    print(json.dumps({"benchmark": "analyze", "rows": args.rows, "machine": machine(),
                      "load_average_at_start": load_before, "generated": generated,
                      "results": results, "summary": summary}, indent=2))  # fmt: skip
    if not args.keep and args.db is None:
        path.unlink(missing_ok=True)
        Path(str(path) + ".wal").unlink(missing_ok=True)
        workdir.rmdir()


if __name__ == "__main__":
    main()
