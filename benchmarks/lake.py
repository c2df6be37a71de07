"""Lake benchmark: fleet KPIs over a Parquet lake with DuckDB and with Dask, and archive throughput.

    python benchmarks/lake.py --rows 2000000          # a quick run
    python benchmarks/lake.py                         # 50M rows: 1,000 channels x 200 videos x 250 days
    python benchmarks/lake.py --scheduler tcp://host:8786   # the same Dask code on a real cluster
    python benchmarks/lake.py --lake DIR --rounds 3 --archive-rows 0   # reuse a lake, 3 pairs

1. Generates a lake in the layout ``tubescope export`` writes (``<table>/channel_id=<id>/…``),
   one file per channel and table, with numpy (the collector would take days to fill it).
2. Fleet KPIs with DuckDB over the Parquet (one process) and with Dask distributed (a
   LocalCluster of 2 worker processes, or ``--scheduler``); each engine runs in its own child
   process so every process's peak RSS is its own: the DuckDB process; Dask's client (which
   also hosts the LocalCluster's scheduler) and each worker.
3. Archive throughput: ``--archive-rows`` snapshot rows in a DuckDB warehouse moved to a local
   S3-compatible server (moto, loopback) by ``tubescope.warehouse.archive`` (upload, read-back
   verification and the hot delete included).

Prints one JSON object with the figures and the machine.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

T0 = datetime(2025, 6, 1, tzinfo=UTC)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time of this process, all its threads (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def generate(out: Path, rows: int, videos: int, days: int, seed: int = 0) -> dict[str, Any]:
    """A lake of ``rows`` video snapshots: channels x videos x days, daily observations."""
    channels = max(1, rows // (videos * days))
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    start = np.datetime64(T0.replace(tzinfo=None), "us")
    times = start + (np.arange(days) * 24 + 6).astype("timedelta64[h]")
    for c in range(channels):
        cid = f"UC{c:022d}"
        vids = np.array([f"v{c:06d}{v:04d}" for v in range(videos)])
        published = start - rng.integers(0, 400, videos).astype("timedelta64[D]")
        daily = rng.gamma(1.2, 60.0, (videos, days)).astype(np.int64)
        views = np.cumsum(daily, axis=1) + rng.integers(0, 5000, (videos, 1))
        likes = (views // 25).ravel()
        hidden = np.repeat(rng.uniform(size=videos) < 0.05, days)
        comments = views // 200
        folder = out / "video_snapshots" / f"channel_id={cid}"
        folder.mkdir(parents=True)
        table = pa.table(
            {
                "video_id": np.repeat(vids, days),
                "observed_at": pa.array(np.tile(times, videos), pa.timestamp("us", tz="UTC")),
                "view_count": views.ravel(),
                "like_count": pa.array(likes, pa.int64(), mask=hidden),
                "comment_count": comments.ravel(),
            }
        )
        pq.write_table(table, folder / "data_0.parquet", compression="zstd")
        subs = 1000 + np.cumsum(rng.integers(0, 40, days))
        folder = out / "channel_snapshots" / f"channel_id={cid}"
        folder.mkdir(parents=True)
        pq.write_table(
            pa.table(
                {
                    "observed_at": pa.array(times, pa.timestamp("us", tz="UTC")),
                    "subscriber_count": subs,
                    "view_count": views.sum(axis=0),
                    "video_count": np.full(days, videos),
                }
            ),
            folder / "data_0.parquet",
        )
        folder = out / "videos" / f"channel_id={cid}"
        folder.mkdir(parents=True)
        pq.write_table(
            pa.table(
                {
                    "video_id": vids,
                    "published_at": pa.array(
                        published.astype("datetime64[us]"), pa.timestamp("us", tz="UTC")
                    ),
                }
            ),
            folder / "data_0.parquet",
        )
    size = sum(f.stat().st_size for f in out.rglob("*.parquet"))
    return {
        "video_snapshot_rows": channels * videos * days,
        "channels": channels,
        "videos_per_channel": videos,
        "days": days,
        "parquet_mb": round(size / 1e6, 1),
        "generate_s": round(time.perf_counter() - started, 1),
    }


def run_duckdb(lake: str) -> dict[str, Any]:
    import duckdb  # noqa: F401 -- imported before the clock, as the Dask workers have it

    from tubescope.fleet import fleet_kpis_lake_duckdb

    cpu = cpu_seconds()
    started = time.perf_counter()
    result = fleet_kpis_lake_duckdb(lake, memory_limit="700MB")
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "cpu_seconds": round(cpu_seconds() - cpu, 2),
        "channels": len(result.table),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "checksum": float(result.table["median_views"].sum()),
    }


def _worker_peak() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _warm() -> None:
    """What a worker of a running cluster has imported after its first job."""
    for name in ("duckdb", "tubescope.fleet.lake", "tubescope.analysis.summary"):
        importlib.import_module(name)


def run_dask(lake: str, scheduler: str | None, workers: int, per_task: int = 0) -> dict[str, Any]:
    from tubescope.fleet.lake import dask_client, fleet_kpis_dask

    with dask_client(scheduler, workers=workers, memory_limit="1GiB") as client:
        client.wait_for_workers(workers)
        # workers import the analysis stack once, as the DuckDB child imports it before its clock
        client.run(_warm)
        worker_cpu = sum(client.run(cpu_seconds).values())
        cpu = cpu_seconds()
        started = time.perf_counter()
        result = fleet_kpis_dask(lake, client=client, channels_per_task=per_task or None)
        seconds = time.perf_counter() - started
        cpu = cpu_seconds() - cpu
        worker_cpu = sum(client.run(cpu_seconds).values()) - worker_cpu
        peaks = client.run(_worker_peak)
    return {
        "seconds": round(seconds, 2),
        # the client process also hosts a LocalCluster's scheduler and nannies
        "cpu_seconds": round(cpu + worker_cpu, 2),
        "client_cpu_seconds": round(cpu, 2),
        "workers_cpu_seconds": round(worker_cpu, 2),
        "channels": len(result.table),
        "tasks": result.tasks,
        "workers": result.workers,
        "client_peak_rss_mb": round(peak_rss_mb(), 1),
        "worker_peak_rss_mb": sorted(round(v, 1) for v in peaks.values()),
        "checksum": float(result.table["median_views"].sum()),
    }


def run_archive(rows: int, folder: Path) -> dict[str, Any]:
    from tubescope.servers import S3_TEST_CREDENTIALS, s3_server
    from tubescope.warehouse import Warehouse
    from tubescope.warehouse import archive as ar

    os.environ.update(S3_TEST_CREDENTIALS)
    db = folder / "archive.duckdb"
    with Warehouse.open(db) as wh:
        con = wh.connection()
        videos = max(1, rows // 120)
        con.execute(
            """
            INSERT INTO video_snapshots (video_id, channel_id, run_id, observed_at, view_count, like_count,
                comment_count, source, fetched_at, likes_hidden, comments_hidden)
            SELECT 'v' || (i % $videos), 'UC' || (i % $videos // 200), 1,
                   TIMESTAMPTZ '2026-01-01 06:00:00+00' + to_days(CAST(i // $videos AS INTEGER)),
                   i, i // 25, i // 200, 'bench', TIMESTAMPTZ '2026-01-01 06:00:00+00', false, false
            FROM range($rows) t(i)
            """,
            {"videos": videos, "rows": rows},
        )
        cutoff = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=rows // videos)
        with s3_server() as s3:
            s3.create_bucket("bench")
            started = time.perf_counter()
            outcome = ar.archive(wh, s3.archive_uri("bench", "archive"), cutoff)
            seconds = time.perf_counter() - started
    return {
        "rows_in_warehouse": rows,
        "rows_archived": outcome.rows,
        "segments": len(outcome.segments),
        "mb_written": round(outcome.bytes / 1e6, 1),
        "seconds": round(seconds, 2),
        "rows_per_second": round(outcome.rows / seconds),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def child(phase: str, *args: str) -> dict[str, Any]:
    found = subprocess.run(
        [sys.executable, __file__, "--phase", phase, *args], capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        return {"error": found.stderr.strip().splitlines()[-1] if found.stderr.strip() else found.returncode}
    parsed: dict[str, Any] = json.loads(found.stdout.strip().splitlines()[-1])
    return parsed


def _pair(duck: dict[str, Any], dask: dict[str, Any]) -> dict[str, Any]:
    """One DuckDB/Dask pair: both results, their time and CPU ratios, and the load then."""
    same = (
        "checksum" in duck
        and "checksum" in dask
        and abs(duck["checksum"] - dask["checksum"]) < 1e-6 * max(1.0, abs(duck["checksum"]))
    )
    both = "seconds" in dask and "seconds" in duck
    return {
        "fleet_kpis_duckdb": duck,
        "fleet_kpis_dask": dask,
        "dask_over_duckdb": round(dask["seconds"] / duck["seconds"], 2) if both else None,
        "dask_over_duckdb_cpu": round(dask["cpu_seconds"] / duck["cpu_seconds"], 2) if both else None,
        "same_result": same,
        "load_average": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=50_000_000, help="video snapshot rows in the lake")
    parser.add_argument("--videos", type=int, default=200)
    parser.add_argument("--days", type=int, default=250)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--channels-per-task",
        type=int,
        default=0,
        help="channels each Dask task reads (0: the library's choice)",
    )
    parser.add_argument(
        "--scheduler", default=None, help="a Dask scheduler address instead of a LocalCluster"
    )
    parser.add_argument("--archive-rows", type=int, default=2_000_000)
    parser.add_argument("--lake", default=None, help="reuse a generated lake folder")
    parser.add_argument(
        "--rounds", type=int, default=1, help="DuckDB/Dask pairs, alternating which runs first"
    )
    parser.add_argument("--phase", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "duckdb":
        print(json.dumps(run_duckdb(args.lake)))
        return
    if args.phase == "dask":
        print(json.dumps(run_dask(args.lake, args.scheduler, args.workers, args.channels_per_task)))
        return
    if args.phase == "archive":
        with tempfile.TemporaryDirectory(prefix="tubescope-lake-archive-") as tmp:
            print(json.dumps(run_archive(args.archive_rows, Path(tmp))))
        return

    work = Path(tempfile.mkdtemp(prefix="tubescope-lake-"))
    try:
        if args.lake:
            lake = Path(args.lake)
            generated: dict[str, Any] = {"reused": str(lake)}
        else:
            lake = work / "lake"
            generated = generate(lake, args.rows, args.videos, args.days)
        dask_args = ["--lake", str(lake), "--workers", str(args.workers)]
        dask_args += ["--channels-per-task", str(args.channels_per_task)]
        if args.scheduler:
            dask_args += ["--scheduler", args.scheduler]
        rounds = []
        for number in range(args.rounds):
            if number % 2 == 0:
                duck = child("duckdb", "--lake", str(lake))
                dask = child("dask", *dask_args)
            else:
                dask = child("dask", *dask_args)
                duck = child("duckdb", "--lake", str(lake))
            rounds.append(_pair(duck, dask))
        archive = child("archive", "--archive-rows", str(args.archive_rows)) if args.archive_rows else {}
        if archive:
            archive["load_average_after"] = os.getloadavg()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {
        "benchmark": "lake",
        "lake": generated,
        **rounds[0],
        "rounds": rounds[1:],
        "dask_over_duckdb_all_rounds": [r["dask_over_duckdb"] for r in rounds],
        "archive_to_local_s3": archive,
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
