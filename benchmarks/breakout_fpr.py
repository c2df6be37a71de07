"""False-alert and hit rate of the ``breakout`` alert rule on emulated worlds, seen as watch mode sees them.

Prints one JSON object. For each World seed, every channel is watched from ``START`` for
``--days`` days, and the frames the rule reads are built straight from the world at the times
watch mode would take them (no HTTP: the rule itself is :func:`tubescope.analysis.alerts.breakout`,
run as it is after every run that lands):

- a daily refresh at ``START + k days`` stores a snapshot of every visible video;
- new uploads are known from their publish instant (WebSub push), and the hourly dense pass
  (:class:`tubescope.watch.plan.DenseSampling`, default schedule: hourly to 24 h, every 6 h to
  72 h) stores a snapshot and an early point for each young video whose sampling age fell in the
  hour before the pass; videos published before ``START`` are sampled for the ages still ahead;
- the rule runs at every whole hour, on everything stored by then.

A video counts as alerted when the rule raised it at any hour. The population is every video the
rule could check during the watch (published in the 7 days before ``START`` or during it, and at
least 72 h before the end); planted breakouts are the world's truth
(``world.channel_truth(i).breakout_video_ids``). ``false_alert_rate`` = unplanted alerted /
unplanted; ``hit_rate`` = planted alerted / planted.

Run: ``.venv/bin/python benchmarks/breakout_fpr.py [--seeds 1-10] [--days 28]``.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from tubescope.analysis.alerts import BREAKOUT_LOOKBACK, DEFAULT_THRESHOLDS, AlertInputs, AlertRule, breakout
from tubescope.emulator.world import World
from tubescope.watch.plan import DenseSampling

START = datetime(2026, 9, 14, tzinfo=UTC)
HOUR = timedelta(hours=1)
CHANNELS = 8
VIDEOS_PER_CHANNEL = 400  # about six uploads a week per channel from 2025-09: busy channels


def _seeds(text: str) -> list[int]:
    if "-" in text:
        first, last = text.split("-", 1)
        return list(range(int(first), int(last) + 1))
    return [int(part) for part in text.split(",")]


def _frames(world: World, start: datetime, end: datetime, dense: DenseSampling) -> dict[str, pd.DataFrame]:
    """videos, video_snapshots and early_points as a watch from ``start`` to ``end`` stores them."""
    tables = [world.video_table(i) for i in range(world.n_channels)]
    videos = pd.concat(tables, ignore_index=True)
    videos = videos[videos["published_at"] <= end].reset_index(drop=True)
    videos = videos[["video_id", "channel_id", "title", "published_at", "video_format"]]
    snapshots: list[tuple[str, datetime, int]] = []
    early: list[tuple[str, float, int, datetime]] = []
    horizon = dense.until + HOUR
    published = dict(zip(videos["video_id"], videos["published_at"].dt.to_pydatetime(), strict=True))
    at = start
    while at <= end:
        observation = world.observe(at)
        if (at - start) % timedelta(days=1) == timedelta(0):
            for channel_id in world.channel_ids():
                snapshots += [
                    (v.video_id, at, v.view_count) for v in observation.channel_video_states(channel_id)
                ]
        young = videos[(videos["published_at"] > at - horizon) & (videos["published_at"] <= at)]
        due = []
        for video_id in young["video_id"]:
            slot = dense.slot_due(published[video_id], at)
            if slot is not None:
                due.append((video_id, slot))
        states = {v.video_id: v.view_count for v in observation.videos([v for v, _ in due])}
        for video_id, slot in due:
            if video_id in states:
                snapshots.append((video_id, at, states[video_id]))
                early.append((video_id, slot, states[video_id], at))
        at += HOUR
    snaps = pd.DataFrame(snapshots, columns=["video_id", "observed_at", "view_count"]).drop_duplicates(
        ["video_id", "observed_at"]
    )
    points = pd.DataFrame(early, columns=["video_id", "slot_hours", "view_count", "observed_at"])
    for frame in (snaps, points):
        frame["observed_at"] = pd.to_datetime(frame["observed_at"], utc=True)
    return {"videos": videos, "video_snapshots": snaps, "early_points": points}


def _channel_inputs(frames: dict[str, pd.DataFrame], channel_id: str) -> AlertInputs:
    videos = frames["videos"]
    mine = videos[videos["channel_id"] == channel_id].reset_index(drop=True)
    ids = set(mine["video_id"])
    snaps = frames["video_snapshots"]
    points = frames["early_points"]
    return AlertInputs(
        videos=mine,
        video_snapshots=snaps[snaps["video_id"].isin(ids)].reset_index(drop=True),
        early_points=points[points["video_id"].isin(ids)].reset_index(drop=True),
    )


def measure_world(seed: int, days: int, rule: AlertRule) -> dict[str, Any]:
    """Alerted, planted and checked videos of one world watched ``days`` days from ``START``."""
    world = World(
        seed=seed,
        n_channels=CHANNELS,
        start=datetime(2025, 9, 1, tzinfo=UTC),
        videos_per_channel=VIDEOS_PER_CHANNEL,
    )
    end = START + timedelta(days=days)
    frames = _frames(world, START, end, DenseSampling())
    alerted: dict[str, dict[str, Any]] = {}
    # The rule is run per channel on that channel's frames (what it does inside anyway), and only
    # at hours when something of the channel landed: with nothing new its findings can only shrink.
    for channel_id in world.channel_ids():
        inputs = _channel_inputs(frames, channel_id)
        landed = set(inputs.video_snapshots["observed_at"]) if inputs.video_snapshots is not None else set()
        at = START
        while at <= end:
            if at in landed:
                for finding in breakout(rule, inputs, at):
                    if finding.video_id is not None and finding.video_id not in alerted:
                        age = finding.summary.split(" views at ", 1)[1].split(",", 1)[0]
                        alerted[finding.video_id] = {"score": finding.value, "age": age}
            at += HOUR
    planted = {v for i in range(world.n_channels) for v in world.channel_truth(i).breakout_video_ids}
    videos = frames["videos"]
    checked = videos[
        (videos["published_at"] > START - BREAKOUT_LOOKBACK) & (videos["published_at"] <= end - 72 * HOUR)
    ]
    population = set(checked["video_id"])
    return {
        "seed": seed,
        "videos": len(population),
        "planted": len(population & planted),
        "hits": len(population & planted & set(alerted)),
        "false_alerts": sorted(
            ({"video_id": v, **alerted[v]} for v in (population & set(alerted)) - planted),
            key=lambda a: -a["score"],
        ),
    }


def main() -> None:
    """Measure the rule over the seeds asked for and print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1-10", help="World seeds: 1-10 or 3,7")
    parser.add_argument("--days", type=int, default=28, help="days watched from START")
    parser.add_argument("--min-peers", type=int, default=AlertRule.__dataclass_fields__["min_peers"].default)
    args = parser.parse_args()
    rule = AlertRule(
        name="breakouts", kind="breakout", threshold=DEFAULT_THRESHOLDS["breakout"], min_peers=args.min_peers
    )
    began = time.perf_counter()
    worlds = [measure_world(seed, args.days, rule) for seed in _seeds(args.seeds)]
    videos = sum(w["videos"] for w in worlds)
    planted = sum(w["planted"] for w in worlds)
    false_alerts = sum(len(w["false_alerts"]) for w in worlds)
    hits = sum(w["hits"] for w in worlds)
    print(
        json.dumps(
            {
                "benchmark": "breakout_fpr",
                "watch_start": START.isoformat(),
                "days": args.days,
                "worlds": len(worlds),
                "channels_per_world": CHANNELS,
                "threshold": rule.threshold,
                "min_peers": rule.min_peers,
                "videos_checked": videos,
                "unplanted": videos - planted,
                "planted": planted,
                "false_alerts": false_alerts,
                "false_alert_rate": round(false_alerts / max(videos - planted, 1), 5),
                "hits": hits,
                "hit_rate": round(hits / max(planted, 1), 4),
                "per_world": worlds,
                "seconds": round(time.perf_counter() - began, 1),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
