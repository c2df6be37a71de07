"""Channel growth from snapshots: daily gains, 7/28/90-day growth rates, recent video velocity.

Snapshots arrive at irregular times, so cumulative counts are linearly interpolated at the
instants asked for (UTC midnights, window starts); nothing is extrapolated beyond the first or
last snapshot. Public subscriber counts are rounded to three significant figures, so subscriber
gains move in steps. Everything here is a derived metric.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from tubescope.analysis.features import (
    JsonMixin,
    as_float_array,
    epoch_ns,
    id_positions,
    require_aware,
    require_columns,
)

GROWTH_WINDOWS_DAYS: tuple[int, ...] = (7, 28, 90)
MAX_DAILY_BRACKET_NS = 48 * 3600 * 10**9
"""Daily gains are reported only for days whose midnights lie between snapshots at most 48 h apart."""


@dataclass(frozen=True)
class DailyGain(JsonMixin):
    """Gain over one UTC day, from counts interpolated at its two midnights (days whose
    midnights fall between snapshots more than 48 h apart are not listed)."""

    day: str
    """UTC date (YYYY-MM-DD) the gain accrued on, midnight to midnight."""
    view_gain: float | None
    subscriber_gain: float | None


@dataclass(frozen=True)
class GrowthRate(JsonMixin):
    """The gain and growth rate of one metric over one window, or the reason it is missing."""

    metric: str
    """``views`` or ``subscribers``."""
    window_days: int
    start_value: float | None
    end_value: float | None
    gain: float | None
    rate: float | None
    """gain / start_value; None when the window starts before the first snapshot or start is 0."""
    per_day: float | None
    reason: str | None = None
    derived: bool = True


@dataclass(frozen=True)
class VideoVelocity(JsonMixin):
    """How fast one recent video gained views between two observations."""

    video_id: str
    video_format: str
    published_at: str
    views_per_hour: float
    """Views gained between the last two snapshots divided by the hours between them."""
    from_observed_at: str
    to_observed_at: str
    latest_views: float
    derived: bool = True


@dataclass(frozen=True)
class GrowthResult(JsonMixin):
    """A channel's growth as of one moment: daily gains, windowed rates and recent video velocity."""

    as_of: str | None
    """Time of the last channel snapshot at or before ``now`` (None without snapshots)."""
    daily: tuple[DailyGain, ...]
    rates: tuple[GrowthRate, ...]
    recent_velocity: tuple[VideoVelocity, ...]
    recent_window_days: int
    derived: bool = True

    def rate(self, metric: str, window_days: int) -> GrowthRate:
        """The rate of ``metric`` over ``window_days``; raises KeyError when it was not computed."""
        for r in self.rates:
            if r.metric == metric and r.window_days == window_days:
                return r
        raise KeyError((metric, window_days))


def _interp(times_ns: np.ndarray, values: np.ndarray, at_ns: np.ndarray) -> np.ndarray:
    """Linear interpolation that gives NaN outside the observed span and ignores missing values."""
    ok = ~np.isnan(values)
    t, v = times_ns[ok], values[ok]
    out = np.full(at_ns.shape, np.nan)
    if t.size == 0:
        return out
    inside = (at_ns >= t[0]) & (at_ns <= t[-1])
    out[inside] = np.interp(at_ns[inside].astype(float), t.astype(float), v)
    return out


def daily_gains(channel_snapshots: pd.DataFrame, now: pd.Timestamp) -> tuple[DailyGain, ...]:
    """Per-day gains of subscribers and views from consecutive channel snapshots up to ``now``."""
    snaps = channel_snapshots[channel_snapshots["observed_at"] <= now].sort_values("observed_at")
    if len(snaps) < 2:
        return ()
    t = epoch_ns(snaps["observed_at"])
    first = pd.Timestamp(t[0], tz="UTC").ceil("D")
    last = pd.Timestamp(t[-1], tz="UTC").floor("D")
    if last <= first:
        return ()
    midnights = pd.date_range(first, last, freq="D")
    at = epoch_ns(midnights)
    views = _interp(t, as_float_array(snaps["view_count"]), at)
    subs = _interp(t, as_float_array(snaps["subscriber_count"]), at)
    # A midnight between snapshots days apart would smear a week into equal days: such days are
    # left out instead of reported as flat.
    after = np.clip(np.searchsorted(t, at, side="left"), 0, len(t) - 1)
    before = np.clip(after - 1, 0, len(t) - 1)
    exact = t[after] == at
    close = exact | (t[after] - t[before] <= MAX_DAILY_BRACKET_NS)
    out = []
    for i in range(1, len(at)):
        if not (close[i] and close[i - 1]):
            continue
        dv, ds = views[i] - views[i - 1], subs[i] - subs[i - 1]
        out.append(
            DailyGain(
                day=midnights[i - 1].strftime("%Y-%m-%d"),
                view_gain=None if np.isnan(dv) else float(dv),
                subscriber_gain=None if np.isnan(ds) else float(ds),
            )
        )
    return tuple(out)


def growth_rates(
    channel_snapshots: pd.DataFrame, now: pd.Timestamp, windows_days: tuple[int, ...] = GROWTH_WINDOWS_DAYS
) -> tuple[GrowthRate, ...]:
    """Gains and growth rates of every channel metric over each window ending at ``now``."""
    snaps = channel_snapshots[channel_snapshots["observed_at"] <= now].sort_values("observed_at")
    out: list[GrowthRate] = []
    for metric, column in (("views", "view_count"), ("subscribers", "subscriber_count")):
        values = as_float_array(snaps[column]) if len(snaps) else np.array([])
        t = epoch_ns(snaps["observed_at"]) if len(snaps) else np.array([], dtype=np.int64)
        observed = ~np.isnan(values)
        for window in windows_days:
            if not observed.any():
                reason = (
                    "subscriber count hidden" if metric == "subscribers" and len(snaps) else "no snapshots"
                )
                out.append(GrowthRate(metric, window, None, None, None, None, None, reason))
                continue
            end_t = t[observed][-1]
            start_t = end_t - pd.Timedelta(days=window).value
            start, end = (float(v) for v in _interp(t, values, np.array([start_t, end_t])))
            if np.isnan(start):
                out.append(
                    GrowthRate(metric, window, None, end, None, None, None, "history shorter than window")
                )
                continue
            gain = end - start
            rate = gain / start if start > 0 else None
            note = None if rate is not None else "start value is zero"
            out.append(GrowthRate(metric, window, start, end, gain, rate, gain / window, note))
    return tuple(out)


def recent_velocity(
    videos: pd.DataFrame, video_snapshots: pd.DataFrame, now: pd.Timestamp, recent_days: int = 7
) -> tuple[VideoVelocity, ...]:
    """Views per hour between each recent video's last two snapshots, fastest first."""
    recent = videos[videos["published_at"] >= now - pd.Timedelta(days=recent_days)]
    recent = recent[recent["published_at"] <= now]
    if recent.empty:
        return ()
    # Only the columns read below: filtering the whole snapshot frame copied every column.
    columns = video_snapshots[["video_id", "observed_at", "view_count"]]
    mine = id_positions(columns["video_id"], recent["video_id"]) >= 0
    snaps = columns[mine & (columns["observed_at"] <= now)]
    snaps = snaps.dropna(subset=["view_count"]).sort_values(["video_id", "observed_at"])
    last_two = snaps.groupby("video_id", sort=False).tail(2)
    info = recent.set_index("video_id")
    out = []
    for video_id, group in last_two.groupby("video_id", sort=False):
        if len(group) < 2:
            continue
        t0, t1 = group["observed_at"].iloc[0], group["observed_at"].iloc[1]
        hours = (t1 - t0).total_seconds() / 3600
        if hours <= 0:
            continue
        v0, v1 = float(group["view_count"].iloc[0]), float(group["view_count"].iloc[1])
        out.append(
            VideoVelocity(
                video_id=str(video_id),
                video_format=str(info.at[video_id, "video_format"]),
                published_at=pd.Timestamp(str(info.at[video_id, "published_at"])).isoformat(),
                views_per_hour=(v1 - v0) / hours,
                from_observed_at=t0.isoformat(),
                to_observed_at=t1.isoformat(),
                latest_views=v1,
            )
        )
    out.sort(key=lambda v: v.views_per_hour, reverse=True)
    return tuple(out)


def analyze_growth(
    channel_snapshots: pd.DataFrame,
    videos: pd.DataFrame,
    video_snapshots: pd.DataFrame,
    now: datetime,
    *,
    recent_days: int = 7,
    windows_days: tuple[int, ...] = GROWTH_WINDOWS_DAYS,
) -> GrowthResult:
    """Growth of one channel as of ``now`` (snapshots after ``now`` are ignored)."""
    clock = require_aware(now)
    require_columns(channel_snapshots, "channel_snapshots", ("observed_at", "view_count", "subscriber_count"))
    require_columns(videos, "videos", ("video_id", "published_at", "video_format"))
    require_columns(video_snapshots, "video_snapshots", ("video_id", "observed_at", "view_count"))
    snaps = channel_snapshots[channel_snapshots["observed_at"] <= clock]
    as_of = snaps["observed_at"].max() if len(snaps) else None
    return GrowthResult(
        as_of=None if as_of is None else pd.Timestamp(as_of).isoformat(),
        daily=daily_gains(channel_snapshots, clock),
        rates=growth_rates(channel_snapshots, clock, windows_days),
        recent_velocity=recent_velocity(videos, video_snapshots, clock, recent_days),
        recent_window_days=recent_days,
    )
