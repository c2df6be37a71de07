"""False-positive rates of every "pattern found" flag on real data with the pattern destroyed.

    python benchmarks/flags_real.py [--data ../shared/data/real] [--out flags_real.json]

The real channel tracker (``yt-channel-tracker-2026``, internal testing only) supplies daily
channel views and per-video views. Each flag is run where it cannot be true:

* weekly season (``decompose_weekly``) and best weekday of daily gains: days shuffled;
* best publish time (``analyze_timing``): performance shuffled across a channel's videos;
* trend break (``detect_change_points``): a channel's daily views resampled in random order to
  12 weeks (the tracker has only ~30 days per channel, less than the detector needs);
* consensus outlier (``analyze_outliers``): a channel's videos with views drawn from one
  log-normal (the channel's own median and MAD-scale of log views).

A flag that is a test at 5% fires on at most about 5%. The trend break is also run on the
emulator's channels near random dates and at planted breaks (the figures issue 14 quotes).
Writes one JSON (stdout and ``--out``) with the load average: the machine is shared, so times are
noisy, the rates are not.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tubescope.analysis.growth import DailyGain
from tubescope.analysis.outliers import analyze_outliers
from tubescope.analysis.timeseries import (
    ChangePointResult,
    DailyViews,
    SeasonalDecomposition,
    daily_channel_views,
    decompose_weekly,
    detect_change_points,
)
from tubescope.analysis.timing import TimingOptions, analyze_daily_season, analyze_timing

REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "real"
ALPHA = 0.05

BEFORE = {
    "source": "issue 14 (an independent check of the code before this change)",
    "weekly_season_shuffled": 0.76,
    "weekly_season_real_channels": "18 of 24",
    "trend_break_emulator_near_random_dates": [0.21, 0.23],
    "measured_here_before_the_change": {
        "trend_break_resampled_real": 0.185,
        "consensus_outlier_null_real_channels": 0.179,
    },
}


def rate(flags: list[bool]) -> dict[str, Any]:
    """Share of trials flagged, with its binomial standard error and the test's allowance."""
    n = len(flags)
    share = float(np.mean(flags)) if n else math.nan
    return {
        "rate": round(share, 4),
        "trials": n,
        "standard_error": round(math.sqrt(share * (1 - share) / n), 4) if n else None,
        "allowed": round(ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / n), 4) if n else None,
    }


def daily_series(tracker: Path, min_days: int = 21) -> list[DailyViews]:
    """Daily views of every tracked channel with at least ``min_days`` days."""
    raw = pd.read_csv(tracker / "youtube_daily_snapshots.csv", encoding="utf-8-sig")
    out = []
    for channel_id, rows in raw.groupby("channel_id"):
        snapshots = pd.DataFrame(
            {
                "channel_id": rows["channel_id"],
                "observed_at": pd.to_datetime(rows["date_utc"], utc=True) + pd.Timedelta(hours=12),
                "view_count": rows["views"].astype("Int64"),
            }
        )
        daily = daily_channel_views(snapshots, str(channel_id))
        if daily.n_days >= min_days:
            out.append(daily)
    return out


def latest_videos(tracker: Path) -> pd.DataFrame:
    """The newest snapshot of every tracked video."""
    parts = [pd.read_csv(tracker / f"videos_2026-0{m}.csv", encoding="utf-8-sig", dtype=str) for m in (1, 2)]
    rows = pd.concat(parts, ignore_index=True).sort_values("snapshot_utc")
    latest = rows.drop_duplicates("video_id", keep="last")
    return pd.DataFrame(
        {
            "video_id": latest["video_id"].to_numpy(),
            "channel_id": latest["channel_id"].to_numpy(),
            "published_at": pd.to_datetime(latest["published_at"], utc=True, format="mixed").to_numpy(),
            "video_format": "all",
            "view_count": pd.to_numeric(latest["view_count"], errors="coerce").to_numpy(),
        }
    ).dropna(subset=["view_count"])


def shuffled(daily: DailyViews, rng: np.random.Generator) -> DailyViews:
    """The same days' views in random order."""
    return DailyViews(
        daily.channel_id, pd.Series(rng.permutation(daily.views.to_numpy()), index=daily.views.index), 0, 0
    )


def real_flags(tracker: Path, repeats: int) -> dict[str, Any]:
    """Every flag's rate on the real tracker with its pattern destroyed (and weekly as found)."""
    series = daily_series(tracker)
    rng = np.random.default_rng(20260207)
    out: dict[str, Any] = {"channels_with_daily_views": len(series)}
    started = time.perf_counter()
    weekly, gains_flags, found = [], [], []
    for daily in series:
        real = decompose_weekly(daily, alpha=ALPHA)
        found.append(isinstance(real, SeasonalDecomposition) and real.clear_weekly_pattern)
        for _ in range(repeats):
            noise = shuffled(daily, rng)
            result = decompose_weekly(noise, alpha=ALPHA)
            weekly.append(isinstance(result, SeasonalDecomposition) and result.clear_weekly_pattern)
            gains = [DailyGain(d.strftime("%Y-%m-%d"), float(v), None) for d, v in noise.views.items()]
            season = analyze_daily_season(
                gains, TimingOptions(n_bootstrap=200, min_group_size=2, alpha=ALPHA)
            )
            gains_flags.append(season.significant)
    out["weekly_season_shuffled"] = rate(weekly)
    out["weekly_season_real_channels"] = {"clear": int(sum(found)), "of": len(found)}
    out["best_weekday_of_daily_gains_shuffled"] = rate(gains_flags)

    breaks = []
    days = pd.date_range("2026-01-05", periods=84, freq="D", tz="UTC")
    for daily in series:
        for _ in range(repeats):
            views = rng.choice(daily.views.to_numpy(), days.size, replace=True)
            result = detect_change_points(DailyViews(daily.channel_id, pd.Series(views, index=days), 0, 0))
            breaks.append(isinstance(result, ChangePointResult) and bool(result.change_points))
    out["trend_break_resampled"] = rate(breaks)

    videos = latest_videos(tracker)
    counts = videos["channel_id"].value_counts()
    channels = counts[counts >= 30].index
    claims, alarms = [], []
    for channel_id in channels:
        own = videos[videos["channel_id"] == channel_id].reset_index(drop=True)
        views = own["view_count"].to_numpy(dtype=float) + 1.0
        for _ in range(repeats):
            performance = pd.Series(rng.permutation(views) / np.median(views), index=own["video_id"])
            timing = analyze_timing(own, performance, TimingOptions(n_bootstrap=200, alpha=ALPHA))
            claims.append(timing.weekday.significant or timing.hour.significant)
        logs = np.log1p(own["view_count"].to_numpy(dtype=float))
        centre = float(np.median(logs))
        spread = float(np.median(np.abs(logs - centre))) / 0.6745
        drawn = np.round(np.exp(rng.normal(centre, spread, len(own))))
        null = own.assign(
            view_count=pd.array(drawn, dtype="Int64"),
            like_count=pd.array(np.round(drawn * 0.03), dtype="Int64"),
            comment_count=pd.array(np.round(drawn * 0.002), dtype="Int64"),
        )
        result = analyze_outliers(null)
        alarms.append(bool(result.breakouts() or result.underperformers()))
    out["best_publish_time_shuffled"] = rate(claims)
    out["consensus_outlier_null_channels"] = rate(alarms)
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def emulator_breaks() -> dict[str, Any]:
    """Trend breaks on the emulator's steady uploaders near random dates and at planted breaks."""
    from tubescope.emulator.world import World

    world = World(seed=9, n_channels=40, videos_per_channel=1500)

    def collected(channel_id: str, middle: date, half_days: int = 60) -> DailyViews:
        first = datetime.combine(middle, datetime.min.time(), UTC) - timedelta(days=half_days, hours=-1)
        rows = []
        for day in range(2 * half_days + 1):
            at = first + timedelta(days=day)
            channel = world.observe(at).channel(channel_id)
            assert channel is not None
            rows.append({"channel_id": channel_id, "observed_at": at, "view_count": channel.view_count})
        return daily_channel_views(pd.DataFrame(rows))

    rng = np.random.default_rng(9)
    near_random, located = [], []
    for truth in world.truth.channels:
        day = date(2024, 8, 1) + timedelta(days=int(rng.integers(0, 700)))
        planted = truth.trend_break_date
        if planted is not None:
            if truth.published_at.date() <= planted - timedelta(days=60):
                result = detect_change_points(collected(truth.channel_id, planted))
                assert isinstance(result, ChangePointResult)
                located.append(any(abs((p.date - planted).days) <= 5 for p in result.change_points))
            continue
        if truth.published_at.date() > day - timedelta(days=60):
            continue
        result = detect_change_points(collected(truth.channel_id, day))
        assert isinstance(result, ChangePointResult)
        near_random.append(any(abs((p.date - day).days) <= 5 for p in result.change_points))
    return {
        "false_break_within_5_days_of_a_random_date": rate(near_random),
        "planted_break_located_within_5_days": rate(located),
    }


def main() -> None:
    """Run every check and print (and optionally write) one JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=REAL)
    parser.add_argument("--repeats", type=int, default=2, help="Shuffles per real series or channel.")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    output: dict[str, Any] = {
        "benchmark": "flags_real",
        "alpha": ALPHA,
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "before": BEFORE,
    }
    tracker = args.data / "yt-channel-tracker-2026"
    if tracker.is_dir():
        output["real"] = real_flags(tracker, args.repeats)
    else:
        output["real"] = {"skipped": f"{tracker} is absent"}
    output["emulator"] = emulator_breaks()
    output["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    text = json.dumps(output, indent=2)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
