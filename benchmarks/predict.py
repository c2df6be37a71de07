"""View-forecast benchmark: training time and peak memory, one-video latency, simulator accuracy.

    python benchmarks/predict.py                      # 100k synthetic videos
    python benchmarks/predict.py --million            # also 1M videos (minutes, several GB)
    python benchmarks/predict.py --simulator 120      # accuracy on the world simulator
    python benchmarks/predict.py --videos 5000 --before main   # one prediction, before and after

With ``--before REV`` the same child (training, then ``--latency-calls`` single predictions) runs
first on the source tree of git revision ``REV`` (extracted with ``git archive``, first on
``PYTHONPATH``), then on this tree; both land in one JSON document, each with its load average.

One prediction reports its wall-clock median, p95 and p99, its CPU time per call and the calling
thread's CPU time percentiles (what other load on the machine inflates least: the wall time an
idle core would show) and its peer measured in the same process: the model's own
batch forecast of 200 such videos, per video.

Each training size runs in a fresh child process so its peak RSS is its own. Prints JSON with the
figures and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psutil


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(n_videos: int, latency_calls: int) -> dict[str, Any]:
    from tubescope.jobs.predict import PlannedVideo, Predictor
    from tubescope.jobs.train import MODEL_KIND
    from tubescope.predict.features import FEATURE_VERSION
    from tubescope.predict.model import ForecastOptions, train_forecaster
    from tubescope.predict.synthetic import synthetic_frames
    from tubescope.warehouse.model_store import save_model

    videos_per_channel = 100
    started = time.perf_counter()
    world = synthetic_frames(
        n_channels=max(1, n_videos // videos_per_channel), videos_per_channel=videos_per_channel
    )
    generate_s = time.perf_counter() - started
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    result = train_forecaster(world.frames, ForecastOptions())
    train_s = time.perf_counter() - started
    rss_after = peak_rss_mb()
    with tempfile.TemporaryDirectory() as folder:
        manifest = save_model(
            result.forecaster, Path(folder), kind=MODEL_KIND, feature_version=FEATURE_VERSION
        )
        model_bytes = sum(p.stat().st_size for p in (Path(folder) / manifest.version).iterdir())
        started = time.perf_counter()
        predictor = Predictor.load(Path(folder))
        load_s = time.perf_counter() - started
    channel = str(world.frames.channels["channel_id"].iloc[0])
    last = world.frames.videos["published_at"].max()
    video = PlannedVideo(
        channel=channel,
        title="Why is this the best setup?",
        duration_seconds=630.0,
        published_at=(last + timedelta(days=1)).to_pydatetime(),
        tags=("setup", "review"),
    )
    for _ in range(5):
        predictor.predict(video)
    timings, cpu_timings = [], []
    cpu_started = time.process_time()
    load = [round(x, 2) for x in os.getloadavg()]
    for _ in range(latency_calls):
        started = time.perf_counter()
        cpu_start = time.thread_time()
        predictor.predict(video)
        cpu_timings.append((time.thread_time() - cpu_start) * 1000)
        timings.append((time.perf_counter() - started) * 1000)
    cpu_ms = (time.process_time() - cpu_started) / latency_calls * 1000
    peer = _batch_peer(predictor, video)
    report = result.report
    return {
        "videos": n_videos,
        "training_rows": result.data_window["n_videos"],
        "snapshots": len(world.frames.video_snapshots),
        "generate_s": round(generate_s, 1),
        "train_s": round(train_s, 1),
        "peak_rss_mb_before_training": round(rss_before),
        "peak_rss_mb": round(rss_after),
        "model_file_mb": round(model_bytes / 1e6, 2),
        "model_load_s": round(load_s, 2),
        "latency_ms": {
            "median": round(float(np.median(timings)), 2),
            "p95": round(float(np.percentile(timings, 95)), 2),
            "p99": round(float(np.percentile(timings, 99)), 2),
            "calls": latency_calls,
            "cpu_ms_per_call": round(cpu_ms, 3),
            # The calling thread's CPU time per call: what the wall time would be on an idle core.
            "thread_cpu_ms": {
                "median": round(float(np.median(cpu_timings)), 3),
                "p95": round(float(np.percentile(cpu_timings, 95)), 3),
                "p99": round(float(np.percentile(cpu_timings, 99)), 3),
            },
            "load_average": load,
        },
        "peer_batch": peer,
        "synthetic_accuracy": _accuracy(report),
    }


def _batch_peer(predictor: Any, video: Any, rows: int = 200, runs: int = 7) -> dict[str, Any]:
    """The peer of one prediction: the model's own batch forecast of ``rows`` such videos, per video
    (median of ``runs``), and one prediction's median over that, timed in turns with it."""
    import pandas as pd

    frame = pd.DataFrame(
        {
            "channel_id": [predictor.resolve_channel(video.channel)] * rows,
            "title": [f"{video.title} {i}" for i in range(rows)],
            "published_at": [pd.Timestamp(video.published_at)] * rows,
            "duration_seconds": [video.duration_seconds] * rows,
            "video_format": ["short" if video.short else "long"] * rows,
            "tag_count": [len(video.tags)] * rows,
            "category_id": [video.category_id] * rows,
        }
    )
    batch, single = [], []
    for _ in range(runs):
        started = time.perf_counter()
        predictor.forecaster.forecast(frame)
        batch.append((time.perf_counter() - started) * 1000 / rows)
        started = time.perf_counter()
        predictor.predict(video)
        single.append((time.perf_counter() - started) * 1000)
    per_video = float(np.median(batch))
    one = float(np.median(single))
    return {
        "rows": rows,
        "batch_per_video_ms": round(per_video, 3),
        "single_ms": round(one, 3),
        "single_over_batch_per_video": round(one / per_video, 2),
    }


def _accuracy(report: Any) -> dict[str, Any]:
    return {
        "n_test": report.n_test,
        "mae_log": {
            "model": round(report.model.mae, 4),
            "channel_median": round(report.baseline_channel_median.mae, 4),
            "channel_median_x_age_curve": round(report.baseline_age_curve.mae, 4),
            "ensemble": round(report.ensemble.mae, 4),
        },
        "median_ape_log_pct": {
            "model": round(report.model.median_ape, 3),
            "channel_median": round(report.baseline_channel_median.median_ape, 3),
            "channel_median_x_age_curve": round(report.baseline_age_curve.median_ape, 3),
        },
        "gain_vs_channel_median": round(report.gain_over(report.baseline_channel_median), 4),
        "gain_vs_age_curve": round(report.gain_over(report.baseline_age_curve), 4),
        "served": report.served,
        "served_minus_best_baseline": None
        if report.served_vs_best is None
        else {
            "mae_difference": round(report.served_vs_best.difference, 4),
            "ci": [round(report.served_vs_best.low, 4), round(report.served_vs_best.high, 4)],
        },
        "coverage": {f"{i.level:.2f}": round(i.coverage, 4) for i in report.intervals},
        "mean_width_log": {f"{i.level:.2f}": round(i.mean_width, 3) for i in report.intervals},
        "ensemble_weights": {k: round(v, 3) for k, v in report.ensemble_weights.items()},
        "split_sizes": report.split_sizes,
    }


def simulator(n_channels: int, seed: int) -> dict[str, Any]:
    from tubescope.analysis.frames import ChannelFrames
    from tubescope.emulator.world import World
    from tubescope.predict.model import ForecastOptions, train_forecaster
    from tubescope.testing import world_frames

    world = World(seed=seed, n_channels=n_channels)
    first = datetime(2024, 3, 1, tzinfo=UTC)
    times = [first + timedelta(days=3.5 * k) for k in range(95)]
    started = time.perf_counter()
    frames = ChannelFrames(**world_frames(world, world.channel_ids(), times))
    observe_s = time.perf_counter() - started
    started = time.perf_counter()
    result = train_forecaster(frames, ForecastOptions())
    return {
        "channels": n_channels,
        "seed": seed,
        "videos": len(frames.videos),
        "observations": len(times),
        "observe_s": round(observe_s, 1),
        "train_s": round(time.perf_counter() - started, 1),
        "accuracy": _accuracy(result.report),
    }


def _before_and_after(args: argparse.Namespace) -> dict[str, Any]:
    """The training child run twice: on revision ``args.before``'s tree, then on this one."""
    import tarfile
    from io import BytesIO

    root = Path(__file__).resolve().parent.parent
    out: dict[str, Any] = {"benchmark": "predict", "before_revision": args.before, "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="tubescope-predict-") as work:
        archive = subprocess.run(
            ["git", "-C", str(root), "archive", "--format=tar", args.before, "src"],
            capture_output=True,
            check=True,
        ).stdout
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(work, filter="data")
        for label, src in (("before", str(Path(work) / "src")), ("after", None)):
            env = dict(os.environ)
            if src is not None:
                env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
            load = [round(x, 2) for x in os.getloadavg()]
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    str(args.videos),
                    "--latency-calls",
                    str(args.latency_calls),
                ],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            if done.returncode != 0:
                out[label] = {"error": done.stderr.strip().splitlines()[-3:]}
            else:
                out[label] = json.loads(done.stdout.strip().splitlines()[-1])
            out[label]["load_average_before"] = load
    if "latency_ms" in out["before"] and "latency_ms" in out["after"]:
        before, after = out["before"]["latency_ms"], out["after"]["latency_ms"]
        out["summary"] = {
            "p95_speedup": round(before["p95"] / after["p95"], 2),
            "median_speedup": round(before["median"] / after["median"], 2),
            "p99_speedup": round(before["p99"] / after["p99"], 2),
            "cpu_speedup": round(before["cpu_ms_per_call"] / after["cpu_ms_per_call"], 2),
            "after_p95_under_20ms": after["p95"] < 20,
        }
    out["machine_after"] = {"load_average": [round(x, 2) for x in os.getloadavg()]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--videos", type=int, default=100_000, help="synthetic videos (default 100k)")
    parser.add_argument("--million", action="store_true", help="also train on 1,000,000 videos")
    parser.add_argument("--latency-calls", type=int, default=200)
    parser.add_argument("--simulator", type=int, default=0, help="channels of a simulated world to score")
    parser.add_argument("--seeds", type=int, nargs="*", default=[5, 21, 33])
    parser.add_argument("--before", help="git revision to measure first, in a child process")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.latency_calls)))
        return
    if args.before:
        print(json.dumps(_before_and_after(args), indent=2))
        return
    sizes = [args.videos] + ([1_000_000] if args.million else [])
    runs = []
    for size in sizes:
        completed = subprocess.run(
            [sys.executable, __file__, "--child", str(size), "--latency-calls", str(args.latency_calls)],
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            runs.append({"videos": size, "error": completed.stderr.strip().splitlines()[-1:]})
            continue
        runs.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    output: dict[str, Any] = {"benchmark": "predict", "machine": machine(), "training": runs}
    if args.simulator:
        output["simulator"] = [simulator(args.simulator, seed) for seed in args.seeds]
    output["machine_after"] = {"load_average": [round(x, 2) for x in os.getloadavg()]}
    print(json.dumps(output, indent=2))


if __name__ == "__main__":
    main()
