"""`make bench-check`: small versions of the benchmarks, each a ratio against a peer in the same run.

Ratios, not seconds, so that a slower or busier machine does not read as a regression:

- ``fleet_speedup_vs_pandas``: fleet KPIs of a 100k-snapshot warehouse, plain pandas
  (``load_frames`` + ``fleet_kpis``) over tubescope's ``fleet_kpis_duckdb`` (benchmarks/analyze.py);
- ``collect_share_of_bound``: requests per second of a crawl against an emulator that answers
  after a fixed latency, over the ``max_concurrency / latency`` bound (benchmarks/collect.py);
- ``predict_single_vs_batch``: the model's own batch call (per video) over one ``Predictor.predict``
  call (benchmarks/predict.py).

Every ratio is "higher is better". The check fails (exit 1) when one is worse than the value in
``benchmarks/baseline.json`` by more than 10%. ``--update`` writes the measured ratios as the new
baseline. Prints one JSON document. Not part of CI (timings need a quiet machine).

    .venv/bin/python benchmarks/bench_check.py [--update] [--tolerance 0.10]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BASELINE = HERE / "baseline.json"
sys.path.insert(0, str(HERE))


def _paired(
    repeat: int, ours: Callable[[], object], peer: Callable[[], object]
) -> tuple[float, float, float]:
    """Runs of each taken in turns, so that both see the same load: the median of the per-round
    ratios peer/ours (what a busy machine disturbs least), and the fastest run of each."""
    mine, theirs = [], []
    for _ in range(repeat):
        mine.append(_best(1, ours))
        theirs.append(_best(1, peer))
    ratio = statistics.median(t / m for m, t in zip(mine, theirs, strict=True))
    return ratio, min(mine), min(theirs)


def _best(repeat: int, work: Callable[[], object]) -> float:
    """The fastest of ``repeat`` timed runs of ``work`` (the least disturbed by other load)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def fleet_ratio(rows: int = 100_000) -> dict[str, Any]:
    """pandas seconds over tubescope (DuckDB) seconds for the fleet KPIs."""
    import analyze  # benchmarks/analyze.py

    from tubescope.analysis.frames import ChannelFrames
    from tubescope.analysis.summary import fleet_kpis, fleet_kpis_duckdb
    from tubescope.warehouse.repository import Warehouse

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fleet.duckdb"
        analyze.generate(path, rows)
        with Warehouse.open(path, read_only=True) as warehouse:
            con = warehouse.connection()
            fleet_kpis_duckdb(con, analyze.NOW)  # warm

            def pandas_way() -> None:
                loaded = warehouse.load_frames()
                keys = ("channels", "videos", "video_snapshots", "channel_snapshots")
                fleet_kpis(ChannelFrames(**{k: loaded[k] for k in keys}), analyze.NOW)

            ratio, ours, theirs = _paired(9, lambda: fleet_kpis_duckdb(con, analyze.NOW), pandas_way)
    return {"ratio": ratio, "tubescope_s": ours, "pandas_s": theirs, "rows": rows}


def collect_ratio(channels: int = 8, videos: int = 200, latency_ms: float = 20.0) -> dict[str, Any]:
    """Achieved requests per second over the concurrency / latency bound (best of two crawls)."""
    import collect  # benchmarks/collect.py

    concurrency = 8
    bound = concurrency / (latency_ms / 1000)
    crawls = [collect.crawl(channels, videos, latency_ms, concurrency) for _ in range(2)]
    best = max(crawls, key=lambda c: c.requests / c.seconds)
    return {
        "ratio": best.requests / best.seconds / bound,
        "requests_per_s": best.requests / best.seconds,
        "bound_per_s": bound,
        "status": best.status,
    }


def predict_ratio(n_videos: int = 2_000, batch: int = 200) -> dict[str, Any]:
    """Per-video seconds of the model's batch call over the seconds of one single prediction."""
    import pandas as pd

    from tubescope.jobs.predict import PlannedVideo, Predictor
    from tubescope.jobs.train import MODEL_KIND
    from tubescope.predict.features import FEATURE_VERSION
    from tubescope.predict.model import ForecastOptions, train_forecaster
    from tubescope.predict.synthetic import synthetic_frames
    from tubescope.warehouse.model_store import save_model

    world = synthetic_frames(n_channels=max(1, n_videos // 100), videos_per_channel=100)
    result = train_forecaster(world.frames, ForecastOptions())
    with tempfile.TemporaryDirectory() as folder:
        manifest = save_model(
            result.forecaster, Path(folder), kind=MODEL_KIND, feature_version=FEATURE_VERSION
        )
        predictor = Predictor.load(Path(folder))
    assert manifest.version
    channel = str(world.frames.channels["channel_id"].iloc[0])
    when = (world.frames.videos["published_at"].max() + timedelta(days=1)).to_pydatetime(warn=False)
    video = PlannedVideo(
        channel=channel, title="Why is this the best setup?", duration_seconds=630.0, published_at=when
    )
    for _ in range(5):
        predictor.predict(video)
    rows = pd.DataFrame(
        {
            "channel_id": [channel] * batch,
            "title": [f"Video number {i} about setups" for i in range(batch)],
            "published_at": [pd.Timestamp(when)] * batch,
            "duration_seconds": [630.0] * batch,
            "video_format": ["long"] * batch,
            "tags": ["setup|review"] * batch,
            "tag_count": [2] * batch,
            "category_id": [None] * batch,
        }
    )
    ratio, single, whole = _paired(
        21, lambda: predictor.predict(video), lambda: predictor.forecaster.forecast(rows)
    )
    return {
        "ratio": ratio / batch,
        "single_ms": single * 1000,
        "batch_per_video_ms": whole / batch * 1000,
    }


CHECKS: dict[str, Callable[[], dict[str, Any]]] = {
    "fleet_speedup_vs_pandas": fleet_ratio,
    "collect_share_of_bound": collect_ratio,
    "predict_single_vs_batch": predict_ratio,
}


def main() -> int:
    """Measure every ratio, compare with the baseline, print JSON; 1 when one regressed."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--update", action="store_true", help="store the measured ratios as the baseline")
    parser.add_argument("--tolerance", type=float, default=0.10, help="allowed loss against the baseline")
    parser.add_argument("--only", choices=sorted(CHECKS), action="append", help="run only these checks")
    args = parser.parse_args()
    from tubescope.logging import configure_logging

    configure_logging("WARNING", json=True)  # the figures, not the collector's info lines
    baseline: dict[str, Any] = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    stored = baseline.get("ratios", {})
    results: dict[str, Any] = {}
    failed: list[str] = []
    for name in args.only or CHECKS:
        figures = CHECKS[name]()
        floor = stored.get(name)
        verdict = "no baseline"
        if floor is not None:
            verdict = "ok" if figures["ratio"] >= floor * (1 - args.tolerance) else "regressed"
            if verdict == "regressed":
                failed.append(name)
        results[name] = {**{k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()},
                         "baseline": floor, "verdict": verdict}  # fmt: skip
    machine = {"python": platform.python_version(), "machine": platform.machine(), "cpus": _cpus()}
    if args.update:
        ratios = {**stored, **{name: round(r["ratio"], 4) for name, r in results.items()}}
        BASELINE.write_text(json.dumps({"ratios": ratios, "machine": machine}, indent=2) + "\n")
    print(json.dumps({"checks": results, "tolerance": args.tolerance, "failed": failed, "machine": machine}))
    return 1 if failed and not args.update else 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
