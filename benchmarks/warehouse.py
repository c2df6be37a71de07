"""Warehouse benchmark: bulk snapshot insert rate, frame load time and memory, SQL fleet KPIs.

Writes go through the public API the collector uses (``record_video_snapshots`` in batches, one
transaction each), so the idempotency anti-join and the latest-count refresh are included.

    python benchmarks/warehouse.py                      # 1M snapshot rows (a few minutes at most)
    python benchmarks/warehouse.py --rows 10000000      # the 10M fleet case
    python benchmarks/warehouse.py --memory-limit 1GB   # cap DuckDB's own memory
    python benchmarks/warehouse.py --postgres           # the same on a private PostgreSQL

Prints one JSON object with the figures and the machine.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import psutil

from tubescope.domain.models import Channel, Video, VideoFormat, VideoSnapshot
from tubescope.warehouse import DEFAULT_MEMORY_LIMIT, Warehouse
from tubescope.warehouse.export import export_parquet

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class PeakRss:
    """Samples this process's resident memory in a thread; ``peak`` is the highest seen."""

    def __init__(self, interval: float = 0.02) -> None:
        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.start_rss = self._process.memory_info().rss
        self.peak = self.start_rss
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(self._interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def delta_mb(self) -> float:
        return round((self.peak - self.start_rss) / 2**20, 1)


def _channel_id(index: int) -> str:
    return f"UC{index:022d}"


def fill(wh: Warehouse, *, rows: int, channels: int, videos_per_channel: int, batch: int) -> dict[str, float]:
    videos = channels * videos_per_channel
    runs = max(1, rows // videos)
    ids = [f"v{c:04d}{v:06d}" for c in range(channels) for v in range(videos_per_channel)]
    owner = {vid: _channel_id(i // videos_per_channel) for i, vid in enumerate(ids)}
    inserted = 0
    insert_seconds = 0.0
    for run_index in range(runs):
        at = T0 + timedelta(days=run_index)
        run = wh.start_run("bench", ["fleet"], [], started_at=at)
        if run_index == 0:
            wh.upsert_channels(
                run,
                [
                    Channel(_channel_id(c), f"c{c}", None, "", T0, None, None, "UU", 1, False, 1, 1)
                    for c in range(channels)
                ],
            )
            for start in range(0, videos, batch):
                wh.upsert_videos(
                    run,
                    [
                        Video(v, owner[v], v, "", T0, 60, "PT1M", VideoFormat.LONG, ("a", "b"))
                        for v in ids[start : start + batch]
                    ],
                )
        for start in range(0, videos, batch):
            chunk = ids[start : start + batch]
            snaps = [
                VideoSnapshot(v, at, 1000 * run_index + i, None if i % 10 == 0 else i, i % 50)
                for i, v in enumerate(chunk)
            ]
            began = time.perf_counter()
            inserted += wh.record_video_snapshots(run, snaps).inserted
            insert_seconds += time.perf_counter() - began
        if run_index == runs - 1:
            # A retried batch must insert nothing: what the idempotency check costs at full size.
            retry = [VideoSnapshot(v, at, 0, 0, 0) for v in ids[:batch]]
            began = time.perf_counter()
            skipped = wh.record_video_snapshots(run, retry).skipped
            retry_seconds = time.perf_counter() - began
        wh.finish_run(run, "completed", finished_at=at)
    return {
        "snapshot_rows": inserted,
        "runs": runs,
        "videos": videos,
        "channels": channels,
        "batch_rows": batch,
        "insert_seconds": round(insert_seconds, 2),
        "insert_rows_per_second": round(inserted / insert_seconds),
        "retried_batch_skipped": skipped,
        "retried_batch_seconds": round(retry_seconds, 3),
    }


def measure_reads(wh: Warehouse, channels: int) -> dict[str, object]:
    gc.collect()
    with PeakRss() as memory:
        began = time.perf_counter()
        frames = wh.load_frames()
        load_seconds = time.perf_counter() - began
    snapshots = frames["video_snapshots"]
    frame_mb = round(snapshots.memory_usage(deep=True).sum() / 2**20, 1)
    rows = len(snapshots)
    del frames, snapshots
    gc.collect()

    one = [_channel_id(channels // 2)]
    began = time.perf_counter()
    single = wh.load_frames(one)
    one_channel_seconds = time.perf_counter() - began
    one_channel_rows = len(single["video_snapshots"])
    del single

    with PeakRss() as stream_memory:
        began = time.perf_counter()
        streamed = sum(len(chunk) for chunk in wh.iter_video_snapshots(batch_rows=500_000))
        stream_seconds = time.perf_counter() - began

    kpi_sql = """
        WITH daily AS (
            SELECT channel_id, video_id, CAST(observed_at AS DATE) AS day, max(view_count) AS views
            FROM video_snapshots GROUP BY 1, 2, 3)
        SELECT channel_id, day, sum(views) AS views,
               sum(views) - lag(sum(views)) OVER (PARTITION BY channel_id ORDER BY day) AS gained
        FROM daily GROUP BY channel_id, day ORDER BY channel_id, day
    """
    with PeakRss() as kpi_memory:
        began = time.perf_counter()
        kpis = wh.query(kpi_sql)
        kpi_seconds = time.perf_counter() - began
    return {
        "load_frames_all_seconds": round(load_seconds, 2),
        "load_frames_all_rows": rows,
        "load_frames_all_peak_rss_delta_mb": memory.delta_mb,
        "video_snapshots_frame_mb": frame_mb,
        "load_frames_one_channel_seconds": round(one_channel_seconds, 3),
        "load_frames_one_channel_rows": one_channel_rows,
        "stream_500k_chunks_seconds": round(stream_seconds, 2),
        "stream_rows": streamed,
        "stream_peak_rss_delta_mb": stream_memory.delta_mb,
        "sql_fleet_daily_kpis_seconds": round(kpi_seconds, 2),
        "sql_fleet_daily_kpis_result_rows": len(kpis),
        "sql_fleet_daily_kpis_peak_rss_delta_mb": kpi_memory.delta_mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="video snapshot rows to write")
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--videos-per-channel", type=int, default=200)
    parser.add_argument("--batch", type=int, default=5_000, help="snapshots per write call")
    parser.add_argument(
        "--memory-limit",
        default=DEFAULT_MEMORY_LIMIT,
        help="DuckDB memory_limit ('none': DuckDB's 80%% of RAM)",
    )
    parser.add_argument("--reuse", type=Path, default=None, help="measure reads on this existing database")
    parser.add_argument("--keep", type=Path, default=None, help="keep the database at this path")
    parser.add_argument("--no-export", action="store_true", help="skip the Parquet export timing")
    parser.add_argument(
        "--postgres", action="store_true", help="run on a private PostgreSQL instead of a DuckDB file"
    )
    args = parser.parse_args()
    if args.memory_limit == "none":
        args.memory_limit = None
    if args.postgres:
        from tubescope.servers import postgres_server

        with postgres_server() as server:
            run(args, server.create_database())
        return
    run(args, None)


def run(args: argparse.Namespace, url: str | None) -> None:
    """Fill and measure the DuckDB file (``url`` None) or the PostgreSQL database at ``url``."""

    workdir = Path(tempfile.mkdtemp(prefix="tubescope-bench-"))
    db: Path | str = url or args.reuse or args.keep or workdir / "bench.duckdb"
    try:
        figures: dict[str, object] = {}
        if args.reuse is None or url:
            with Warehouse.open(db, memory_limit=args.memory_limit) as wh:
                figures = fill(
                    wh,
                    rows=args.rows,
                    channels=args.channels,
                    videos_per_channel=args.videos_per_channel,
                    batch=args.batch,
                )
        else:
            with Warehouse.open(db, read_only=True) as wh:
                counts = wh.table_counts()
            figures = {
                "snapshot_rows": counts["video_snapshots"],
                "videos": counts["videos"],
                "reused": str(db),
            }
        if isinstance(db, Path):
            figures["db_file_mb"] = round(db.stat().st_size / 2**20, 1)
        with Warehouse.open(db, read_only=True, memory_limit=args.memory_limit) as wh:
            channels = int(wh.query("SELECT count(DISTINCT channel_id) AS n FROM videos")["n"].iloc[0])
            figures.update(measure_reads(wh, channels))
            if not args.no_export:
                began = time.perf_counter()
                result = export_parquet(wh, workdir / "lake", ["video_snapshots"])
                figures["export_video_snapshots_seconds"] = round(time.perf_counter() - began, 2)
                figures["export_files"] = result.tables[0].files
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    machine = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "duckdb": duckdb.__version__,
        "pandas": pd.__version__,
        "memory_limit": args.memory_limit,
        "backend": "postgresql" if url else "duckdb",
    }
    print(json.dumps({"benchmark": "warehouse", "figures": figures, "machine": machine}, indent=2))


if __name__ == "__main__":
    main()
