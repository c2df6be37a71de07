"""Benchmark of the executive report: analysis, model, HTML render and (when Chromium is there) drawing.

Builds frames for one emulated channel and its peers, observed once a day for ``--days`` days
(``tubescope.testing.world_frames``, the values the emulator would serve), then times each stage:

- ``analyze``: ``analyze_channel`` + fleet KPIs + benchmark + the default A/B comparisons;
- ``model``: ``build_report_model`` (bands, heatmap, KPIs, ETS forecast, change points);
- ``render``: ``render_html`` (Jinja2 + plotly figures), and the page size;
- ``browser``: headless Chromium loading the file until every chart has drawn (skipped without it).

    .venv/bin/python benchmarks/report.py [--days 30] [--peers 3] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--peers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from tubescope.analysis.abtest import run_ab_test
    from tubescope.analysis.benchmark import benchmark_channel
    from tubescope.analysis.frames import ChannelFrames
    from tubescope.analysis.summary import analyze_channel, fleet_kpis
    from tubescope.emulator.world import World
    from tubescope.jobs.report import DEFAULT_AB_FILTERS, find_chromium
    from tubescope.report.adapter import build_report_model
    from tubescope.report.html import build_charts, render_html
    from tubescope.testing import world_frames

    world = World(seed=args.seed, n_channels=max(8, args.peers + 1))
    ids = world.channel_ids()[: args.peers + 1]
    times = [world.end - timedelta(days=d) for d in range(args.days - 1, -1, -1)]
    started = time.perf_counter()
    frames = ChannelFrames(**world_frames(world, ids, times))
    generate_s = time.perf_counter() - started
    now = times[-1]
    figures: dict[str, Any] = {"days": args.days, "peers": args.peers, "videos": len(frames.videos)}

    started = time.perf_counter()
    analysis = analyze_channel(frames, ids[0], now)
    fleet = fleet_kpis(frames, now)
    benchmark = benchmark_channel(fleet, ids[0])
    own = frames.videos["channel_id"] == ids[0]
    own_frames = ChannelFrames(
        frames.channels, frames.videos[own].reset_index(drop=True), frames.video_snapshots,
        frames.channel_snapshots,
    )  # fmt: skip
    ab = [run_ab_test(own_frames, f, now=now) for f in DEFAULT_AB_FILTERS]
    figures["analyze_s"] = round(time.perf_counter() - started, 3)

    started = time.perf_counter()
    model = build_report_model(analysis, frames, now=now, benchmark=benchmark, fleet=fleet, ab_tests=ab)
    figures["model_s"] = round(time.perf_counter() - started, 3)

    started = time.perf_counter()
    page = render_html(model)
    figures["render_s"] = round(time.perf_counter() - started, 3)
    figures["html_mb"] = round(len(page.encode("utf-8")) / 1e6, 2)
    figures["charts"] = sum(len(c) for c in build_charts(model).values())

    chromium = find_chromium()
    if chromium is None:
        figures["browser_s"] = None
    else:
        from playwright.sync_api import sync_playwright

        with tempfile.TemporaryDirectory() as work:
            path = Path(work) / "report.html"
            path.write_text(page, encoding="utf-8")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(chromium), args=["--headless", "--no-sandbox", "--disable-gpu"]
                )
                tab = browser.new_page(viewport={"width": 1280, "height": 900})
                started = time.perf_counter()
                tab.goto(path.as_uri(), wait_until="load")
                tab.wait_for_function(
                    "Array.from(document.querySelectorAll('.plotly-graph-div'))"
                    ".every(d => d.querySelector('svg.main-svg'))"
                )
                figures["browser_s"] = round(time.perf_counter() - started, 3)
                browser.close()
    print(
        json.dumps(
            {
                "benchmark": "report",
                "figures": figures,
                "generate_frames_s": round(generate_s, 3),
                "machine": {
                    "platform": platform.platform(),
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
