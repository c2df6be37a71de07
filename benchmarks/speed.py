"""Where users wait: CLI start, one big channel's analysis and its report, before and after.

Measures, each in a fresh child process (so imports and peak RSS are the phase's own):

- ``cli``: ``tubescope --help`` and ``tubescope version`` wall time (median of ``--repeat``),
  beside the peer ``python -c pass`` (the interpreter's own start) measured in the same run;
- ``analyze``: one ``--videos``-video channel (20 snapshots a video, generated with
  ``benchmarks/analyze.py``'s SQL): frames loaded from DuckDB, then ``analyze_channel`` twice, the
  first call in a fresh process (imports included) and the second warm; wall, CPU, peak RSS;
- ``imports``: the analysis's import floor (the modules ``analyze`` imports plus the libraries its
  first call imports), CPU and peak RSS; ``analysis_memory`` gives the analysis's peak RSS both
  whole and over this floor;
- ``report``: ``render_report`` of the same channel (HTML in memory) in a fresh process: what
  ``tubescope report`` spends before writing the file;
- ``report_cli``: ``tubescope report`` of the ``--videos``-video channel end to end (HTML written),
  wall and CPU (median of ``--repeat``);
- ``analyze_cli``: ``tubescope analyze`` end to end (start, imports, read, analysis, terminal
  summary) on a ``--small-videos``-video channel, wall and CPU (median of ``--repeat``).

Every tree measured is byte-compiled first (``compileall``, with the site-packages), as an
installed package is: a tree run from source without ``__pycache__`` (``PYTHONDONTWRITEBYTECODE``)
compiles every module on every start, which once added seconds to each figure.

With ``--before REV`` every phase also runs against the source tree of git revision ``REV``
(extracted with ``git archive`` and put first on ``PYTHONPATH``), interleaved with the current
tree, so both sides share the machine's load, and ``after_over_before`` gives each CPU figure's
ratio. ``--rounds`` repeats the analysis and report phases (fresh processes, interleaved) and
keeps the medians. The load average (``os.getloadavg()``) is recorded before and after every
phase. One JSON document on stdout.

    .venv/bin/python benchmarks/speed.py [--videos 10000] [--small-videos 1000] [--repeat 3]
        [--rounds 3] [--before 5901746]
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
    elif name == "imports":
        # The analysis's import floor: what analyze imports up front plus the libraries its first
        # call imports (IsolationForest, STL, change points), and nothing else. ETS is not among
        # them: the analysis never fits it (the forecast every surface shows is the calibrated one).
        import ruptures  # noqa: F401
        import sklearn.ensemble  # noqa: F401
        import statsmodels.tsa.seasonal  # noqa: F401

        from tubescope.analysis.frames import ChannelFrames
        from tubescope.analysis.summary import analyze_channel
        from tubescope.warehouse.repository import Warehouse
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


def _generate_for(src: Path | None, path: Path, videos: int) -> dict[str, Any]:
    """The warehouse generated by the tree that will read it (an older tree cannot open a newer
    schema), in a child process with that tree first on the path."""
    done = subprocess.run(
        [sys.executable, __file__, "--generate", "--db", str(path), "--videos", str(videos)],
        capture_output=True,
        text=True,
        check=False,
        env=_env(src),
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-3:] or ["failed"]}
    return dict(json.loads(done.stdout))


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


def _median_of_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One phase's figures over several interleaved runs: the median of every number (wall and
    CPU of each step, peak RSS), with the per-run total CPU kept beside it."""
    failed = [run for run in runs if "error" in run]
    if failed:
        return failed[0]

    def merged(values: list[Any]) -> Any:
        if all(isinstance(v, dict) for v in values):
            return {key: merged([v[key] for v in values]) for key in values[0] if key != "load_average"}
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            return round(statistics.median(values), 3)
        return values[0]

    out = dict(merged(runs))
    out["rounds"] = len(runs)
    out["total_cpu_s_each"] = [run.get("total", {}).get("cpu_s") for run in runs]
    out["load_average"] = {"first": runs[0].get("load_average"), "last": runs[-1].get("load_average")}
    return out


def _ratios(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """After / before of each CPU figure (CPU moves far less with the machine's load than wall)."""
    if "before" not in results:
        return {}
    figures = {
        "cli_help_cpu": ("cli", "help", "cpu_median_s"),
        "cli_version_cpu": ("cli", "version", "cpu_median_s"),
        "analysis_first_call_cpu": ("analyze", "first_call", "cpu_s"),
        "analysis_warm_call_cpu": ("analyze", "warm_call", "cpu_s"),
        "analysis_peak_rss": ("analyze", "peak_rss_mb"),
        "analysis_peak_over_imports": ("analysis_memory", "peak_over_imports_mb"),
        "import_floor_rss": ("imports", "peak_rss_mb"),
        "import_floor_cpu": ("imports", "total", "cpu_s"),
        "report_total_cpu": ("report", "total", "cpu_s"),
        "report_peak_rss": ("report", "peak_rss_mb"),
        "analyze_cli_small_cpu": ("analyze_cli", "cpu_median_s"),
        "report_cli_cpu": ("report_cli", "cpu_median_s"),
    }
    ratios: dict[str, Any] = {}
    for name, keys in figures.items():
        values = []
        for label in ("after", "before"):
            value: Any = results[label]
            for key in keys:
                value = value.get(key) if isinstance(value, dict) else None
            values.append(value)
        after, before = values
        ratios[name] = round(after / before, 3) if after is not None and before else None
    return ratios


def _start_wall(args: list[str], src: Path | None, repeat: int) -> dict[str, Any]:
    """Wall time of a fresh interpreter running ``args``, and its CPU (user+sys), which moves far
    less with the machine's load than the wall time does."""
    times, cpus = [], []
    load_before = _load()
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([sys.executable, *args], capture_output=True, check=True, env=_env(src))
        times.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return {
        "median_s": round(statistics.median(times), 3),
        "min_s": round(min(times), 3),
        "cpu_median_s": round(statistics.median(cpus), 3),
        "runs": repeat,
        "load_average": {"before": load_before, "after": _load()},
    }


def cli_figures(src: Path | None, repeat: int) -> dict[str, Any]:
    return {
        "help": _start_wall(["-m", "tubescope.cli", "--help"], src, repeat),
        "version": _start_wall(["-m", "tubescope.cli", "version"], src, repeat),
    }


def compile_bytecode(src: Path | None) -> dict[str, Any]:
    """Bytecode for ``src`` (default: this tree's ``src``) and the interpreter's site-packages,
    written where the interpreter looks for it; files already compiled are skipped."""
    import sysconfig

    paths = sysconfig.get_paths()
    targets = dict.fromkeys([str(src or ROOT / "src"), paths["purelib"], paths["platlib"]])
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j0", *targets], capture_output=True, check=False
    )
    return {"seconds": round(time.perf_counter() - started, 2), "returncode": done.returncode}


def analyze_cli_figures(src: Path | None, path: Path, repeat: int) -> dict[str, Any]:
    """``tubescope analyze`` of the one channel in ``path``, end to end in a fresh interpreter."""
    import duckdb  # plain DuckDB: the warehouse may be in another tree's schema

    with duckdb.connect(str(path), read_only=True) as connection:
        row = connection.execute("SELECT min(channel_id) FROM channels").fetchone()
    channel_id = str(row[0]) if row else ""
    figures = _start_wall(["-m", "tubescope.cli", "analyze", channel_id, "--db", str(path)], src, repeat)
    figures["channel_id"] = channel_id
    return figures


def report_cli_figures(src: Path | None, path: Path, repeat: int) -> dict[str, Any]:
    """``tubescope report`` of the one channel in ``path`` (the big one), end to end in a fresh
    interpreter: what a person waits for (start, imports, read, analysis, HTML written)."""
    import duckdb

    with duckdb.connect(str(path), read_only=True) as connection:
        row = connection.execute("SELECT min(channel_id) FROM channels").fetchone()
    channel_id = str(row[0]) if row else ""
    with tempfile.TemporaryDirectory(prefix="tubescope-report-") as out:
        command = ["-m", "tubescope.cli", "report", channel_id, "--db", str(path)]
        return _start_wall([*command, "--out", str(Path(out) / "r.html"), "--no-summary"], src, repeat)


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
    parser.add_argument(
        "--small-videos", type=int, default=1_000, help="videos of the channel `tubescope analyze` reads"
    )
    parser.add_argument("--repeat", type=int, default=5, help="CLI starts per figure")
    parser.add_argument(
        "--rounds", type=int, default=1, help="fresh processes per analysis and report figure (median)"
    )
    parser.add_argument("--before", help="git revision to measure beside the working tree")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.db)))
        return
    if args.generate:
        print(json.dumps(generate(args.db, args.videos)))
        return
    load_at_start = _load()
    with tempfile.TemporaryDirectory(prefix="tubescope-speed-") as work:
        trees: dict[str, Path | None] = {"after": None}
        if args.before:
            trees = {"before": extract(args.before, Path(work) / "before"), "after": None}
        bytecode = {label: compile_bytecode(src) for label, src in trees.items()}
        # The same data for both trees, each in the schema its own code writes.
        paths = {label: Path(work) / f"channel-{label}.duckdb" for label in trees}
        small = {label: Path(work) / f"small-{label}.duckdb" for label in trees}
        generated = {label: _generate_for(src, paths[label], args.videos) for label, src in trees.items()}
        for label, src in trees.items():
            generated[f"{label}_small"] = _generate_for(src, small[label], args.small_videos)
        results: dict[str, dict[str, Any]] = {label: {} for label in trees}
        peer = _start_wall(["-c", "pass"], None, args.repeat)
        for label, src in trees.items():  # interleaved phase by phase: both sides share the load
            results[label]["cli"] = cli_figures(src, args.repeat)
        for name in ("imports", "analyze", "report"):
            runs: dict[str, list[dict[str, Any]]] = {label: [] for label in trees}
            for _ in range(args.rounds):  # interleaved round by round: both sides share the load
                for label, src in trees.items():
                    runs[label].append(_child(name, paths[label], src))
            for label in trees:
                results[label][name] = _median_of_runs(runs[label])
        for label, src in trees.items():
            results[label]["analyze_cli"] = analyze_cli_figures(src, small[label], args.repeat)
        for label, src in trees.items():
            results[label]["report_cli"] = report_cli_figures(src, paths[label], args.repeat)
    after = results["after"]
    goals = {
        "cli_help_under_0_5s": after["cli"]["help"]["median_s"] < 0.5,
        "analysis_warm_under_1s": after["analyze"].get("warm_call", {}).get("wall_s", 1e9) < 1.0,
        "analysis_peak_rss_under_300mb": after["analyze"].get("peak_rss_mb", 1e9) < 300,
        "report_under_3s": after["report"].get("total", {}).get("wall_s", 1e9) < 3.0,
        "analyze_cli_small_under_1_5s": after["analyze_cli"]["median_s"] < 1.5,
        "report_cli_under_3s": after["report_cli"]["median_s"] < 3.0,
        "note": "goals hold on a quiet machine; compare wall with cpu and the load average beside it",
    }
    for label in trees:
        # Memory, two ways: the analysis process's peak RSS (VmHWM: imports, DuckDB, frames and
        # the analysis together) and that peak over the import floor (the "imports" phase).
        peak = results[label]["analyze"].get("peak_rss_mb")
        floor = results[label]["imports"].get("peak_rss_mb")
        over = round(peak - floor, 1) if peak is not None and floor is not None else None
        results[label]["analysis_memory"] = {
            "peak_rss_mb": peak,
            "import_floor_rss_mb": floor,
            "peak_over_imports_mb": over,
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
                "small_videos": args.small_videos,
                "bytecode": bytecode,
                "generated": generated,
                "peer_python_start": peer,
                "results": results,
                "after_over_before": _ratios(results),
                "goals": goals,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
