"""One channel's full analysis, and fleet-wide KPIs (pandas, or SQL run inside DuckDB).

``fleet_kpis`` (pandas, over frames) and ``fleet_kpis_sql``/``fleet_kpis_duckdb`` (DuckDB, over
tables with the frame columns) compute the same table, one row per channel:

- each channel's window ends at its own last observation (channel or video snapshot) at or
  before ``now`` (``now`` None: no cap), reported as ``as_of``: never the machine's clock, and a
  channel whose collection stopped gets a true 28-day window ending then, not a shorter one;
- latest counts are the last observation at or before ``now`` (video snapshots per video,
  channel snapshots per channel; a hidden subscriber count is skipped, not read as 0);
- ``median_views`` is the median over the channel's videos of their latest views;
  ``views_per_subscriber`` = median_views / subscriber_count;
- engagement per video is (likes + comments) / views on its latest snapshot, videos with hidden
  likes or no views excluded (counted in ``n_hidden_likes``), disabled comments as 0;
- ``uploads_per_week_90d`` counts videos published in (as_of - 90 d, as_of], divided by 90/7;
- 28-day gains compare the latest value with the last one at or before ``as_of - 28 d``;
  growth = gain / start value.

Every KPI is a derived metric. The SQL is built by a pure function; the caller owns the
connection, so analysis never opens a file.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from tubescope.analysis.cadence import CadenceResult, analyze_cadence
from tubescope.analysis.correlation import CorrelationResult, analyze_correlation
from tubescope.analysis.engagement import EngagementResult, analyze_engagement
from tubescope.analysis.features import (
    JsonMixin,
    epoch_ns,
    gc_paused,
    id_positions,
    json_safe,
    latest_rows,
    require_aware,
    require_columns,
)
from tubescope.analysis.frames import ChannelFrames
from tubescope.analysis.growth import GrowthResult, analyze_growth
from tubescope.analysis.kpi_sql import FLEET_KPI_COLUMNS as FLEET_KPI_COLUMNS
from tubescope.analysis.kpi_sql import NO_CAP as NO_CAP
from tubescope.analysis.kpi_sql import check_identifier as check_identifier
from tubescope.analysis.kpi_sql import fleet_kpis_sql as fleet_kpis_sql
from tubescope.analysis.kpi_sql import kpi_channel_filters as kpi_channel_filters
from tubescope.analysis.kpi_sql import kpi_frame as kpi_frame
from tubescope.analysis.kpi_sql import kpi_latest_sql as kpi_latest_sql
from tubescope.analysis.kpis import ChannelKpis, channel_kpis_from_table
from tubescope.analysis.outliers import OutlierOptions, OutlierResult, analyze_outliers
from tubescope.analysis.same_age import SameAgeResult, analyze_same_age
from tubescope.analysis.timing import TimingOptions, TimingResult, analyze_timing, daily_season_from_videos
from tubescope.errors import ChannelNotFound, ConfigError

DERIVED_NOTE = (
    "Metrics marked derived are computed by tubescope from public YouTube statistics; "
    "they are not YouTube's own figures."
)

OUTLIER_AGES = ("28d", "7d", "24h")
"""Outliers prefer the oldest same age: view curves differ least once most views are in."""


@dataclass(frozen=True)
class AnalysisOptions:
    """Options of the whole-channel analysis (timing, outliers, recent window, correlation alpha)."""

    timing: TimingOptions = field(default_factory=TimingOptions)
    outliers: OutlierOptions = field(default_factory=OutlierOptions)
    recent_days: int = 7
    correlation_alpha: float = 0.05


@dataclass(frozen=True)
class ChannelAnalysis(JsonMixin):
    """Every analysis of one channel as of one moment, with its KPIs."""

    channel_id: str
    title: str | None
    now: str
    since: str | None
    n_videos: int
    engagement: EngagementResult
    growth: GrowthResult
    same_age: SameAgeResult
    cadence: CadenceResult
    timing: TimingResult
    outliers: OutlierResult
    correlation: CorrelationResult
    extras: Mapping[str, Any] = field(default_factory=dict)
    """Results of optional analyses (time series, ...) keyed by name, already JSON-safe."""
    kpis: ChannelKpis | None = None
    """The key figures every surface shows, as of the channel's last observation up to ``now``."""
    derived_note: str = DERIVED_NOTE


def _channel_frames(frames: ChannelFrames, channel_id: str, since: pd.Timestamp | None) -> ChannelFrames:
    require_columns(frames.videos, "videos", ("video_id", "channel_id", "published_at", "video_format"))
    require_columns(frames.video_snapshots, "video_snapshots", ("video_id", "observed_at", "view_count"))
    require_columns(frames.channel_snapshots, "channel_snapshots", ("channel_id", "observed_at"))
    require_columns(frames.channels, "channels", ("channel_id",))
    in_videos = (frames.videos["channel_id"].astype(str) == channel_id).to_numpy(dtype=bool)
    in_channels = (frames.channels["channel_id"].astype(str) == channel_id).to_numpy(dtype=bool)
    if not in_videos.any() and not in_channels.any():
        raise ChannelNotFound(f"channel {channel_id} is not in the frames given to the analysis")
    videos = _rows(frames.videos, in_videos)
    channel_snaps = frames.channel_snapshots[frames.channel_snapshots["channel_id"].astype(str) == channel_id]
    if since is not None:
        videos = videos[pd.to_datetime(videos["published_at"], utc=True) >= since]
        channel_snaps = channel_snaps[channel_snaps["observed_at"] >= since]
    snaps = frames.video_snapshots
    video_snaps = _rows(snaps, id_positions(snaps["video_id"], videos["video_id"]) >= 0)
    channels = frames.channels[in_channels]
    early = frames.early_points
    if early is not None:
        early = _rows(early, id_positions(early["video_id"], videos["video_id"]) >= 0)
    return ChannelFrames(channels, videos.reset_index(drop=True), video_snaps, channel_snaps, early)


def _rows(frame: pd.DataFrame, keep: Any) -> pd.DataFrame:
    """``frame[keep]``, without copying every column when every row is kept (the usual case:
    frames loaded for the one channel analysed)."""
    mask = np.asarray(keep, dtype=bool)
    return frame if mask.all() else frame[mask]


def _companion(module: str, function: str) -> Callable[..., Any] | None:
    """A function of a companion analysis module, or None while that module does not provide it."""
    try:
        found: Callable[..., Any] | None = getattr(importlib.import_module(module), function, None)
    except ImportError:
        return None
    return found


def _optional_extras(frames: ChannelFrames, channel_id: str, now: datetime) -> dict[str, Any]:
    """Results of the companion modules (time series, A/B tests) when they are present."""
    extras: dict[str, Any] = {}
    timeseries = _companion("tubescope.analysis.timeseries", "analyze_timeseries")
    if timeseries is not None:
        extras["timeseries"] = _guarded(lambda: timeseries(frames, channel_id=channel_id, now=now))
    ab_test = _companion("tubescope.analysis.abtest", "run_ab_test")
    if ab_test is not None and len(frames.videos):
        # The one A/B question every channel can ask of its titles; custom ones go through the CLI.
        extras["ab_question_titles"] = _guarded(lambda: ab_test(frames, "title contains '?'", now=now))
    return extras


def _guarded(compute: Callable[[], Any]) -> Any:
    """An optional extra's JSON-safe result; its failure is reported in place, never fatal to
    the core analysis the user asked for."""
    try:
        return json_safe(compute())
    except Exception as exc:  # any failure of an optional companion is contained, not raised
        return {"error": f"{type(exc).__name__}: {exc}"}


def analyze_channel(
    frames: ChannelFrames,
    channel_id: str,
    now: datetime,
    since: datetime | None = None,
    options: AnalysisOptions | None = None,
    *,
    reference: datetime | None = None,
) -> ChannelAnalysis:
    """Every part-A analysis of one channel as of ``now``, plus optional extras when available.

    ``reference`` is the newest observation the channel's staleness is judged against (the
    warehouse's; default ``now``): it only sets the ``kpis.stale`` flag.
    """
    with gc_paused():
        return _analyze_channel(frames, channel_id, now, since, options, reference)


def _analyze_channel(
    frames: ChannelFrames,
    channel_id: str,
    now: datetime,
    since: datetime | None,
    options: AnalysisOptions | None,
    reference: datetime | None,
) -> ChannelAnalysis:
    opts = options or AnalysisOptions()
    clock = require_aware(now)
    start = require_aware(since, "since") if since is not None else None
    if start is not None and start >= clock:
        raise ConfigError(f"since ({start.isoformat()}) must be before now ({clock.isoformat()})")
    own = _channel_frames(frames, channel_id, start)
    videos = _rows(own.videos, pd.to_datetime(own.videos["published_at"], utc=True) <= clock)
    videos = videos.reset_index(drop=True)
    video_snaps = _rows(own.video_snapshots, own.video_snapshots["observed_at"] <= clock)
    if "view_count" not in videos.columns or videos["view_count"].isna().all():
        videos = _with_latest_counts(videos, video_snaps)
    same_age = analyze_same_age(videos, video_snaps, clock, early_points=own.early_points)
    performance = same_age.performance_index()
    growth = analyze_growth(own.channel_snapshots, videos, video_snaps, clock, recent_days=opts.recent_days)
    titles = own.channels["title"] if "title" in own.channels.columns else pd.Series(dtype=object)
    return ChannelAnalysis(
        channel_id=channel_id,
        title=str(titles.iloc[0]) if len(titles) else None,
        now=clock.isoformat(),
        since=None if start is None else start.isoformat(),
        n_videos=len(videos),
        engagement=analyze_engagement(videos),
        growth=growth,
        same_age=same_age,
        cadence=analyze_cadence(videos, clock),
        timing=analyze_timing(
            videos,
            _timing_performance(videos, same_age),
            opts.timing,
            metric="same-age outlier score (24h, else 7d/28d), else views / same-format median",
            daily=growth.daily,
            season=daily_season_from_videos(videos, video_snaps, clock, opts.timing),
        ),
        outliers=analyze_outliers(
            videos, same_age.performance_index(preferred=OUTLIER_AGES), opts.outliers, now=clock
        ),
        correlation=analyze_correlation(
            videos, performance["score"] if len(performance) else None, alpha=opts.correlation_alpha
        ),
        extras=_optional_extras(own, channel_id, clock),
        kpis=channel_kpis_from_table(
            fleet_kpis(frames, clock, [channel_id]), channel_id, reference if reference is not None else clock
        ),
    )


def _timing_performance(videos: pd.DataFrame, same_age: SameAgeResult) -> pd.Series | None:
    # The publish day matters most on the first day, so the earliest same age is preferred.
    performance = same_age.performance_index(preferred=("24h", "7d", "28d"))
    if len(performance) < max(10, len(videos) // 2):
        return None  # too little snapshot history: fall back to lifetime views per format
    return performance["score"]


def _with_latest_counts(videos: pd.DataFrame, video_snaps: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in ("view_count", "like_count", "comment_count") if c in video_snaps.columns]
    latest = latest_rows(video_snaps[["video_id", "observed_at", *cols]], "video_id")
    base = videos.drop(columns=[c for c in cols if c in videos.columns])
    return base.merge(latest[["video_id", *cols]], on="video_id", how="left")


# --- fleet KPIs -----------------------------------------------------------------------------


def _as_of(frame: pd.DataFrame, value: str, at: pd.Series | pd.Timestamp) -> pd.Series:
    """Per channel, the last known ``value`` at or before ``at`` (one instant, or one per channel)."""
    if isinstance(at, pd.Series):
        limit = frame["channel_id"].map(at)
        keep = frame["observed_at"].notna() & limit.notna()
        keep &= frame["observed_at"] <= limit.where(keep, frame["observed_at"])
    else:
        keep = frame["observed_at"] <= at
    rows = frame[keep & frame[value].notna()]
    rows = rows.sort_values("observed_at").drop_duplicates("channel_id", keep="last")
    return rows.set_index("channel_id")[value].astype(float)


def window_ends(
    channel_snapshots: pd.DataFrame, video_snapshots: pd.DataFrame, now: datetime | None = None
) -> pd.Series:
    """Each channel's KPI window end: its last observation (channel or video snapshot) at or
    before ``now`` (None: no cap). The one "as of" every surface uses for a channel's figures."""
    cap = require_aware(now or NO_CAP)
    seen = []
    for frame in (channel_snapshots, video_snapshots):
        if len(frame):
            # Only the two columns grouped: filtering the whole snapshot frame copied every column.
            mine = frame[["channel_id", "observed_at"]]
            mine = mine[mine["observed_at"] <= cap]
            seen.append(mine.groupby(mine["channel_id"].astype(str))["observed_at"].max())
    if not seen:
        return pd.Series(dtype="datetime64[ns, UTC]", name="as_of")
    ends = pd.concat(seen, axis=1).max(axis=1)
    ends.name = "as_of"
    return ends


def fleet_kpis(
    frames: ChannelFrames, now: datetime | None = None, channel_ids: Sequence[str] | None = None
) -> pd.DataFrame:
    """The fleet KPI table computed in pandas (see the module docstring for definitions)."""
    clock = require_aware(now or NO_CAP)
    require_columns(
        frames.video_snapshots,
        "video_snapshots",
        ("video_id", "channel_id", "observed_at", "view_count", "like_count", "comment_count"),
    )
    require_columns(
        frames.channel_snapshots, "channel_snapshots", ("channel_id", "observed_at", "view_count")
    )
    require_columns(frames.videos, "videos", ("video_id", "channel_id", "published_at"))
    snaps, ch, vids = frames.video_snapshots, frames.channel_snapshots, frames.videos
    if channel_ids is not None:
        wanted = pd.Series(list(channel_ids), dtype="str")
        snaps = _rows(snaps, id_positions(snaps["channel_id"], wanted) >= 0)
        ch = _rows(ch, id_positions(ch["channel_id"], wanted) >= 0)
        vids = _rows(vids, id_positions(vids["channel_id"], wanted) >= 0)
    ends = window_ends(ch, snaps, clock)
    # Only the columns used: sorting every column (ids and sources are Arrow strings) cost more
    # than the KPIs. The order is argsort's of observed_at alone, whatever columns come along.
    used = ["video_id", "channel_id", "observed_at", "view_count", "like_count", "comment_count"]
    latest = latest_rows(_rows(snaps[used], snaps["observed_at"] <= clock), "video_id")
    views = latest["view_count"].astype("float64")
    likes = latest["like_count"].astype("float64")
    comments = latest["comment_count"].astype("float64").fillna(0.0)
    rated = (views > 0) & likes.notna()
    per_video = pd.DataFrame(
        {
            "channel_id": latest["channel_id"].to_numpy(),
            "views": views.to_numpy(),
            "hidden": likes.isna().to_numpy(),
            "rate": ((likes + comments) / views).where(rated).to_numpy(),
        }
    )
    grouped = per_video.groupby("channel_id")
    video_kpis = pd.DataFrame(
        {
            "n_videos": grouped.size(),
            "n_rated": grouped["rate"].count(),
            "n_hidden_likes": grouped["hidden"].sum(),
            "median_views": grouped["views"].median(),
            "engagement_mean": grouped["rate"].mean(),
            "engagement_median": grouped["rate"].median(),
        }
    )
    published = pd.to_datetime(vids["published_at"], utc=True)
    video_end = vids["channel_id"].astype(str).map(ends)
    recent = video_end.notna() & (published > video_end - pd.Timedelta(days=90)) & (published <= video_end)
    uploads = recent.groupby(vids["channel_id"].to_numpy()).sum().astype("float64")
    start_at = ends - pd.Timedelta(days=28)
    table = pd.DataFrame(
        {
            "as_of": ends,
            "subscriber_count": _as_of(ch, "subscriber_count", clock),
            "total_views": _as_of(ch, "view_count", clock),
            "subs_start": _as_of(ch, "subscriber_count", start_at),
            "views_start": _as_of(ch, "view_count", start_at),
        }
    )
    table = table.join(video_kpis, how="outer").join(uploads.rename("uploads_90d"), how="outer")
    for column in ("n_videos", "n_rated", "n_hidden_likes", "uploads_90d"):
        table[column] = table[column].fillna(0).astype("int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        subs = table["subscriber_count"].where(table["subscriber_count"] > 0)
        table["views_per_subscriber"] = table["median_views"] / subs
        table["uploads_per_week_90d"] = table["uploads_90d"] / (90 / 7)
        table["subscriber_gain_28d"] = table["subscriber_count"] - table["subs_start"]
        table["subscriber_growth_28d"] = table["subscriber_gain_28d"] / table["subs_start"].where(
            table["subs_start"] > 0
        )
        table["view_gain_28d"] = table["total_views"] - table["views_start"]
        table["view_growth_28d"] = table["view_gain_28d"] / table["views_start"].where(
            table["views_start"] > 0
        )
    table.index.name = "channel_id"
    out = table.reset_index()[list(FLEET_KPI_COLUMNS)]
    out["as_of"] = pd.to_datetime(out["as_of"], utc=True)
    return out.sort_values("channel_id").reset_index(drop=True)


def fleet_kpis_duckdb(
    connection: Any,
    now: datetime | None = None,
    *,
    channel_id: str | None = None,
    video_snapshots: str = "video_snapshots",
    channel_snapshots: str = "channel_snapshots",
    videos: str = "videos",
) -> pd.DataFrame:
    """Run :func:`fleet_kpis_sql` on the caller's DuckDB connection: the table :func:`fleet_kpis` gives."""
    clock = require_aware(now or NO_CAP)
    sql = fleet_kpis_sql(
        video_snapshots=video_snapshots,
        channel_snapshots=channel_snapshots,
        videos=videos,
        one_channel=channel_id is not None,
    )
    params: dict[str, Any] = {"now": clock.to_pydatetime()}
    if channel_id is not None:
        params["channel_id"] = channel_id
    frame: pd.DataFrame = connection.execute(sql, params).df()
    return kpi_frame(frame)


_CHANNEL_VIDEOS_SQL = """
SELECT CAST(arg_max_null(view_count, observed_at) AS DOUBLE) AS v,
       CAST(arg_max_null(like_count, observed_at) AS DOUBLE) AS l,
       CAST(arg_max_null(comment_count, observed_at) AS DOUBLE) AS c,
       epoch_ns(max(observed_at)) AS t
FROM {vs} WHERE channel_id = $channel_id AND observed_at <= CAST($now AS TIMESTAMPTZ)
GROUP BY video_id
"""
_CHANNEL_SNAPSHOTS_SQL = """
SELECT observed_at, CAST(subscriber_count AS DOUBLE) AS subs, CAST(view_count AS DOUBLE) AS views
FROM {cs} WHERE channel_id = $channel_id AND observed_at <= CAST($now AS TIMESTAMPTZ)
ORDER BY observed_at
"""
_CHANNEL_UPLOADS_SQL = """
SELECT epoch_ns(published_at) AS p FROM {vt} WHERE channel_id = $channel_id
  AND published_at <= CAST($now AS TIMESTAMPTZ)
"""


def _filled(column: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
    """A fetched column (a masked array where it held NULLs) as float64 with NaN for NULL."""
    return np.asarray(np.ma.filled(np.ma.asarray(column, dtype=float), np.nan), dtype=np.float64)


def _last_known(times: np.ndarray, values: np.ndarray, at: int) -> float:
    known = ~np.isnan(values) & (times <= at)
    return float(values[known][-1]) if known.any() else float("nan")


def channel_kpis_duckdb(
    connection: Any,
    channel_id: str,
    now: datetime | None = None,
    *,
    video_snapshots: str = "video_snapshots",
    channel_snapshots: str = "channel_snapshots",
    videos: str = "videos",
) -> pd.DataFrame:
    """One channel's row of the fleet KPI table, fast enough to serve per request.

    Three small indexed-by-zone-map queries and a little numpy: planning one large SQL statement
    costs more than the whole computation for a single channel.
    """
    clock = require_aware(now or NO_CAP)
    vs, cs, vt = (check_identifier(t) for t in (video_snapshots, channel_snapshots, videos))
    params = {"now": clock.to_pydatetime(), "channel_id": channel_id}
    latest = connection.execute(_CHANNEL_VIDEOS_SQL.format(vs=vs), params).fetchnumpy()
    views, likes, comments = (_filled(latest[c]) for c in "vlc")
    comments = np.nan_to_num(comments, nan=0.0)
    video_seen = np.asarray(np.ma.filled(np.ma.asarray(latest["t"], dtype=np.int64), 0), dtype=np.int64)
    snaps = connection.execute(_CHANNEL_SNAPSHOTS_SQL.format(cs=cs), params).df()
    published = _filled(connection.execute(_CHANNEL_UPLOADS_SQL.format(vt=vt), params).fetchnumpy()["p"])
    rated = (views > 0) & ~np.isnan(likes)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = ((likes + comments) / views)[rated]
    times = epoch_ns(snaps["observed_at"]) if len(snaps) else np.array([], dtype=np.int64)
    subs_values = snaps["subs"].to_numpy(dtype=float)
    view_values = snaps["views"].to_numpy(dtype=float)
    seen = [int(times.max())] if len(times) else []
    seen += [int(video_seen.max())] if len(video_seen) else []
    end_ns = max(seen) if seen else None
    day_ns = 86_400 * 10**9
    start_ns = end_ns - 28 * day_ns if end_ns is not None else np.iinfo(np.int64).min
    uploads = (
        int(((published > end_ns - 90 * day_ns) & (published <= end_ns)).sum()) if end_ns is not None else 0
    )
    subscribers = _last_known(times, subs_values, clock.value)
    total_views = _last_known(times, view_values, clock.value)
    subs_start = _last_known(times, subs_values, start_ns)
    views_start = _last_known(times, view_values, start_ns)
    median_views = float(np.nanmedian(views)) if np.isfinite(views).any() else float("nan")

    def ratio(numerator: float, denominator: float) -> float:
        return numerator / denominator if denominator > 0 else float("nan")

    row = {
        "channel_id": channel_id,
        "as_of": pd.Timestamp(end_ns, tz="UTC") if end_ns is not None else pd.NaT,
        "subscriber_count": subscribers,
        "total_views": total_views,
        "n_videos": len(views),
        "n_rated": int(rated.sum()),
        "n_hidden_likes": int(np.isnan(likes).sum()),
        "median_views": median_views,
        "views_per_subscriber": ratio(median_views, subscribers),
        "engagement_mean": float(rate.mean()) if rate.size else float("nan"),
        "engagement_median": float(np.median(rate)) if rate.size else float("nan"),
        "uploads_90d": uploads,
        "uploads_per_week_90d": uploads / (90 / 7),
        "subscriber_gain_28d": subscribers - subs_start,
        "subscriber_growth_28d": ratio(subscribers - subs_start, subs_start),
        "view_gain_28d": total_views - views_start,
        "view_growth_28d": ratio(total_views - views_start, views_start),
    }
    return pd.DataFrame([row], columns=list(FLEET_KPI_COLUMNS))
