"""Every "pattern found" flag is a test with an error rate, checked on REAL series.

The real channel tracker (../shared/data/real/yt-channel-tracker-2026, internal testing only) is
shuffled so that whatever pattern a flag looks for is destroyed while the values stay real
(their heavy tails, upload spikes and rounding included). A flag that is a proper test at 5% may
then fire on at most 5% of the shuffled series, give or take the sampling error of the count: the
bound used is ``0.05 + 2 * sqrt(0.05 * 0.95 / n)``. Skipped with a reason where the data are absent.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

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

TRACKER = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "yt-channel-tracker-2026"
ALPHA = 0.05

pytestmark = pytest.mark.skipif(
    not (TRACKER / "youtube_daily_snapshots.csv").is_file(),
    reason=f"real channel-tracker data not found at {TRACKER.resolve()} (../shared/data/real is absent)",
)


def allowed_rate(n: int, alpha: float = ALPHA) -> float:
    """``alpha`` plus two standard errors of a rate measured over ``n`` independent trials."""
    return alpha + 2 * math.sqrt(alpha * (1 - alpha) / n)


@cache
def real_daily_series(min_days: int = 21) -> tuple[DailyViews, ...]:
    """Daily views of every tracked channel with at least ``min_days`` days (snapshots at noon)."""
    raw = pd.read_csv(TRACKER / "youtube_daily_snapshots.csv", encoding="utf-8-sig")
    series = []
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
            series.append(daily)
    return tuple(series)


def shuffled(daily: DailyViews, rng: np.random.Generator) -> DailyViews:
    """The same days' views in a random order: no weekly season, no trend, no break."""
    values = daily.views.to_numpy().copy()
    rng.shuffle(values)
    return DailyViews(daily.channel_id, pd.Series(values, index=daily.views.index), 0, 0)


@cache
def real_videos() -> pd.DataFrame:
    """The newest snapshot of every tracked video: channel, publish time and lifetime views."""
    parts = [pd.read_csv(TRACKER / f"videos_2026-0{m}.csv", encoding="utf-8-sig", dtype=str) for m in (1, 2)]
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


def test_the_weekly_season_flag_fires_on_at_most_5_percent_of_shuffled_real_series() -> None:
    series = real_daily_series()
    assert len(series) >= 100
    rng = np.random.default_rng(20260207)
    flags = []
    for daily in series:
        for _ in range(2):
            result = decompose_weekly(shuffled(daily, rng), alpha=ALPHA)
            assert isinstance(result, SeasonalDecomposition)
            flags.append(result.clear_weekly_pattern)
    rate = float(np.mean(flags))
    assert rate <= allowed_rate(len(flags)), f"{rate:.1%} of {len(flags)} shuffled series called weekly"
    # Before the test was a test, STL's "strength" flag called 87% of these shuffled series weekly.
    unshuffled = [decompose_weekly(daily, alpha=ALPHA) for daily in series]
    assert all(isinstance(r, SeasonalDecomposition) and 0 <= r.weekday_test_p <= 1 for r in unshuffled)


def test_the_weekly_season_of_daily_gains_fires_on_at_most_5_percent_of_shuffled_real_series() -> None:
    rng = np.random.default_rng(7)
    flags = []
    for daily in real_daily_series():
        for _ in range(2):
            views = shuffled(daily, rng).views
            gains = [DailyGain(day.strftime("%Y-%m-%d"), float(v), None) for day, v in views.items()]
            season = analyze_daily_season(
                gains, TimingOptions(n_bootstrap=200, min_group_size=2, alpha=ALPHA)
            )
            flags.append(season.significant)
    rate = float(np.mean(flags))
    assert rate <= allowed_rate(len(flags)), f"{rate:.1%} of {len(flags)} shuffled series had a best weekday"


def test_best_publish_time_fires_on_at_most_5_percent_of_shuffled_real_channels() -> None:
    """Performance (views over the channel median) shuffled across a real channel's videos: the
    publish weekday and hour then say nothing, and a "best time" claim on either is a false one."""
    videos = real_videos()
    counts = videos["channel_id"].value_counts()
    channels = counts[counts >= 30].index[:60]  # 120 trials: enough for the bound, quick enough
    assert len(channels) >= 40
    rng = np.random.default_rng(11)
    options = TimingOptions(n_bootstrap=200, alpha=ALPHA)
    claims = []
    for channel_id in channels:
        own = videos[videos["channel_id"] == channel_id].reset_index(drop=True)
        views = own["view_count"].to_numpy(dtype=float) + 1.0
        for _ in range(2):
            performance = pd.Series(rng.permutation(views) / np.median(views), index=own["video_id"])
            result = analyze_timing(own, performance, options)
            claims.append(result.weekday.significant or result.hour.significant)
    rate = float(np.mean(claims))
    assert rate <= allowed_rate(len(claims)), f"{rate:.1%} of {len(claims)} shuffled channels got a best time"


def test_a_trend_break_is_found_in_at_most_5_percent_of_resampled_real_series() -> None:
    """Each real channel's daily views drawn in random order (with replacement) to 12 weeks: real
    heavy tails and upload spikes, no break. Before the permutation gate, 18% got a break."""
    rng = np.random.default_rng(3)
    days = pd.date_range("2026-01-05", periods=84, freq="D", tz="UTC")
    flags = []
    for daily in real_daily_series():
        for _ in range(2):
            views = rng.choice(daily.views.to_numpy(), days.size, replace=True)
            result = detect_change_points(DailyViews(daily.channel_id, pd.Series(views, index=days), 0, 0))
            assert isinstance(result, ChangePointResult)
            assert (result.break_test_p < ALPHA) or not result.change_points
            flags.append(bool(result.change_points))
    rate = float(np.mean(flags))
    assert rate <= allowed_rate(len(flags)), f"{rate:.1%} of {len(flags)} resampled series had a break"


def test_a_consensus_outlier_is_found_in_at_most_5_percent_of_null_real_channels() -> None:
    """Real channels (their video counts, publish times and typical spread of log views) with
    views drawn from one log-normal: no video is an outlier, so a channel with a consensus
    outlier is a false alarm. Before the family-wise threshold, 18% of such channels had one."""
    videos = real_videos()
    counts = videos["channel_id"].value_counts()
    channels = counts[counts >= 30].index[:80]
    rng = np.random.default_rng(5)
    alarms = []
    for channel_id in channels:
        own = videos[videos["channel_id"] == channel_id].reset_index(drop=True)
        logs = np.log1p(own["view_count"].to_numpy(dtype=float))
        centre = float(np.median(logs))
        spread = float(np.median(np.abs(logs - centre))) / 0.6745
        views = np.round(np.exp(rng.normal(centre, spread, len(own))))
        null = own.assign(
            view_count=pd.array(views, dtype="Int64"),
            like_count=pd.array(np.round(views * 0.03), dtype="Int64"),
            comment_count=pd.array(np.round(views * 0.002), dtype="Int64"),
        )
        result = analyze_outliers(null)
        alarms.append(bool(result.breakouts() or result.underperformers()))
    rate = float(np.mean(alarms))
    assert len(alarms) >= 60
    assert rate <= allowed_rate(len(alarms)), f"{rate:.1%} of {len(alarms)} null channels had an outlier"
