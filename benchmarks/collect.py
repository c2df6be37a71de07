"""Benchmark of ``tubescope collect``: a fresh crawl of many channels against a slow emulator.

The emulator runs in a child process (so its CPU and memory are not the collector's) and adds a
fixed latency to every API request. A request-bound crawl can at best keep ``max_concurrency``
requests in flight, so its ceiling is ``max_concurrency / latency`` requests per second; the figure
of merit is the achieved rate over that bound (goal >= 0.8). Peak RSS is the collector process's.

A second, smaller crawl with no latency calibrates what this machine's CPUs allow (emulator and
collector together). When that is below the latency bound, the bound cannot be reached here, and
``ratio_to_attainable`` (achieved over the lower of the two) is the fair figure.

How the collector's CPU is measured: the emulator serves from a child process, so its CPU is not
in ``collector_cpu_seconds`` (user+sys of this process around ``collect()``: the event loop, the
HTTP stack, validation and the warehouse thread; the fixed start and the alert check after the run
included). ``collector_cpu_ms_per_request_marginal`` subtracts the calibration crawl's figures
(the same channels' sizes, fewer of them), which leaves the cost of one more request without the
fixed part. The emulator's own CPU is reported beside it.

With ``--latencies 25,50,100`` the main crawl runs once per latency and ``by_latency`` holds each
one's rate, bound, ratio and CPU per request.

Prints one JSON document with the figures and the machine. Defaults: 10 channels x 2,000 videos,
50 ms latency, 8 requests in flight.

    .venv/bin/python benchmarks/collect.py [--channels 10] [--videos 2000] [--latency-ms 50]
                                           [--latencies 25,50,100] [--concurrency 8]
                                           [--no-calibrate] [--before REV]

With ``--before REV`` the same crawl first runs against the source tree of git revision ``REV``
(extracted with ``git archive``, first on ``PYTHONPATH``) in a child process, then against this
tree; both figures land in one JSON document, each with its load average. The collector's CPU per
request is ``collector_cpu_ms_per_request`` (user+sys of the collecting process, its fixed start
included).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any


def _serve(conn: Connection, channels: int, videos: int, latency_ms: float) -> None:
    from tubescope.emulator.faults import FaultConfig
    from tubescope.emulator.world import World
    from tubescope.testing import running_emulator

    world = World(seed=2026, n_channels=channels, videos_per_channel=videos)
    with running_emulator(world, faults=FaultConfig(latency_ms=latency_ms)) as emu:
        listed = sum(len(world.observe(emu.clock.now()).uploads(cid)) for cid in world.channel_ids())
        conn.send(
            {"base_url": emu.base_url, "keys": emu.keys, "channels": world.channel_ids(), "listed": listed}
        )
        cpu_before = time.process_time()
        conn.recv()  # the collector is done
        usage = {m: u.calls for m, u in emu.ledger.usage(emu.keys[0]).items()}
        conn.send(
            {
                "calls": usage,
                "units": emu.ledger.total_units(emu.keys[0]),
                "cpu_seconds": time.process_time() - cpu_before,
            }
        )


@dataclass
class Crawl:
    listed: int
    calls: dict[str, int]
    units: int
    status: str
    videos_new: int
    snapshots: int
    seconds: float
    db_bytes: int
    emulator_cpu_seconds: float
    collector_cpu_seconds: float
    collector_run_delay_seconds: float = 0.0
    """Time the collector's event-loop thread sat runnable, waiting for a core (0 off Linux)."""

    @property
    def requests(self) -> int:
        return sum(self.calls.values())


def run_delay_seconds() -> float:
    """Seconds the calling thread has spent runnable but waiting for a CPU (Linux schedstat's
    run_delay): what a busy machine adds to wall time. 0.0 where the kernel does not report it."""
    try:
        return int(Path("/proc/thread-self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def crawl(channels: int, videos: int, latency_ms: float, concurrency: int) -> Crawl:
    """One fresh crawl, through the collect job, against a fresh emulator process."""
    from tubescope.config import Settings
    from tubescope.jobs.collect import collect

    ctx = mp.get_context("spawn")
    ours, theirs = ctx.Pipe()
    server = ctx.Process(target=_serve, args=(theirs, channels, videos, latency_ms), daemon=True)
    server.start()
    emulator: dict[str, Any] = ours.recv()
    settings = Settings(
        youtube_api_base=emulator["base_url"],
        requests_per_second=100_000.0,  # the bound under test is concurrency / latency, not a rate cap
        max_concurrency=concurrency,
    )
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "bench.duckdb"
        started = time.perf_counter()
        cpu_before = time.process_time()
        delay_before = run_delay_seconds()
        summary = collect(emulator["channels"], db_path=db, api_keys=emulator["keys"][:1], settings=settings)
        seconds = time.perf_counter() - started
        collector_cpu = time.process_time() - cpu_before
        run_delay = run_delay_seconds() - delay_before
        db_bytes = db.stat().st_size
    ours.send("done")
    ledger: dict[str, Any] = ours.recv()
    server.join(timeout=30)
    return Crawl(
        listed=emulator["listed"],
        calls=ledger["calls"],
        units=ledger["units"],
        status=str(summary.status),
        videos_new=summary.videos_new,
        snapshots=summary.snapshots,
        seconds=seconds,
        db_bytes=db_bytes,
        emulator_cpu_seconds=ledger["cpu_seconds"],
        collector_cpu_seconds=collector_cpu,
        collector_run_delay_seconds=run_delay,
    )


def _before_and_after(args: argparse.Namespace) -> dict[str, Any]:
    """This script run twice as children: on revision ``args.before``'s tree, then on this one."""
    import subprocess
    import tarfile
    from io import BytesIO

    root = Path(__file__).resolve().parent.parent
    forwarded = [
        "--channels", str(args.channels), "--videos", str(args.videos),
        "--latency-ms", str(args.latency_ms), "--concurrency", str(args.concurrency),
        *(["--latencies", args.latencies] if args.latencies else []),
        *(["--no-calibrate"] if args.no_calibrate else []),
    ]  # fmt: skip
    out: dict[str, Any] = {"benchmark": "collect", "before_revision": args.before}
    with tempfile.TemporaryDirectory(prefix="tubescope-collect-") as work:
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
                [sys.executable, __file__, *forwarded], capture_output=True, text=True, env=env, check=False
            )
            if done.returncode != 0:
                out[label] = {"error": done.stderr.strip().splitlines()[-3:]}
            else:
                out[label] = json.loads(done.stdout)
            out[label]["load_average_before"] = load
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--videos", type=int, default=2000, help="uploads per channel over the world's span")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (max_concurrency)")
    parser.add_argument("--latencies", help="latencies in ms, comma-separated: one more crawl each")
    parser.add_argument("--no-calibrate", action="store_true", help="skip the no-latency calibration crawl")
    parser.add_argument("--before", help="git revision to measure first, in a child process")
    args = parser.parse_args()
    if args.before:
        print(json.dumps(_before_and_after(args), indent=2))
        return

    from tubescope.logging import configure_logging

    configure_logging("WARNING", json=True)
    main_run = crawl(args.channels, args.videos, args.latency_ms, args.concurrency)
    peak_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rate = main_run.requests / main_run.seconds
    bound = args.concurrency / (args.latency_ms / 1000.0) if args.latency_ms > 0 else float("inf")
    result: dict[str, Any] = {
        "benchmark": "collect",
        "machine": {
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "cpu_count": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
        "parameters": {
            "channels": args.channels,
            "videos_per_channel": args.videos,
            "latency_ms": args.latency_ms,
            "max_concurrency": args.concurrency,
        },
        "status": main_run.status,
        "videos_listed": main_run.listed,
        "videos_stored": main_run.videos_new,
        "snapshots": main_run.snapshots,
        "requests": main_run.requests,
        "requests_by_method": main_run.calls,
        "quota_units": main_run.units,
        "seconds": round(main_run.seconds, 3),
        "videos_per_second": round(main_run.videos_new / main_run.seconds, 1),
        "requests_per_second": round(rate, 1),
        "bound_requests_per_second": round(bound, 1) if bound != float("inf") else None,
        "ratio_to_bound": round(rate / bound, 3) if bound != float("inf") else None,
        "peak_rss_mib": round(peak_rss_kb / 1024, 1),
        "collector_cpu_seconds": round(main_run.collector_cpu_seconds, 2),
        "collector_cpu_ms_per_request": round(
            1000 * main_run.collector_cpu_seconds / max(1, main_run.requests), 2
        ),
        # user+sys of the collecting process per stored video: the figure that does not move
        # with the machine's load
        "collector_cpu_us_per_video": round(
            1e6 * main_run.collector_cpu_seconds / max(1, main_run.videos_new)
        ),
        "emulator_cpu_seconds": round(main_run.emulator_cpu_seconds, 2),
        "warehouse_mib": round(main_run.db_bytes / 2**20, 1),
    }
    if args.latencies:
        result["by_latency"] = {}
        for text in args.latencies.split(","):
            latency = float(text)
            load = round(os.getloadavg()[0], 2)
            one = crawl(args.channels, args.videos, latency, args.concurrency)
            one_rate = one.requests / one.seconds
            one_bound = args.concurrency / (latency / 1000.0)
            result["by_latency"][text.strip()] = {
                "requests": one.requests,
                "seconds": round(one.seconds, 3),
                "requests_per_second": round(one_rate, 1),
                "bound_requests_per_second": round(one_bound, 1),
                "ratio_to_bound": round(one_rate / one_bound, 3),
                "collector_cpu_ms_per_request": round(1000 * one.collector_cpu_seconds / one.requests, 2),
                "emulator_cpu_ms_per_request": round(1000 * one.emulator_cpu_seconds / one.requests, 2),
                "load_average_1m_before": load,
                "load_average_1m_after": round(os.getloadavg()[0], 2),
            }
    if not args.no_calibrate:
        calibration = crawl(max(1, args.channels // 5), args.videos, 0.0, args.concurrency)
        cpu_rate = calibration.requests / calibration.seconds
        result["cpu_bound_requests_per_second_no_latency"] = round(cpu_rate, 1)
        result["ratio_to_attainable"] = round(rate / min(bound, cpu_rate), 3)
        extra_requests = main_run.requests - calibration.requests
        if extra_requests > 0:
            extra_cpu = main_run.collector_cpu_seconds - calibration.collector_cpu_seconds
            result["collector_cpu_ms_per_request_marginal"] = round(1000 * extra_cpu / extra_requests, 2)
    result["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
