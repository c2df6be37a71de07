"""From analysis results (and the frames they were computed on) to a :class:`ReportModel`.

The analyses answer questions; this module arranges their answers for the page and adds the few
descriptive figures a report needs that no analysis returns as such: the KPIs of the window and of
the previous equal period, the daily trajectory, same-age percentile bands at several ages, the
weekday x hour grid and a median interval per format. Everything is pure and seeded; ``now`` is a
parameter. Nothing here decides what is significant: that comes from the analyses.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from tubescope.analysis.abtest import AbTestResult, Metric
from tubescope.analysis.benchmark import BenchmarkResult
from tubescope.analysis.daily_forecast import FLEET_SOURCE
from tubescope.analysis.engagement import engagement_rates
from tubescope.analysis.features import id_positions
from tubescope.analysis.frames import ChannelFrames
from tubescope.analysis.kpis import channel_kpis_from_row
from tubescope.analysis.multiple_testing import holm
from tubescope.analysis.same_age import EARLY_AGES_HOURS, observed_at_ages, views_at_ages
from tubescope.analysis.summary import ChannelAnalysis
from tubescope.analysis.timeseries import (
    CHANGE_POINT_METHOD,
    DAILY_FORECAST_MIN_DAYS,
    ChangePointResult,
    ViewsForecast,
    daily_channel_views,
    detect_change_points,
    forecast_daily_views,
)
from tubescope.analysis.timing import WEEKDAYS, TimingDimension
from tubescope.domain.frames import VIEW_METHODOLOGY_CHANGES
from tubescope.report import formatting as fmt
from tubescope.report.model import (
    AbResult,
    ChannelHeader,
    CorrelationMatrix,
    DataWindow,
    EarlyCurve,
    EarlyPoint,
    ForecastBand,
    FormatStat,
    GrowthTrajectory,
    Kpi,
    MethodNote,
    OutlierRow,
    PeerChannel,
    PeerComparison,
    PeerMetric,
    PercentileBands,
    PublishHeatmap,
    RaisedAlert,
    ReportModel,
    TimeSeries,
    TimeSlotEffect,
    Unit,
    VideoTrajectory,
)

BAND_AGES_DAYS: tuple[float, ...] = (1, 2, 3, 5, 7, 10, 14, 21, 28)
BAND_PERCENTILES: tuple[int, ...] = (10, 25, 50, 75, 90)
CROSS_SECTION_EDGES_DAYS: tuple[float, ...] = (1, 3, 7, 14, 30, 60, 120, 240, 480, 960, 1920, 3840)
MIN_VIDEOS_PER_AGE = 5
DEFAULT_WINDOW_DAYS = 28
STALE_AFTER_DAYS = 2.0
_FORMATS = ("short", "long", "live")
MAX_OUTLIER_ROWS = 12
FORECAST_FIT_DAYS = 56
_PEER_METRICS: Mapping[str, tuple[str, Unit]] = {
    "views_per_subscriber": ("Median views per subscriber", Unit.COUNT),
    "engagement_median": ("Median engagement rate", Unit.PERCENT),
    "uploads_per_week_90d": ("Uploads per week (90 days)", Unit.PER_WEEK),
    "subscriber_growth_28d": ("Subscriber growth (28 days)", Unit.PERCENT),
    "view_growth_28d": ("View growth (28 days)", Unit.PERCENT),
    "median_views": ("Median views per video", Unit.COUNT),
}


@dataclass(frozen=True)
class Lineage:
    """Where the numbers came from, as recorded by the warehouse."""

    sources: tuple[str, ...] = ()
    run_ids: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportOptions:
    """Options of a report: its window, forecast horizon and level, seed and retention."""

    window_days: int | None = None
    """Days the KPIs cover; None: 28, or half the observed span when the data is shorter."""
    forecast_days: int = 28
    forecast_level: float = 0.8
    seed: int = 0
    retention: str | None = None
    """How long raw statistics are kept (the retention policy), for the methods appendix."""


def build_report_model(
    analysis: ChannelAnalysis,
    frames: ChannelFrames,
    *,
    now: datetime,
    benchmark: BenchmarkResult | None = None,
    fleet: pd.DataFrame | None = None,
    ab_tests: Sequence[AbTestResult] = (),
    lineage: Lineage | None = None,
    options: ReportOptions | None = None,
    generated_at: datetime | None = None,
    alerts: Sequence[RaisedAlert] = (),
) -> ReportModel:
    """The report of ``analysis.channel_id`` as of ``now``.

    ``frames`` are the frames the analysis ran on (they may hold peers too); ``fleet`` is the
    fleet KPI table (:func:`tubescope.analysis.summary.fleet_kpis`) the ``benchmark`` was computed
    from, used for the peers' own values.
    """
    opts = options or ReportOptions()
    lineage = lineage or Lineage()
    clock = pd.Timestamp(now).tz_convert(UTC) if pd.Timestamp(now).tzinfo else pd.Timestamp(now, tz=UTC)
    end = clock.to_pydatetime()
    channel_id = analysis.channel_id

    videos = _own_videos(frames, channel_id, clock)
    video_snaps = frames.video_snapshots[
        (id_positions(frames.video_snapshots["video_id"], videos["video_id"]) >= 0)
        & (frames.video_snapshots["observed_at"] <= clock)
    ]
    channel_snaps = frames.channel_snapshots[
        (frames.channel_snapshots["channel_id"].astype(str) == channel_id)
        & (frames.channel_snapshots["observed_at"] <= clock)
    ].sort_values("observed_at")
    window_days, window_note = _window_days(channel_snaps, end, opts.window_days)
    start = end - timedelta(days=window_days)
    previous_start = start - timedelta(days=window_days)
    rng = np.random.default_rng(opts.seed)
    growth = _growth(channel_snaps, end, opts, channel_id)

    window = DataWindow(
        start=start,
        end=end,
        previous_start=previous_start,
        previous_end=start,
        generated_at=generated_at or end,
        n_videos=len(videos),
        n_video_snapshots=len(video_snaps),
        n_channel_snapshots=len(channel_snaps),
        sources=lineage.sources,
        run_ids=lineage.run_ids,
        notes=(*_methodology_notes(previous_start, end), *lineage.notes),
    )
    return ReportModel(
        header=_header(frames, analysis, channel_snaps),
        window=window,
        kpis=_kpis(videos, video_snaps, channel_snaps, end, start, previous_start, frames.early_points),
        growth=growth,
        percentile_bands=_percentile_bands(videos, video_snaps, end, frames.early_points),
        formats=_formats(videos, analysis, rng),
        heatmap=_heatmap(videos, analysis),
        outliers=_outliers(videos, analysis),
        correlation=_correlation(analysis),
        ab_tests=holm_adjusted([result for test in ab_tests for result in _ab_results(test)]),
        peers=_peers(frames, channel_id, benchmark, fleet),
        methods=_methods(analysis, benchmark, ab_tests, growth)
        + ((MethodNote("Data retention", opts.retention),) if opts.retention else ()),
        warnings=(
            *(n for n in (window_note, _staleness(channel_snaps, end)) if n),
            *((analysis.kpis.stale_note,) if analysis.kpis is not None and analysis.kpis.stale_note else ()),
            *_warnings(analysis),
        ),
        ab_notes=_ab_notes(ab_tests),
        channel_kpis=analysis.kpis,
        early_curves=early_curves(frames, end),
        alerts=tuple(sorted(alerts, key=lambda alert: alert.fired_at, reverse=True)),
    )


# -- first 72 hours of new videos -----------------------------------------------------------------

MAX_EARLY_CURVES = 24
"""New videos listed in the first-72-hours table (newest first)."""


def early_curves(
    frames: ChannelFrames, end: datetime, limit: int = MAX_EARLY_CURVES
) -> tuple[EarlyCurve, ...]:
    """Each video of ``frames`` that watch mode sampled while young, newest first: its views at
    1 h, 6 h, 24 h and 72 h as :func:`~tubescope.analysis.same_age.views_at_ages` gives them (the
    figure the bands and outlier scores use), each marked observed (a stored dense sample) or
    interpolated between snapshots, or missing with the reason."""
    points = frames.early_points
    if points is None or not len(points):
        return ()
    clock = pd.Timestamp(end)
    videos = frames.videos.copy()
    videos["published_at"] = pd.to_datetime(videos["published_at"], utc=True)
    sampled = set(points.loc[points["observed_at"] <= clock, "video_id"].astype(str))
    videos = videos[videos["video_id"].astype(str).isin(sampled) & (videos["published_at"] <= clock)]
    videos = videos.drop_duplicates("video_id", keep="last")  # a video stored twice is one row
    videos = (
        videos.sort_values(["published_at", "video_id"], ascending=False).head(limit).reset_index(drop=True)
    )
    if videos.empty:
        return ()
    shown = views_at_ages(videos, frames.video_snapshots, end, EARLY_AGES_HOURS, points)
    observed = observed_at_ages(videos, points, end, EARLY_AGES_HOURS)
    titles = dict(
        zip(frames.channels["channel_id"].astype(str), frames.channels["title"].astype(str), strict=True)
    )
    shown_views: dict[str, dict[str, float]] = shown.astype(float).to_dict("index")  # type: ignore[assignment]
    observed_views: dict[str, dict[str, float]] = observed.astype(float).to_dict("index")  # type: ignore[assignment]
    curves = []
    for video in videos.to_dict("records"):
        key = str(video["video_id"])
        age_hours = (clock - pd.Timestamp(video["published_at"])).total_seconds() / 3600
        row = []
        for label, hours in EARLY_AGES_HOURS:
            value = shown_views[key][label]
            if not math.isnan(observed_views[key][label]):
                row.append(EarlyPoint(label, hours, float(value), "observed"))
            elif age_hours < hours:
                row.append(EarlyPoint(label, hours, None, "missing", f"not {label} old yet"))
            elif math.isnan(value):
                row.append(
                    EarlyPoint(label, hours, None, "missing", "no sample and no snapshots around that age")
                )
            else:
                row.append(EarlyPoint(label, hours, float(value), "interpolated"))
        curves.append(
            EarlyCurve(
                video_id=key,
                title=str(video["title"]),
                channel_title=titles.get(str(video["channel_id"]), str(video["channel_id"])),
                published_at=pd.Timestamp(video["published_at"]).to_pydatetime(),
                points=tuple(row),
            )
        )
    return tuple(curves)


# -- header, window, KPIs -------------------------------------------------------------------------


def _own_videos(frames: ChannelFrames, channel_id: str, clock: pd.Timestamp) -> pd.DataFrame:
    videos = frames.videos[frames.videos["channel_id"].astype(str) == channel_id].copy()
    videos["published_at"] = pd.to_datetime(videos["published_at"], utc=True)
    videos = videos[videos["published_at"] <= clock]
    if "is_deleted" in videos.columns:
        videos = videos[~videos["is_deleted"].fillna(False).astype(bool)]
    return videos.reset_index(drop=True)


def _header(frames: ChannelFrames, analysis: ChannelAnalysis, snaps: pd.DataFrame) -> ChannelHeader:
    rows = frames.channels[frames.channels["channel_id"].astype(str) == analysis.channel_id]
    row: dict[Any, Any] = rows.iloc[0].to_dict() if len(rows) else {}
    hidden = bool(row.get("hidden_subscriber_count", False))
    published = row.get("published_at")
    return ChannelHeader(
        channel_id=analysis.channel_id,
        title=str(row.get("title") or analysis.title or analysis.channel_id),
        handle=_text_or_none(row.get("handle")),
        subscriber_count=None if hidden else _int_or_none(_last(snaps, "subscriber_count", row)),
        view_count=_int_or_none(_last(snaps, "view_count", row)),
        video_count=_int_or_none(_last(snaps, "video_count", row)),
        published_at=None
        if published is None or pd.isna(published)
        else pd.Timestamp(published).to_pydatetime(),
    )


def _last(snaps: pd.DataFrame, column: str, fallback: Mapping[str, Any]) -> Any:
    if column in snaps.columns:
        values = pd.to_numeric(snaps[column], errors="coerce").dropna()
        if len(values):
            return values.iloc[-1]
    return fallback.get(column)


def _value_at(snaps: pd.DataFrame, column: str, at: datetime) -> float | None:
    """The last observed value at or before ``at`` (None before the first observation)."""
    if column not in snaps.columns:
        return None
    before = snaps[snaps["observed_at"] <= at]
    values = pd.to_numeric(before[column], errors="coerce").dropna()
    return float(values.iloc[-1]) if len(values) else None


def _gain(snaps: pd.DataFrame, column: str, start: datetime, end: datetime) -> float | None:
    """Change over (start, end]; None unless observed at or before ``start`` and again inside."""
    inside = snaps[(snaps["observed_at"] > start) & (snaps["observed_at"] <= end)] if len(snaps) else snaps
    if inside.empty:
        return None  # nothing seen in the period: "no change" would be a guess
    first, last = _value_at(snaps, column, start), _value_at(snaps, column, end)
    return None if first is None or last is None else last - first


def _kpis(
    videos: pd.DataFrame,
    video_snaps: pd.DataFrame,
    channel_snaps: pd.DataFrame,
    end: datetime,
    start: datetime,
    previous_start: datetime,
    early_points: pd.DataFrame | None = None,
) -> tuple[Kpi, ...]:
    published = videos["published_at"]
    current = videos[(published > start) & (published <= end)]
    previous = videos[(published > previous_start) & (published <= start)]
    at_week = (
        views_at_ages(videos, video_snaps, end, (("7d", 168.0),), early_points)["7d"]
        if len(videos)
        else pd.Series()
    )
    rates = engagement_rates(videos) if len(videos) else pd.Series(dtype=float)

    def median_of(series: pd.Series, subset: pd.DataFrame) -> float | None:
        values = series.reindex(subset["video_id"].astype(str)).dropna()
        return float(values.median()) if len(values) else None

    return (
        Kpi("views_gained", "Views gained", _gain(channel_snaps, "view_count", start, end),
            _gain(channel_snaps, "view_count", previous_start, start), derived=True),
        Kpi("subscribers_gained", "Subscribers gained", _gain(channel_snaps, "subscriber_count", start, end),
            _gain(channel_snaps, "subscriber_count", previous_start, start), derived=True),
        Kpi("subscribers", "Subscribers at period end", _value_at(channel_snaps, "subscriber_count", end),
            _value_at(channel_snaps, "subscriber_count", start)),
        Kpi("uploads", "Uploads", float(len(current)), float(len(previous))),
        Kpi("median_views_7d", "Median 7-day views of uploads", median_of(at_week, current),
            median_of(at_week, previous), derived=True),
        Kpi("engagement_median", "Median engagement rate of uploads", median_of(rates, current),
            median_of(rates, previous), unit=Unit.PERCENT, derived=True),
    )  # fmt: skip


def _window_days(snaps: pd.DataFrame, end: datetime, requested: int | None) -> tuple[int, str | None]:
    if requested is not None:
        return requested, None
    if snaps.empty:
        return DEFAULT_WINDOW_DAYS, None
    span = (end - pd.Timestamp(snaps["observed_at"].min()).to_pydatetime()).total_seconds() / 86400
    if span >= 2 * DEFAULT_WINDOW_DAYS:
        return DEFAULT_WINDOW_DAYS, None
    days = max(1, int(span // 2))
    return days, (
        f"Only {span:.0f} days of channel snapshots: the key figures compare the last {days} day(s) "
        f"with the {days} before, not {DEFAULT_WINDOW_DAYS} with {DEFAULT_WINDOW_DAYS}."
    )


def _staleness(snaps: pd.DataFrame, end: datetime) -> str | None:
    if snaps.empty:
        return "No channel snapshots: growth and the key figures need at least two collections."
    last = pd.Timestamp(snaps["observed_at"].max()).to_pydatetime()
    days = (end - last).total_seconds() / 86400
    if days < STALE_AFTER_DAYS:
        return None
    return (
        f"The latest snapshot is from {last:%Y-%m-%d}, {days:.0f} days before this report's date; "
        "figures after it are unknown, not zero. Collect again for current numbers."
    )


def _methodology_notes(since: datetime, until: datetime) -> tuple[str, ...]:
    notes = []
    for day, formats, what in VIEW_METHODOLOGY_CHANGES:
        when = datetime.fromisoformat(day).replace(tzinfo=UTC)
        if since <= when <= until:
            scope = "Shorts: " if formats == "short" else ""
            notes.append(
                f"YouTube changed how views are counted on {day} ({scope}{what}); "
                "views before and after that date are not directly comparable."
            )
    return tuple(notes)


# -- growth ---------------------------------------------------------------------------------------


def _daily(snaps: pd.DataFrame, column: str) -> pd.Series:
    if column not in snaps.columns or snaps.empty:
        return pd.Series(dtype=float)
    values = pd.to_numeric(snaps[column], errors="coerce")
    frame = pd.DataFrame({"at": snaps["observed_at"].to_numpy(), "v": values.to_numpy()}).dropna()
    if frame.empty:
        return pd.Series(dtype=float)
    frame["day"] = pd.to_datetime(frame["at"], utc=True).dt.floor("D")
    return frame.groupby("day")["v"].last().astype(float)


def _daily_views(snaps: pd.DataFrame, channel_id: str, opts: ReportOptions) -> GrowthTrajectory | None:
    """Views gained per day with the calibrated daily forecast (the one ``/v1/channels/{id}/analysis``
    serves, from the same function) and change points."""
    if len(snaps) < 2:
        return None
    daily = daily_channel_views(snaps, channel_id)
    if daily.n_days < 2:
        return None
    times = tuple(_utc_day(day) for day in daily.views.index)
    observed = TimeSeries("Daily views", times, tuple(float(v) for v in daily.views.to_numpy(dtype=float)))
    forecast = forecast_daily_views(daily, horizon_days=opts.forecast_days, levels=(opts.forecast_level,))
    band = None
    if isinstance(forecast, ViewsForecast):
        interval = forecast.interval(opts.forecast_level)
        band = ForecastBand(
            times=tuple(_utc_day(day) for day in forecast.dates),
            mean=forecast.median,
            lower=interval.lower,
            upper=interval.upper,
            level=opts.forecast_level,
            method=forecast.model,
            measured_coverage=interval.measured_coverage,
        )
    breaks = detect_change_points(daily)
    changepoints = (
        tuple(_utc_day(point.date) for point in breaks.change_points)
        if isinstance(breaks, ChangePointResult)
        else ()
    )
    return GrowthTrajectory("Daily views", observed, band, changepoints)


def _utc_day(day: Any) -> datetime:
    return pd.Timestamp(day).tz_localize(None).tz_localize(UTC).to_pydatetime()


def _growth(
    snaps: pd.DataFrame, end: datetime, opts: ReportOptions, channel_id: str
) -> tuple[GrowthTrajectory, ...]:
    trajectories = []
    for column, metric in (("subscriber_count", "Subscribers"), ("view_count", "Total views")):
        daily = _daily(snaps, column)
        if len(daily) < 2:
            continue
        times = tuple(pd.Timestamp(t).to_pydatetime() for t in daily.index)
        trajectories.append(
            GrowthTrajectory(
                metric=metric,
                observed=TimeSeries(metric, times, tuple(float(v) for v in daily.to_numpy())),
                forecast=linear_forecast(daily, end, opts.forecast_days, opts.forecast_level),
            )
        )
    daily_views = _daily_views(snaps, channel_id, opts)
    if daily_views is not None:
        trajectories.append(daily_views)
    return tuple(trajectories)


def linear_forecast(daily: pd.Series, end: datetime, days: int, level: float) -> ForecastBand | None:
    """A straight line through the last eight weeks, with its OLS prediction interval.

    Deliberately simple: it states what continuing the recent trend gives, and its interval
    widens with the distance from the data. None with fewer than 7 daily points.
    """
    recent = daily[daily.index >= pd.Timestamp(end) - pd.Timedelta(days=FORECAST_FIT_DAYS)]
    if len(recent) < 7:
        return None
    origin = recent.index[0]
    x = np.asarray((recent.index - origin) / pd.Timedelta(days=1), dtype=float)
    y = recent.to_numpy(dtype=float)
    slope, intercept = np.polyfit(x, y, 1)
    residuals = y - (slope * x + intercept)
    n = len(x)
    sigma = math.sqrt(float(np.sum(residuals**2)) / (n - 2)) if n > 2 else 0.0
    spread = float(np.sum((x - x.mean()) ** 2)) or 1.0
    t = float(stats.t.ppf(0.5 + level / 2, df=max(n - 2, 1)))
    last_day = recent.index[-1]
    times, mean, lower, upper = [], [], [], []
    for step in range(1, days + 1):
        moment = last_day + pd.Timedelta(days=step)
        at = (moment - origin) / pd.Timedelta(days=1)
        centre = slope * at + intercept
        half = t * sigma * math.sqrt(1 + 1 / n + (at - x.mean()) ** 2 / spread)
        times.append(moment.to_pydatetime())
        mean.append(float(centre))
        lower.append(float(max(centre - half, 0.0)))
        upper.append(float(centre + half))
    return ForecastBand(
        tuple(times), tuple(mean), tuple(lower), tuple(upper), level=level,
        method=f"linear trend of the last {len(recent)} days",
    )  # fmt: skip


# -- videos ---------------------------------------------------------------------------------------


def _percentile_bands(
    videos: pd.DataFrame, video_snaps: pd.DataFrame, end: datetime, early_points: pd.DataFrame | None = None
) -> PercentileBands | None:
    if videos.empty:
        return None
    main_format = str(videos["video_format"].astype(str).value_counts().idxmax())
    own = videos[videos["video_format"].astype(str) == main_format]
    ages = tuple((f"{a:g}d", a * 24.0) for a in BAND_AGES_DAYS)
    at_ages = views_at_ages(own, video_snaps, end, ages, early_points)
    kept_ages, rows = [], []
    for (label, _), age in zip(ages, BAND_AGES_DAYS, strict=True):
        values = at_ages[label].dropna().to_numpy(dtype=float)
        if len(values) >= MIN_VIDEOS_PER_AGE:
            kept_ages.append(age)
            rows.append(np.percentile(values, BAND_PERCENTILES))
    if len(kept_ages) < 2:
        return _cross_section_bands(own, main_format, end)
    bands = tuple(tuple(float(max(row[i], 0.0)) for row in rows) for i in range(len(BAND_PERCENTILES)))
    recent = own.sort_values("published_at", ascending=False).head(3)
    highlights = []
    labels = [label for (label, _), age in zip(ages, BAND_AGES_DAYS, strict=True) if age in kept_ages]
    for video in recent.to_dict("records"):
        key = str(video["video_id"])
        series: dict[Any, Any] = at_ages.loc[key].to_dict() if key in at_ages.index else {}
        points = [
            (age, float(series[label]))
            for label, age in zip(labels, kept_ages, strict=True)
            if label in series and not pd.isna(series[label])
        ]
        if not points:
            continue
        age, value = points[-1]
        column = at_ages[labels[kept_ages.index(age)]].dropna().to_numpy(dtype=float)
        highlights.append(
            VideoTrajectory(
                video_id=str(video["video_id"]),
                title=str(video["title"]),
                age_days=tuple(p[0] for p in points),
                values=tuple(p[1] for p in points),
                percentile_now=float(stats.percentileofscore(column, value, kind="mean")),
            )
        )
    return PercentileBands(
        metric="Views",
        age_days=tuple(kept_ages),
        percentiles=BAND_PERCENTILES,
        bands=bands,
        reference=f"this channel's {fmt.format_name(main_format).lower()} at the same age",
        highlights=tuple(highlights),
    )


def _cross_section_bands(own: pd.DataFrame, main_format: str, end: datetime) -> PercentileBands | None:
    """Bands from each video's latest views at its current age, when few videos were watched young.

    Snapshots taken only after most videos had aged cannot give views *at* 1..28 days; every video
    still has one (age, views) point now. Grouped into age brackets, those give a cross-section:
    older videos had different channel conditions, which the reference text says.
    """
    views = _latest_views(own)
    age_days = (pd.Timestamp(end) - own["published_at"]).dt.total_seconds() / 86400
    frame = pd.DataFrame({"age": age_days.to_numpy(), "views": views.to_numpy()}).dropna()
    frame = frame[frame["age"] > 0]
    kept_ages, rows = [], []
    for low, high in itertools.pairwise(CROSS_SECTION_EDGES_DAYS):
        values = frame[(frame["age"] >= low) & (frame["age"] < high)]["views"].to_numpy(dtype=float)
        if len(values) >= MIN_VIDEOS_PER_AGE:
            kept_ages.append(float(math.sqrt(low * high)))
            rows.append(np.percentile(values, BAND_PERCENTILES))
    if len(kept_ages) < 2:
        return None
    bands = tuple(tuple(float(max(row[i], 0.0)) for row in rows) for i in range(len(BAND_PERCENTILES)))
    highlights = []
    for video in own.sort_values("published_at", ascending=False).head(3).to_dict("records"):
        views_now = _float_or_none(video.get("view_count"))
        age = (pd.Timestamp(end) - pd.Timestamp(video["published_at"])).total_seconds() / 86400
        if views_now is None or age <= 0:
            continue
        bracket = next(
            ((lo, hi) for lo, hi in itertools.pairwise(CROSS_SECTION_EDGES_DAYS) if lo <= age < hi), None
        )
        peers = (
            frame[(frame["age"] >= bracket[0]) & (frame["age"] < bracket[1])] if bracket else frame.iloc[0:0]
        )
        highlights.append(
            VideoTrajectory(
                video_id=str(video["video_id"]),
                title=str(video["title"]),
                age_days=(float(age),),
                values=(views_now,),
                percentile_now=float(stats.percentileofscore(peers["views"], views_now, kind="mean"))
                if len(peers) >= MIN_VIDEOS_PER_AGE
                else None,
            )
        )
    return PercentileBands(
        metric="Views",
        age_days=tuple(kept_ages),
        percentiles=BAND_PERCENTILES,
        bands=bands,
        reference=(
            f"this channel's {fmt.format_name(main_format).lower()} by current age "
            "(cross-section of latest views)"
        ),
        highlights=tuple(highlights),
    )


def _latest_views(videos: pd.DataFrame) -> pd.Series:
    return pd.to_numeric(videos["view_count"], errors="coerce").astype(float)


def _formats(
    videos: pd.DataFrame, analysis: ChannelAnalysis, rng: np.random.Generator
) -> tuple[FormatStat, ...]:
    if videos.empty:
        return ()
    views = _latest_views(videos)
    total = float(views.sum(skipna=True)) or 1.0
    result = []
    for video_format in ("short", "long", "live"):
        mine = views[videos["video_format"].astype(str) == video_format].dropna().to_numpy(dtype=float)
        if not len(mine):
            continue
        engagement = next(
            (s.median for s in analysis.engagement.by_format if s.video_format == video_format), None
        )
        result.append(
            FormatStat(
                video_format=video_format,
                n_videos=len(mine),
                total_views=int(mine.sum()),
                median_views=float(np.median(mine)),
                share_of_views=float(mine.sum()) / total,
                median_engagement_rate=engagement,
                median_views_ci=_median_interval(mine, rng) if len(mine) >= 5 else None,
            )
        )
    return tuple(result)


def _median_interval(values: np.ndarray, rng: np.random.Generator, n: int = 1000) -> tuple[float, float]:
    picks = rng.integers(0, len(values), size=(n, len(values)))
    medians = np.median(values[picks], axis=1)
    low, high = np.percentile(medians, [2.5, 97.5])
    return float(low), float(high)


def _performance(videos: pd.DataFrame, analysis: ChannelAnalysis) -> pd.Series:
    index = analysis.same_age.performance_index()
    if len(index):
        return index["score"].astype(float)
    views = _latest_views(videos)
    median = views.groupby(videos["video_format"].astype(str)).transform("median")
    return pd.Series((views / median).to_numpy(), index=videos["video_id"].astype(str).to_numpy())


def _heatmap(videos: pd.DataFrame, analysis: ChannelAnalysis) -> PublishHeatmap | None:
    if videos.empty:
        return None
    performance = _performance(videos, analysis)
    zone = analysis.timing.timezone
    local = videos["published_at"].dt.tz_convert(zone)
    frame = pd.DataFrame(
        {
            "perf": performance.reindex(videos["video_id"].astype(str)).to_numpy(dtype=float),
            "weekday": local.dt.day_of_week.to_numpy(),
            "hour": local.dt.hour.to_numpy(),
        }
    )
    frame = frame[np.isfinite(frame["perf"]) & (frame["perf"] > 0)]
    if frame.empty:
        return None
    overall = float(frame["perf"].median())
    cells = frame.groupby(["weekday", "hour"])["perf"].agg(["median", "size"])
    values: list[list[float | None]] = [[None] * 24 for _ in range(7)]
    counts = [[0] * 24 for _ in range(7)]
    for (weekday, hour), row in cells.iterrows():
        values[int(weekday)][int(hour)] = float(row["median"]) / overall
        counts[int(weekday)][int(hour)] = int(row["size"])
    timing = analysis.timing
    slots = [s for s in (_slot(timing.weekday), _slot(timing.hour)) if s is not None]
    return PublishHeatmap(
        values=tuple(tuple(r) for r in values),
        counts=tuple(tuple(r) for r in counts),
        metric="median performance / channel median",
        best_slots=tuple(slots),
        timezone=zone,
    )


def _slot(dimension: TimingDimension) -> TimeSlotEffect | None:
    if dimension.best is None or dimension.median_ratio is None:
        return None
    if dimension.ci_low is None or dimension.ci_high is None:
        return None
    weekday: int | None = None
    hour: int | None = None
    hours = 1
    if dimension.dimension == "weekday":
        weekday = WEEKDAYS.index(dimension.best) if dimension.best in WEEKDAYS else None
        if weekday is None:
            return None
        baseline = "the median performance of uploads on other days"
    else:
        first, _, last = dimension.best.partition("-")
        hour = int(first.split(":")[0])
        hours = int(last.split(":")[0]) - hour + 1 if last else 1
        baseline = "the median performance of uploads at other hours"
    return TimeSlotEffect(
        weekday=weekday, hour=hour, lift=dimension.median_ratio, ci_low=dimension.ci_low,
        ci_high=dimension.ci_high, n=dimension.best_n, hours=hours, baseline=baseline,
        p_value=dimension.kruskal_p if dimension.kruskal_p_adjusted is None else dimension.kruskal_p_adjusted,
    )  # fmt: skip


def _outliers(videos: pd.DataFrame, analysis: ChannelAnalysis) -> tuple[OutlierRow, ...]:
    rows = []
    # A single method's flag (isolation forest marks a share of every channel) is not an outlier a
    # reader should act on: the table keeps videos the methods agree on, or robust z flagged.
    agreed = [
        o for o in analysis.outliers.outliers if o.consensus or any(f.method == "robust_z" for f in o.flags)
    ]
    flagged = sorted(agreed, key=lambda o: (not o.consensus, -abs(_robust_z(o.flags))))
    wanted = videos[videos["video_id"].astype(str).isin({o.video_id for o in flagged})]
    by_id = {str(video["video_id"]): video for video in wanted.to_dict("records")}
    for outlier in flagged:
        video = by_id.get(outlier.video_id)
        if video is None or outlier.performance <= 0:
            continue
        views = _int_or_none(video.get("view_count"))
        if views is None:
            continue
        rows.append(
            OutlierRow(
                video_id=outlier.video_id,
                title=str(video.get("title", "")),
                published_at=pd.Timestamp(video["published_at"]).to_pydatetime(),
                video_format=outlier.video_format,
                views=views,
                expected_views=views / outlier.performance,
                score=_robust_z(outlier.flags) or math.log(outlier.performance),
            )
        )
        if len(rows) == MAX_OUTLIER_ROWS:
            break
    return tuple(rows)


def _robust_z(flags: Sequence[Any]) -> float:
    return next((float(f.score) for f in flags if f.method == "robust_z"), 0.0)


def _correlation(analysis: ChannelAnalysis) -> CorrelationMatrix | None:
    result = analysis.correlation
    labels = result.matrix_labels
    if len(labels) < 2:
        return None
    position = {label: i for i, label in enumerate(labels)}
    p_values: list[list[float | None]] = [[None] * len(labels) for _ in labels]
    n_pairs: list[list[int | None]] = [[None] * len(labels) for _ in labels]
    n = 0
    for cell in result.cells:
        if cell.feature in position and cell.target in position and cell.q_value is not None:
            i, j = position[cell.feature], position[cell.target]
            p_values[i][j] = p_values[j][i] = cell.q_value
            n_pairs[i][j] = n_pairs[j][i] = int(cell.n)
            n = max(n, cell.n)
    coefficients = tuple(
        tuple(None if v is None or not math.isfinite(v) else float(v) for v in row) for row in result.matrix
    )
    return CorrelationMatrix(
        variables=labels,
        coefficients=coefficients,
        p_values=tuple(tuple(row) for row in p_values),
        n=n or analysis.n_videos,
        method=result.method,
        p_adjustment="Benjamini-Hochberg",
        targets=result.targets,
        n_pairs=tuple(tuple(row) for row in n_pairs),
    )


def _ab_results(test: AbTestResult) -> list[AbResult]:
    results = []
    for comparison in test.comparisons:
        s = comparison.statistics
        if comparison.status != "ok" or s is None:
            continue
        # The analysis reports lift as A over B; the report puts the tested feature (A) as treatment.
        results.append(
            AbResult(
                name=test.group_a,
                scope=fmt.format_name(comparison.stratum) if comparison.stratum in _FORMATS else "",
                metric=test.metric_description,
                group_a=comparison.group_b.label,
                group_b=comparison.group_a.label,
                n_a=comparison.group_b.n,
                n_b=comparison.group_a.n,
                estimate_a=comparison.group_b.geometric_mean_views or math.nan,
                estimate_b=comparison.group_a.geometric_mean_views or math.nan,
                effect=s.lift,
                ci_low=s.lift_ci_low,
                ci_high=s.lift_ci_high,
                p_value=s.welch_p,
                ci_level=test.confidence,
                method="Welch t on log views; bootstrap interval of the ratio of geometric means",
                confounded_by="video age (latest views: older videos had longer to gather views)"
                if test.metric is Metric.LATEST_VIEWS
                else None,
            )
        )
    return results


def holm_adjusted(results: Sequence[AbResult]) -> tuple[AbResult, ...]:
    """The comparisons with Holm-adjusted p-values: a report runs several, so one may win by chance."""
    if not results:
        return ()
    adjusted = holm(np.array([r.p_value for r in results], dtype=float))
    return tuple(
        dataclasses.replace(result, p_adjusted=float(p)) for result, p in zip(results, adjusted, strict=True)
    )


def _peers(
    frames: ChannelFrames, channel_id: str, benchmark: BenchmarkResult | None, fleet: pd.DataFrame | None
) -> PeerComparison | None:
    if benchmark is None or fleet is None or benchmark.peer_count == 0:
        return None
    table = fleet.set_index(fleet["channel_id"].astype(str))
    ids = [channel_id, *sorted(i for i in table.index if i != channel_id)]
    titles = frames.channels.set_index(frames.channels["channel_id"].astype(str))["title"].to_dict()
    known = benchmark.figures.reference_as_of if benchmark.figures is not None else None
    reference = pd.Timestamp(known) if known else None
    figures = {
        i: channel_kpis_from_row(
            {str(k): v for k, v in table.loc[i].to_dict().items()} | {"channel_id": i}, reference
        )
        for i in ids
    }
    channels = tuple(
        PeerChannel(
            i, str(titles.get(i, i)), is_subject=i == channel_id, as_of=figures[i].as_of,
            stale_note=figures[i].stale_note,
        )
        for i in ids
    )  # fmt: skip
    metrics = []
    for kpi in benchmark.kpis:
        if kpi.name not in table.columns:
            continue
        label, unit = _PEER_METRICS.get(kpi.name, (kpi.name.replace("_", " ").capitalize(), Unit.COUNT))
        values = tuple(_float_or_none(table.at[i, kpi.name]) for i in ids)
        metrics.append(
            PeerMetric(
                key=kpi.name, label=label, values=values, unit=unit, derived=kpi.derived,
                higher_is_better=kpi.higher_is_better, subject_percentile=kpi.percentile,
            )
        )  # fmt: skip
    return PeerComparison(channels=channels, metrics=tuple(metrics))


# -- appendix -------------------------------------------------------------------------------------


def _methods(
    analysis: ChannelAnalysis,
    benchmark: BenchmarkResult | None,
    ab_tests: Sequence[AbTestResult],
    growth: tuple[GrowthTrajectory, ...],
) -> tuple[MethodNote, ...]:
    outliers = analysis.outliers
    notes = [
        MethodNote(
            "Views gained, subscribers gained",
            "Last channel snapshot at or before the period end minus the last one at or before its "
            "start; empty when a snapshot is missing.",
        ),
        MethodNote(
            "Median 7-day views of uploads",
            "Each upload's views interpolated to exactly 7 days after publishing from its snapshots; "
            "the median over uploads of the period that have reached 7 days. Derived.",
        ),
        MethodNote(
            "Uploads, subscribers at period end",
            "Uploads: videos published in the period and still public. Subscribers: YouTube's public "
            "(rounded) count at the last snapshot of the period; hidden counts stay empty, never 0.",
        ),
        MethodNote("Engagement rate", analysis.engagement.definition),
        MethodNote("Same-age performance", analysis.same_age.definition),
        MethodNote(
            "Same-age percentile bands",
            "Views of the channel's videos of its most common format interpolated at each age; bands "
            "show the 10th-90th and 25th-75th percentiles over videos with a value at that age (ages "
            f"with fewer than {MIN_VIDEOS_PER_AGE} videos are left out). When too few videos were "
            "watched while young, the bands are a cross-section instead: each video's latest views, "
            "grouped by its current age.",
        ),
        MethodNote(
            "Best publish time",
            f"{analysis.timing.weekday.metric}; a weekday or hour band is called best only when "
            "Kruskal-Wallis rejects equal groups (p Holm-adjusted over weekday and hour) and the "
            "bootstrap interval of its median ratio lies above 1. Hours are UTC. The grid shows each "
            "cell's median over the channel median.",
        ),
        MethodNote(
            "Outliers",
            f"Methods: {', '.join(outliers.methods_run) or 'none'}; flagged by at least "
            f"{outliers.min_agreement} methods, robust z among them, counts as consensus. Robust z = "
            "(log performance - median) / (1.4826 x MAD); its p-values (Student's t, for the MAD's "
            "noise) are Benjamini-Hochberg-adjusted over the channel's videos, which keeps the chance "
            "of any false consensus outlier on a channel without outliers at 5%. Performance is "
            "views at a fixed age over the same-format median at that age, or else lifetime views over "
            "the median of same-format videos of about the same age (within 1.5x). "
            "Expected views = views / performance."
            + (
                f" {outliers.n_too_young} newer videos are too early to judge (younger than their "
                "comparison set) and are not rated."
                if outliers.n_too_young
                else ""
            ),
        ),
        MethodNote(
            "Correlations",
            f"{analysis.correlation.method.capitalize()} rank correlation, pairwise complete; p-values "
            "Benjamini-Hochberg adjusted over every feature-target pair.",
        ),
        MethodNote(
            "Format medians",
            "Latest views per video; the interval is a 95% percentile bootstrap (1,000 resamples) of "
            "the median.",
        ),
        MethodNote("Derived metrics", analysis.derived_note),
    ]
    daily_bands = [t.forecast for t in growth if t.metric == "Daily views" and t.forecast is not None]
    if daily_bands:
        level, measured = daily_bands[0].level, daily_bands[0].measured_coverage
        notes.append(
            MethodNote(
                "Daily views and their forecast",
                "Daily views are the day-to-day gain of the channel's total view count, interpolated "
                "to UTC midnights. The forecast is the median of the last 7 days (on log1p views); the "
                f"band is a {level:.0%} split-conformal interval: the channel's typical "
                "day-to-day change times the quantile of such scaled errors in rolling-origin "
                f"backtests of real channels ({FLEET_SOURCE}){_fleet_coverage(measured)}. "
                "It needs "
                f"{DAILY_FORECAST_MIN_DAYS} days; days beyond the 7th are extrapolated, not measured. "
                f"Dotted lines mark structural breaks found by {CHANGE_POINT_METHOD}.",
            )
        )
    if any(t.metric != "Daily views" and t.forecast is not None for t in growth):
        notes.append(
            MethodNote(
                "Forecast",
                "A least-squares line through the daily values of the last "
                f"{FORECAST_FIT_DAYS} days (all of them, when fewer), extended; the band is the 80% "
                "OLS prediction interval. It assumes the recent trend continues and is a derived "
                "projection, not a YouTube figure.",
            )
        )
    if ab_tests:
        notes.append(
            MethodNote(
                "A/B comparisons",
                "Videos matching a filter against the rest, within each format; effect = ratio of "
                "geometric mean views (treatment / control) with a bootstrap interval; p from Welch's "
                "t-test on log views, Holm-adjusted over all comparisons in the report. Observational: "
                "the groups were not randomised.",
            )
        )
    if benchmark is not None:
        for kpi in benchmark.kpis:
            label = _PEER_METRICS.get(kpi.name, (kpi.name, Unit.COUNT))[0]
            notes.append(
                MethodNote(
                    f"Peer metric: {label}",
                    f"{kpi.definition}. Percentile = share of peers with a lower value (ties count half).",
                )
            )
    return tuple(notes)


def _fleet_coverage(measured: float | None) -> str:
    return "" if measured is None else f", where it covered {measured:.1%} of held-out days"


def _warnings(analysis: ChannelAnalysis) -> tuple[str, ...]:
    return tuple(f"Outlier method skipped: {reason}" for reason in analysis.outliers.skipped)


def _ab_notes(ab_tests: Sequence[AbTestResult]) -> tuple[str, ...]:
    notes: list[str] = []
    for test in ab_tests:
        notes.extend(f"“{test.group_a}”: {note}" for note in test.notes)
        insufficient = [c for c in test.comparisons if c.status != "ok"]
        notes.extend(f"“{test.group_a}”, {c.stratum}: {c.verdict}" for c in insufficient)
        if not test.comparisons:
            notes.append(f"“{test.group_a}”: {test.verdict}")
    return tuple(notes)


def _int_or_none(value: Any) -> int | None:
    number = _float_or_none(value)
    return None if number is None else int(number)


def _float_or_none(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _text_or_none(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    text = str(value)
    return text or None
