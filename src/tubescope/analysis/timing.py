"""Best publish weekday and hour, with a statement of how sure we are.

The maximum of group means always names *some* winner, even on pure noise. Here a winner is only
claimed when (1) a Kruskal-Wallis test across the groups rejects "all groups alike" at ``alpha``
and (2) the bootstrap confidence interval of the best group's median performance divided by the
median of all other videos lies wholly above 1. Otherwise the statement says "no reliable
difference". Publish weekday and publish hour are asked of the same videos, so they form one
family: their Kruskal-Wallis p-values are Holm-adjusted together (``multiple_testing.holm``)
and a winner needs the *adjusted* p below ``alpha``; the chance of any false "best time" claim
for a channel stays at most ``alpha``. Performance is a per-video ratio (by default views over the
channel's median for the same format); publish times are in UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
from scipy import stats

from tubescope.analysis.features import JsonMixin, epoch_ns, id_positions, require_aware, require_columns
from tubescope.analysis.growth import DailyGain
from tubescope.analysis.multiple_testing import holm
from tubescope.analysis.resample import bootstrap_medians
from tubescope.errors import ConfigError

WEEKDAYS: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class TimingOptions:
    """Options of the publish-timing analysis (significance, bootstrap, group sizes, time zone)."""

    alpha: float = 0.05
    n_bootstrap: int = 1000
    confidence: float = 0.95
    min_group_size: int = 5
    hour_bucket_hours: int = 3
    seed: int = 0
    timezone: str = "UTC"
    """IANA zone the publish weekday and hour are read in (``Europe/Berlin``); default UTC."""

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"unknown time zone {self.timezone!r}: use an IANA name such as Europe/Berlin or UTC"
            ) from None
        if not 0 < self.alpha < 1 or not 0 < self.confidence < 1:
            raise ConfigError("alpha and confidence must lie strictly between 0 and 1")
        if self.n_bootstrap < 100 or self.min_group_size < 2:
            raise ConfigError("n_bootstrap must be >= 100 and min_group_size >= 2")
        if self.hour_bucket_hours < 1 or 24 % self.hour_bucket_hours:
            raise ConfigError("hour_bucket_hours must divide 24")


@dataclass(frozen=True)
class TimingGroup(JsonMixin):
    """One group of videos (a weekday or an hour bucket) with its median performance."""

    label: str
    n: int
    median_performance: float | None


@dataclass(frozen=True)
class TimingDimension(JsonMixin):
    """Performance by one timing dimension: the best group against the rest, with its test."""

    dimension: str
    """``weekday`` or ``hour`` (UTC)."""
    metric: str
    groups: tuple[TimingGroup, ...]
    best: str | None
    """The group with the highest median among groups of at least ``min_group_size`` videos."""
    best_n: int
    rest_n: int
    median_ratio: float | None
    """Median performance of the best group / median performance of all other videos."""
    ci_low: float | None
    ci_high: float | None
    best_stability: float | None
    """Share of bootstrap resamples in which the same group came out best."""
    kruskal_h: float | None
    kruskal_p: float | None
    significant: bool
    statement: str
    kruskal_p_adjusted: float | None = None
    """``kruskal_p`` Holm-adjusted over the family of timing questions asked together (weekday and
    hour); equal to ``kruskal_p`` when the dimension was tested alone."""
    derived: bool = True


@dataclass(frozen=True)
class TimingResult(JsonMixin):
    """Publish-timing analysis by weekday and hour, in one time zone."""

    weekday: TimingDimension
    """Publish weekday vs the performance of the videos published on it."""
    hour: TimingDimension
    daily_views_weekday: TimingDimension | None = None
    """The weekly season of views (which UTC weekday the audience watches most): from mature
    videos' daily snapshots when there are enough (:func:`daily_season_from_videos`), else from the
    channel's daily view gains over their centred 7-day mean (:func:`analyze_daily_season`)."""
    timezone: str = "UTC"
    """The IANA zone publish weekdays and hours were read in."""


def _dimension(
    dimension: str, labels: np.ndarray, names: list[str], perf: np.ndarray, metric: str, opts: TimingOptions
) -> TimingDimension:
    groups = []
    for i, name in enumerate(names):
        members = perf[labels == i]
        groups.append(TimingGroup(name, len(members), float(np.median(members)) if len(members) else None))
    eligible = [i for i, g in enumerate(groups) if g.n >= opts.min_group_size]
    if len(eligible) < 2:
        return TimingDimension(
            dimension, metric, tuple(groups), None, 0, 0, None, None, None, None, None, None, False,
            f"not enough data: fewer than two {dimension} groups have {opts.min_group_size}+ videos",
        )  # fmt: skip
    samples = [perf[labels == i] for i in eligible]
    h, p = stats.kruskal(*samples)
    best = max(eligible, key=lambda i: groups[i].median_performance or 0.0)
    in_best = labels == best
    eligible_mask = np.isin(labels, eligible)
    best_values, rest_values = perf[in_best], perf[eligible_mask & ~in_best]
    if np.median(rest_values) <= 0:
        return TimingDimension(
            dimension, metric, tuple(groups), None, 0, 0, None, None, None, None, float(h), float(p), False,
            f"not enough data: the typical {dimension}'s value is 0",
        )  # fmt: skip
    ratio = float(np.median(best_values) / np.median(rest_values))
    rng = np.random.default_rng(opts.seed)
    boot = bootstrap_medians(best_values, opts.n_bootstrap, rng) / bootstrap_medians(
        rest_values, opts.n_bootstrap, rng
    )
    tail = (1 - opts.confidence) / 2 * 100
    ci_low, ci_high = (float(x) for x in np.percentile(boot, [tail, 100 - tail]))
    # Which group wins is a coarser question than the CI: a few hundred resamples settle it.
    n_stability = min(opts.n_bootstrap, 400)
    boot_group_medians = np.column_stack([bootstrap_medians(s, n_stability, rng) for s in samples])
    stability = float(np.mean(np.asarray(eligible)[np.argmax(boot_group_medians, axis=1)] == best))
    found = TimingDimension(
        dimension, metric, tuple(groups), groups[best].label, len(best_values), len(rest_values), ratio,
        ci_low, ci_high, stability, float(h), float(p), False, "", float(p),
    )  # fmt: skip
    return _decided(found, float(p), opts)


def _decided(found: TimingDimension, p_adjusted: float, opts: TimingOptions) -> TimingDimension:
    """``found`` with its verdict and statement for the (family-adjusted) p-value ``p_adjusted``."""
    if found.best is None or found.ci_low is None or found.ci_high is None or found.median_ratio is None:
        return replace(found, kruskal_p_adjusted=p_adjusted)
    significant = bool(p_adjusted < opts.alpha and found.ci_low > 1.0)
    dimension = found.dimension
    adjusted = (
        "" if p_adjusted == found.kruskal_p else f" (Holm-adjusted over weekday and hour: {p_adjusted:.3g})"
    )
    detail = (
        f"median {found.median_ratio:.2f}x the other {dimension}s ({opts.confidence:.0%} CI "
        f"{found.ci_low:.2f}-{found.ci_high:.2f}), Kruskal-Wallis p={found.kruskal_p:.3g}{adjusted}, "
        f"n={found.best_n} vs {found.rest_n}"
    )
    if significant:
        statement = f"best {dimension}: {found.best}: {detail}"
    else:
        statement = f"no reliable difference between {dimension}s (best-looking {found.best}: {detail})"
    return replace(found, significant=significant, statement=statement, kruskal_p_adjusted=p_adjusted)


def _holm(dimensions: Sequence[TimingDimension], opts: TimingOptions) -> list[TimingDimension]:
    """Re-decide ``dimensions`` with their Kruskal-Wallis p-values Holm-adjusted as one family."""
    tested = [i for i, d in enumerate(dimensions) if d.kruskal_p is not None and d.best is not None]
    out = list(dimensions)
    if len(tested) < 2:
        return out
    adjusted = holm([float(dimensions[i].kruskal_p or 1.0) for i in tested])
    for i, p_adjusted in zip(tested, adjusted, strict=True):
        out[i] = _decided(dimensions[i], float(p_adjusted), opts)
    return out


def analyze_daily_season(daily: Sequence[DailyGain], options: TimingOptions | None = None) -> TimingDimension:
    """Which weekday the channel's audience watches most, from daily view gains."""
    opts = options or TimingOptions()
    frame = pd.DataFrame(
        {"day": pd.to_datetime([d.day for d in daily]), "gain": [d.view_gain for d in daily]}, dtype=object
    )
    gains = pd.to_numeric(frame["gain"], errors="coerce").astype(float)
    level = gains.rolling(7, center=True, min_periods=7).mean()
    ratio = (gains / level).to_numpy(dtype=float)
    ok = np.isfinite(ratio) & (ratio > 0)
    weekday = pd.DatetimeIndex(frame["day"]).day_of_week.to_numpy()
    metric = "daily view gain / centred 7-day mean"
    return _dimension("weekday", weekday[ok], list(WEEKDAYS), ratio[ok], metric, opts)


def daily_season_from_videos(
    videos: pd.DataFrame,
    video_snapshots: pd.DataFrame,
    now: datetime,
    options: TimingOptions | None = None,
    min_age_days: float = 28.0,
    min_daily_views: float = 20.0,
) -> TimingDimension | None:
    """The weekly season of views, read from the channel's mature videos.

    A new upload's first days swamp a channel's daily total, so this looks only at videos at
    least ``min_age_days`` old, whose curves are smooth: each video's views over each
    (roughly daily) snapshot interval are divided by its centred 7-interval mean, the day's value
    is the median of those ratios across videos, and the days are compared by weekday (UTC, by
    the interval's midpoint). One value per day keeps the test honest: videos watched on the
    same day are not independent evidence. Videos averaging under ``min_daily_views`` a day are
    ignored. None when there are too few daily snapshots.
    """
    opts = options or TimingOptions()
    clock = require_aware(now)
    require_columns(video_snapshots, "video_snapshots", ("video_id", "observed_at", "view_count"))
    require_columns(videos, "videos", ("video_id", "published_at"))
    # Masks over the whole frame rather than a filtered copy of it (which copied every column).
    observed = video_snapshots["observed_at"]
    # Videos as integer positions (Arrow's hash kernel), not strings: one sort, no string groupby.
    vidx = id_positions(video_snapshots["video_id"], videos["video_id"])
    views = pd.to_numeric(video_snapshots["view_count"], errors="coerce").to_numpy(dtype=float)
    keep = np.asarray(observed <= clock, dtype=bool) & (vidx >= 0) & ~np.isnan(views)
    vid, t, views = vidx[keep], epoch_ns(observed)[keep], views[keep]
    order = np.lexsort((t, vid))
    vid, t, views = vid[order], t[order], views[order]
    published_ns = epoch_ns(videos["published_at"])[vid]
    same = np.zeros(len(vid), dtype=bool)
    same[1:] = vid[1:] == vid[:-1]
    prev_t = np.concatenate([[0], t[:-1]])
    hours = (t - prev_t) / 3.6e12
    gained = views - np.concatenate([[np.nan], views[:-1]])
    mature = (prev_t - published_ns) / 8.64e13 >= min_age_days
    with np.errstate(invalid="ignore"):
        daily = same & mature & (hours >= 20) & (hours <= 28) & (gained >= 0)
    rows = np.flatnonzero(daily)
    interval_vid = vid[rows]
    rate = gained[rows] / hours[rows]
    intervals = pd.DataFrame({"rate": rate, "mid": t[rows] - np.round(hours[rows] * 1.8e12).astype(np.int64)})
    if len(intervals) < 7 * opts.min_group_size:
        return None
    # Centred 7-interval mean within each video: a rolling mean over all intervals (in video
    # order), kept only where the whole window lies inside one video.
    rolled = np.full(len(rows), np.nan)
    rolled[3:-3] = np.lib.stride_tricks.sliding_window_view(rate, 7).mean(axis=1)
    position = np.arange(3, len(rows) - 3)
    inside = (interval_vid[position - 3] == interval_vid[position]) & (
        interval_vid[position + 3] == interval_vid[position]
    )
    rolled[position[~inside]] = np.nan
    level = pd.Series(rolled, index=intervals.index)
    intervals["ratio"] = intervals["rate"] / level
    # Counts are integers: a video gaining a handful of views a day cannot show a 10% weekly swing.
    intervals = intervals[np.isfinite(intervals["ratio"]) & (level * 24 >= min_daily_views)]
    if intervals.empty:
        return None
    day = pd.to_datetime(intervals["mid"], utc=True).dt.floor("D")
    per_day = intervals["ratio"].groupby(day).median()
    weekday = pd.DatetimeIndex(per_day.index).day_of_week.to_numpy()
    metric = f"median over videos {min_age_days:g}+ days old of daily views / their centred 7-day mean"
    return _dimension("weekday", weekday, list(WEEKDAYS), per_day.to_numpy(dtype=float), metric, opts)


def default_performance(videos: pd.DataFrame) -> pd.Series:
    """Views over the median views of the same format in the same frame (age-biased; a fallback)."""
    require_columns(videos, "videos", ("video_id", "video_format", "view_count"))
    views = pd.to_numeric(videos["view_count"], errors="coerce").astype(float)
    median = views.groupby(videos["video_format"].astype(str)).transform("median")
    ratio = (views / median).to_numpy()
    return pd.Series(ratio, index=pd.Index(videos["video_id"].astype(str).to_numpy(), name="video_id"))


def analyze_timing(
    videos: pd.DataFrame,
    performance: pd.Series | None = None,
    options: TimingOptions | None = None,
    metric: str = "views / channel median views of the same format",
    daily: Sequence[DailyGain] | None = None,
    season: TimingDimension | None = None,
) -> TimingResult:
    """Best weekday and hour bucket (in ``options.timezone``, UTC by default) by the median of
    ``performance`` (a positive ratio per video)."""
    opts = options or TimingOptions()
    require_columns(videos, "videos", ("video_id", "published_at"))
    if performance is None:
        performance = default_performance(videos)
    published = pd.Series(
        pd.to_datetime(videos["published_at"], utc=True).to_numpy(),
        index=videos["video_id"].astype(str).to_numpy(),
    )
    perf = performance.astype(float)
    perf = perf[np.isfinite(perf.to_numpy()) & (perf.to_numpy() > 0)]
    common = perf.index.intersection(published.index)
    when = pd.to_datetime(published.loc[common], utc=True).dt.tz_convert(opts.timezone)
    values = perf.loc[common].to_numpy(dtype=float)
    weekday = when.dt.day_of_week.to_numpy()
    width = opts.hour_bucket_hours
    bucket = when.dt.hour.to_numpy() // width
    zone = opts.timezone
    bucket_names = [f"{b * width:02d}:00-{b * width + width - 1:02d}:59 {zone}" for b in range(24 // width)]
    by_weekday, by_hour = _holm(
        [
            _dimension("weekday", weekday, list(WEEKDAYS), values, metric, opts),
            _dimension("hour", bucket, bucket_names, values, metric, opts),
        ],
        opts,
    )
    return TimingResult(
        weekday=by_weekday,
        hour=by_hour,
        daily_views_weekday=season or (analyze_daily_season(daily, opts) if daily else None),
        timezone=zone,
    )
