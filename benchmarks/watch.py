"""Benchmark of watch mode: how many channels of 200 videos one API key's daily quota can watch.

A world of ``--channels`` channels of 200 videos each (uploading about weekly, so about
``channels / 7`` new videos a day) is collected once, then watched for one emulated day exactly
as ``tubescope serve`` does it (:func:`tubescope.jobs.watch.sweep`): a daily tick that refreshes
every known video through ``videos.batchGetStats`` and reads each uploads playlist, every new
upload pushed (as the WebSub hub does) and fetched at once, and the dense pass at every whole hour
(hourly samples to 24 h, then every 6 h to 72 h). The units are read from the emulator's own
quota ledger for the watching key (the collect uses another key), per quota bucket.

The capacity of one key is the measured per-channel cost scaled to 10,000 units in the fuller
bucket, next to ``watch plan``'s forecast for the same list. Prints one JSON document (load
average noted: the machine is shared, so times are noisy; the units are not).

    .venv/bin/python benchmarks/watch.py [--channels 2000] [--seed 11] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

VIDEOS_PER_CHANNEL = 200
DAYS_OF_UPLOADS = 1400  # 200 videos over 1,400 days: one upload a week
KEY_DAILY_QUOTA = 10_000
COLLECT_KEY = "bench-collect-key"
WATCH_KEY = "bench-watch-key"


def run(channels: int, seed: int) -> dict[str, Any]:
    """Collect, then watch ``channels`` channels for one emulated day; the figures."""
    from tubescope.config import load_settings
    from tubescope.emulator.quota import bucket_of
    from tubescope.emulator.world import DEFAULT_END, World
    from tubescope.jobs.collect import collect
    from tubescope.jobs.watch import daily_plan, sweep
    from tubescope.testing import fixed_clock, running_emulator
    from tubescope.warehouse import Warehouse
    from tubescope.warehouse.watches import add_watches
    from tubescope.watch.plan import pass_at
    from tubescope.watch.schedule import claim_due

    world = World(
        seed=seed,
        n_channels=channels,
        start=DEFAULT_END - timedelta(days=DAYS_OF_UPLOADS),
        videos_per_channel=VIDEOS_PER_CHANNEL,
    )
    start = pass_at(DEFAULT_END - timedelta(days=20))
    ids = world.channel_ids()
    published: dict[str, tuple[str, Any]] = {}  # video_id -> (channel, published_at), the hub's truth
    for channel_id in ids:
        table = world.video_table(channel_id)
        recent = table[table["published_at"] > start - timedelta(days=1)]
        for video_id, when in zip(recent["video_id"], recent["published_at"], strict=True):
            published[str(video_id)] = (channel_id, when)
    keys = {COLLECT_KEY: 10**9, WATCH_KEY: 10**9}  # the ledger counts; nothing is refused
    figures: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_emulator(world, keys=keys, clock=fixed_clock(start)) as emu,
    ):
        db = Path(tmp) / "watch.duckdb"
        fast = {"requests_per_second": 10_000.0, "max_concurrency": 8, "request_timeout_seconds": 120.0}
        began = time.perf_counter()
        base = {"db_path": db, "youtube_api_base": emu.base_url, **fast}
        collect(ids, settings=load_settings(api_keys=[COLLECT_KEY], **base))
        figures["collect_seconds"] = round(time.perf_counter() - began, 1)
        settings = load_settings(api_keys=[WATCH_KEY], **base)
        with Warehouse.open(db) as warehouse:
            add_watches(warehouse, ids, every=timedelta(days=1), group="bench", at=start)
            stored = warehouse.fetchall("SELECT count(*) FROM videos WHERE NOT is_deleted")[0][0]
        forecast = daily_plan(settings=settings, keys=1)

        before = {m: u.units for m, u in emu.ledger.usage(WATCH_KEY).items()}
        pushed_ids = {v for v, (_, when) in published.items() if when <= start}  # collected already
        samples = new_videos = 0
        began = time.perf_counter()
        for hour in range(24):
            now = start + timedelta(hours=hour)
            emu.set_now(now)
            seen = world.observe(now)
            pushed = {
                v: c
                for v, (c, when) in published.items()
                if when <= now and v not in pushed_ids and seen.video(v) is not None
            }
            pushed_ids |= set(pushed)
            with Warehouse.open(db) as warehouse:
                due = claim_due(warehouse, now)
            result = sweep(now, channel_ids=due, pushed=pushed, settings=settings)
            samples += result.dense_samples
            new_videos += result.new_videos
            print(f"hour {hour:2d}: {len(due)} channels, {len(pushed)} pushed, {result.dense_samples} dense",
                  file=sys.stderr)  # fmt: skip
        figures["watch_day_seconds"] = round(time.perf_counter() - began, 1)
        units: dict[str, int] = {}
        for method, usage in emu.ledger.usage(WATCH_KEY).items():
            spent = usage.units - before.get(method, 0)
            units[bucket_of(method)] = units.get(bucket_of(method), 0) + spent
        rejected = sum(u.rejected for u in emu.ledger.usage(WATCH_KEY).values())
    fullest = max(units.values())
    return {
        **figures,
        "channels": channels,
        "live_videos_stored": stored,
        "videos_per_channel": round(stored / channels, 1),
        "new_videos_in_the_day": new_videos,
        "dense_samples_in_the_day": samples,
        "measured_units_per_day": units,
        "rejected_calls": rejected,
        "key_daily_quota_per_bucket": KEY_DAILY_QUOTA,
        "fits_one_key": fullest <= KEY_DAILY_QUOTA,
        "channels_per_key_measured": int(channels * KEY_DAILY_QUOTA // fullest),
        "plan_units_per_day": forecast.units_per_day,
        "plan_max_channels_per_key": forecast.max_channels,
    }


def main() -> None:
    """Run the benchmark and print (or write) its JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--channels", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from tubescope.logging import configure_logging

    configure_logging("WARNING", json=True)
    load_before = [round(x, 2) for x in os.getloadavg()]
    result = run(args.channels, args.seed)
    document = {
        "benchmark": "watch",
        "goal": "channels of 200 videos per key at daily snapshots, new videos densely sampled: >= 2000",
        **result,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    text = json.dumps(document, indent=2, default=str)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
