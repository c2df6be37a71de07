"""Where users wait: CLI start, one big channel's analysis and its report, before and after.

Measures, each in a fresh child process (so imports and peak RSS are the phase's own):

- ``cli``: ``tubescope --help`` and ``tubescope version`` wall time (median of ``--repeat``),
  beside the peer ``python -c pass`` (the interpreter's own start) measured in the same run;
- ``analyze``: one ``--videos``-video channel (20 snapshots a video, generated with
  ``benchmarks/analyze.py``'s SQL): frames loaded from DuckDB, then ``analyze_channel`` twice, the
  first call in a fresh process (imports included) and the second warm; wall, CPU, peak RSS;
- ``report``: ``render_report`` of the same channel (HTML in memory) in a fresh process: what
  ``tubescope report`` spends before writing the file.

With ``--before REV`` every phase also runs against the source tree of git revision ``REV``
(extracted with ``git archive`` and put first on ``PYTHONPATH``), interleaved with the current
tree, so both sides share the machine's load. The load average (``os.getloadavg()``) is recorded
before and after every phase. One JSON document on stdout.

    .venv/bin/python benchmarks/speed.py [--videos 10000] [--repeat 3] [--before 5901746]
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
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 6, 1, tzinfo=UTC)
SNAPSHOTS_PER_VIDEO = 20


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> dict[str, float]:
    wall, cpu = _clocks()
    return {"wall_s": round(wall - start[0], 3), "cpu_s": round(cpu - start[1], 3)}


def _channel(path: Path) -> str:
    from tubescope.warehouse.repository import Warehouse

    with Warehouse.open(path, read_only=True) as warehouse:
        found = warehouse.connection().execute("SELECT channel_id FROM channels ORDER BY channel_id LIMIT 1")
        row = found.fetchone()
    return str(row[0]) if row else ""


def phase(name: str, path: Path) -> dict[str, Any]:
    """One measurement in this (fresh) process."""
    import warnings

    warnings.filterwarnings("ignore")  # scipy's tie warnings on generated data are not the point
    out: dict[str, Any] = {"phase": name}
    started = _clocks()
    if name == "analyze":
        from tubescope.analysis.frames import ChannelFrames
        from tubescope.analysis.summary import analyze_channel
        from tubescope.warehouse.repository import Warehouse

        out["import"] = _since(started)
        channel_id = _channel(path)
        step = _clocks()
        with Warehouse.open(path, read_only=True) as warehouse:
            loaded = warehouse.load_frames([channel_id])
        frames = ChannelFrames(
            **{k: loaded[k] for k in ("channels", "videos", "video_snapshots", "channel_snapshots")}
        )
        out["load_frames"] = _since(step)
        out["videos"] = len(frames.videos)
        step = _clocks()
        analyze_channel(frames, channel_id, NOW)
        out["first_call"] = _since(step)
        step = _clocks()
        analysis = analyze_channel(frames, channel_id, NOW)
        out["warm_call"] = _since(step)
        step = _clocks()
        out["json_kb"] = round(len(json.dumps(analysis.to_dict())) / 1024, 1)
        out["to_json"] = _since(step)
    elif name == "report":
        from tubescope.jobs.common import open_for_reading
        from tubescope.jobs.report import render_report

        channel_id = _channel(path)
        with open_for_reading(path) as warehouse:
            rendered = render_report(warehouse, channel_id, now=NOW)
        out["html_mb"] = round(len(rendered.html) / 1e6, 2)
    else:
        raise SystemExit(f"unknown phase {name}")
    out["total"] = _since(started)
    out["peak_rss_mb"] = _peak_rss_mb()
    return out


def _env(src: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _child(name: str, path: Path, src: Path | None) -> dict[str, Any]:
    before = _load()
    done = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--db", str(path)],
        capture_output=True,
        text=True,
        check=False,
        env=_env(src),
    )
    if done.returncode != 0:
        return {"phase": name, "error": done.stderr.strip().splitlines()[-3:] or ["failed"]}
    result = dict(json.loads(done.stdout))
    result["load_average"] = {"before": before, "after": _load()}
    return result


def _start_wall(args: list[str], src: Path | None, repeat: int) -> dict[str, Any]:
    times = []
    load_before = _load()
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, *args], capture_output=True, check=True, env=_env(src))
        times.append(time.perf_counter() - started)
    return {
        "median_s": round(statistics.median(times), 3),
        "min_s": round(min(times), 3),
        "runs": repeat,
        "load_average": {"before": load_before, "after": _load()},
    }


def cli_figures(src: Path | None, repeat: int) -> dict[str, Any]:
    return {
        "help": _start_wall(["-m", "tubescope.cli", "--help"], src, repeat),
        "version": _start_wall(["-m", "tubescope.cli", "version"], src, repeat),
    }


def extract(revision: str, into: Path) -> Path:
    """The ``src`` tree of ``revision`` under ``into`` (read from git, nothing checked out)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "src"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def generate(path: Path, videos: int) -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from analyze import generate as generate_warehouse  # the fleet benchmark's generator

    return generate_warehouse(path, videos * SNAPSHOTS_PER_VIDEO, per_channel=videos)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--videos", type=int, default=10_000, help="videos of the one channel")
    parser.add_argument("--repeat", type=int, default=3, help="CLI starts per figure")
    parser.add_argument("--before", help="git revision to measure beside the working tree")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.db)))
        return
    load_at_start = _load()
    with tempfile.TemporaryDirectory(prefix="tubescope-speed-") as work:
        path = Path(work) / "channel.duckdb"
        generated = generate(path, args.videos)
        trees: dict[str, Path | None] = {"after": None}
        if args.before:
            trees = {"before": extract(args.before, Path(work) / "before"), "after": None}
        results: dict[str, dict[str, Any]] = {label: {} for label in trees}
        peer = _start_wall(["-c", "pass"], None, args.repeat)
        for label, src in trees.items():  # interleaved phase by phase: both sides share the load
            results[label]["cli"] = cli_figures(src, args.repeat)
        for name in ("analyze", "report"):
            for label, src in trees.items():
                results[label][name] = _child(name, path, src)
    after = results["after"]
    goals = {
        "cli_help_under_0_5s": after["cli"]["help"]["median_s"] < 0.5,
        "analysis_warm_under_1s": after["analyze"].get("warm_call", {}).get("wall_s", 1e9) < 1.0,
        "analysis_peak_rss_under_300mb": after["analyze"].get("peak_rss_mb", 1e9) < 300,
        "report_under_3s": after["report"].get("total", {}).get("wall_s", 1e9) < 3.0,
        "note": "goals hold on a quiet machine; compare wall with cpu and the load average beside it",
    }
    import psutil

    print(
        json.dumps(
            {
                "benchmark": "speed",
                "videos": args.videos,
                "before_revision": args.before,
                "machine": {
                    "platform": platform.platform(),
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
                },
                "load_average": {"start": load_at_start, "end": _load()},
                "generated": generated,
                "peer_python_start": peer,
                "results": results,
                "goals": goals,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
