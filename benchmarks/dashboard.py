"""Benchmark of the web dashboard's channel page: a warm view, p50/p99 over ``--views`` requests.

Collects a few emulated channels (in process, ``--days`` daily collections), starts the service
on a free loopback port, signs in with a cookie and requests one channel page ``--views`` times
after a first (cold) view. Also times the page the dashboard used to serve for a channel (the
whole report, rendered on every view) once, for comparison.

    .venv/bin/python benchmarks/dashboard.py [--views 200] [--days 5] [--channels 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, default=200)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from tubescope.logging import configure_logging

    configure_logging("WARNING")  # only the JSON figures go to stdout
    import httpx
    from tests.service.conftest import serve

    from tubescope.config import load_settings
    from tubescope.emulator.world import World
    from tubescope.jobs.collect import collect
    from tubescope.jobs.common import open_for_reading
    from tubescope.jobs.report import render_report
    from tubescope.jobs.tokens import Scope, token_store_for
    from tubescope.service.app import create_app
    from tubescope.service.state import ServiceOptions
    from tubescope.testing import running_emulator

    with tempfile.TemporaryDirectory(prefix="tubescope-dash-") as work:
        db_path = Path(work) / "warehouse.duckdb"
        world = World(seed=args.seed, n_channels=max(args.channels, 3))
        with running_emulator(world) as emulator:
            ids = world.channel_ids()[: args.channels]
            start = emulator.clock.now()
            for day in range(args.days):
                emulator.set_now(start + timedelta(days=day))
                collect(ids, db_path=db_path, api_keys=emulator.keys[:1], api_base=emulator.base_url)
        with open_for_reading(db_path) as warehouse:
            started = time.perf_counter()
            old_page = render_report(warehouse, ids[0]).html
            report_s = time.perf_counter() - started

        store = token_store_for(db_path)
        token = store.create(Scope.READ, "bench")[0]
        settings = load_settings(db_path=db_path, model_dir=Path(work))
        app = create_app(settings, ServiceOptions(db_path=db_path, token_file=store.path))
        url, server, thread = serve(app)
        try:
            with httpx.Client(base_url=url, cookies={"tubescope_token": token}, timeout=120) as client:
                started = time.perf_counter()
                first = client.get(f"/channels/{ids[0]}")
                cold_s = time.perf_counter() - started
                first.raise_for_status()
                samples = []
                for _ in range(args.views):
                    started = time.perf_counter()
                    response = client.get(f"/channels/{ids[0]}")
                    samples.append(time.perf_counter() - started)
                    response.raise_for_status()
        finally:
            server.should_exit = True
            thread.join(timeout=30)
    samples.sort()
    print(
        json.dumps(
            {
                "benchmark": "dashboard channel page",
                "views": args.views,
                "channels": args.channels,
                "days": args.days,
                "warm_p50_ms": round(statistics.median(samples) * 1000, 2),
                "warm_p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000, 2),
                "cold_ms": round(cold_s * 1000, 1),
                "page_bytes": len(first.content),
                "before_full_report_render_ms": round(report_s * 1000, 1),
                "before_page_bytes": len(old_page.encode("utf-8")),
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
