"""Features for forecasting a video's views, using only what was known when it was published.

Two parts:

* :func:`horizon_targets` turns snapshots into one observation per video: its views at age
  ``horizon`` (linear interpolation between the snapshots that bracket that age) or, when no
  snapshots bracket it, the snapshot whose age is nearest to the horizon, with that age kept as a
  feature. Each observation also says *when it became known* (``known_at``: the latest snapshot
  it used).
* :class:`VideoFeatures` is an sklearn-style transformer. ``fit(frames)`` indexes the channel
  history (those observations, channel snapshots, upload times); ``transform(videos)`` builds the
  feature matrix for any videos, fitted or new. Every channel-level value is looked up *as of the
  video's publish time*: priors use only observations with ``known_at <= published_at``,
  subscribers only channel snapshots observed by then, upload gaps only earlier uploads. So
  changing anything observed after a video was published cannot change that video's features.

:class:`VideoRows` is the input of both: plain columns, built from a frame (a batch) or from one
planned video's fields without pandas (one prediction must take milliseconds). Both ways run the
same array code, so a video's features cannot depend on which way it came in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from tubescope.analysis import features as shared_features
from tubescope.analysis.frames import ChannelFrames
from tubescope.errors import ConfigError, DataQualityError

PREDICT_FEATURE_REVISION = 4
"""Bumped whenever a feature computed here changes meaning."""

FEATURE_VERSION = f"{shared_features.FEATURE_VERSION}.{PREDICT_FEATURE_REVISION}"
"""The feature version a stored model records; loading a model of another version is refused."""

FORMAT_CODES: dict[str, float] = {"short": 0.0, "long": 1.0, "live": 2.0}

TITLE_COLUMNS: tuple[str, ...] = (
    "title_length",
    "title_word_count",
    "title_caps_ratio",
    "title_has_question",
    "title_digit_count",
    "title_emoji_count",
)

FEATURE_NAMES: tuple[str, ...] = (
    *TITLE_COLUMNS,
    "log_duration_seconds",
    "video_format",
    "publish_hour",
    "publish_weekday",
    "tag_count",
    "category_id",
    "log_age_days",
    "prior_median",
    "prior_spread",
    "prior_count",
    "prior_log_age",
    "channel_prior_median",
    "prior_recent_gap",
    "prior_style_gap",
    "prior_trend_shift",
    "log_subscribers",
    "log_upload_gap_days",
    "uploads_last_30d",
    "prior_uploads",
    "log_channel_age_days",
)
"""Columns of :meth:`VideoFeatures.transform`, in order. Log values are natural ``log1p``."""

Array = np.ndarray[Any, Any]
"""Arrays here carry int64 keys/seconds or float64 values; numpy's stubs cannot follow the dtypes."""

_EPOCH = pd.Timestamp("2000-01-01", tz="UTC")
_DAY = 86_400.0
_GROUP_SHIFT = np.int64(1) << np.int64(33)  # seconds since 2000 fit in 33 bits until 2272


_EPOCH_DATETIME = datetime(2000, 1, 1, tzinfo=UTC)
_EPOCH_WEEKDAY = 5  # 2000-01-01 was a Saturday (Monday = 0, as pandas' day_of_week)


@dataclass(frozen=True)
class VideoRows:
    """Videos to featurise or forecast, as plain columns.

    Built from a frame by :meth:`from_frame` or from one video's fields by :meth:`single`;
    :meth:`VideoFeatures.transform_rows` and the forecaster read only these columns.
    """

    channel_id: tuple[str, ...]
    title: tuple[str, ...]
    """Titles ("" where missing)."""
    video_format: tuple[str, ...]
    published_s: Array
    """Publish times as whole seconds since 2000-01-01 UTC (int64, floored)."""
    published_at: Sequence[pd.Timestamp] | pd.DatetimeIndex
    """The same publish times as UTC timestamps (what a forecast shows)."""
    duration_seconds: Array
    tag_count: Array
    """Tags per video (NaN where unknown; the features take it as 0)."""
    category_id: Array
    """Numeric category ids (NaN where missing or not a number)."""

    def __len__(self) -> int:
        return len(self.channel_id)

    @classmethod
    def from_frame(cls, videos: pd.DataFrame) -> VideoRows:
        """The rows of ``videos`` (``channel_id``, ``title``, ``published_at``, ``video_format``;
        ``duration_seconds``, ``tag_count`` and ``category_id`` when present)."""
        shared_features.require_columns(
            videos, "videos", ("channel_id", "published_at", "title", "video_format")
        )
        n = len(videos)
        stamps = pd.DatetimeIndex(pd.to_datetime(videos["published_at"], utc=True))
        if stamps.hasnans:
            raise DataQualityError("published_at must not be missing")
        seconds = (stamps - _EPOCH).total_seconds().to_numpy(dtype=np.float64)
        return cls(
            channel_id=tuple(str(c) for c in videos["channel_id"]),
            title=tuple(t if isinstance(t, str) else "" for t in videos["title"]),
            video_format=tuple(str(f) for f in videos["video_format"]),
            published_s=np.floor(seconds).astype(np.int64),
            published_at=stamps,
            duration_seconds=_numeric_column(videos, "duration_seconds", n),
            tag_count=_numeric_column(videos, "tag_count", n),
            category_id=_numeric_column(videos, "category_id", n),
        )

    @classmethod
    def single(
        cls,
        *,
        channel_id: str,
        title: str,
        published_at: datetime,
        video_format: str,
        duration_seconds: float | None = None,
        tag_count: int = 0,
        category_id: str | None = None,
    ) -> VideoRows:
        """One video from its fields; ``published_at`` must be timezone-aware."""
        if published_at.tzinfo is None or published_at.utcoffset() is None:
            raise DataQualityError("published_at must be timezone-aware")
        since = published_at - _EPOCH_DATETIME  # exact: days, seconds, microseconds
        return cls(
            channel_id=(str(channel_id),),
            title=(title if isinstance(title, str) else "",),
            video_format=(str(video_format),),
            published_s=np.asarray([since.days * 86_400 + since.seconds], dtype=np.int64),
            published_at=(pd.Timestamp(published_at).tz_convert(UTC),),
            duration_seconds=np.asarray([_to_float(duration_seconds)], dtype=np.float64),
            tag_count=np.asarray([float(tag_count)], dtype=np.float64),
            category_id=np.asarray([_to_float(category_id)], dtype=np.float64),
        )

    def format_codes(self) -> Array:
        """:data:`FORMAT_CODES` of each row; :class:`DataQualityError` naming any unknown format."""
        try:
            return np.asarray([FORMAT_CODES[f] for f in self.video_format], dtype=np.float64)
        except KeyError:
            bad = sorted(set(self.video_format) - set(FORMAT_CODES))
            raise DataQualityError(
                f"unknown video format(s): {', '.join(bad)} (expected short, long or live)"
            ) from None


def _to_float(value: object) -> float:
    """A number, or NaN for None and for text that is not one (as ``pd.to_numeric(errors="coerce")``)."""
    if value is None:
        return math.nan
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(pd.to_numeric(str(value)))
    except (ValueError, TypeError):
        return math.nan


def to_seconds(values: Any) -> Array:
    """UTC timestamps as whole seconds since 2000-01-01 (int64), whatever the datetime unit."""
    stamps = pd.to_datetime(pd.Series(values), utc=True)
    if stamps.isna().any():
        raise DataQualityError("timestamps must not be missing")
    seconds = (stamps - _EPOCH).dt.total_seconds().to_numpy(dtype=np.float64)
    return np.floor(seconds).astype(np.int64)


def horizon_targets(
    videos: pd.DataFrame,
    video_snapshots: pd.DataFrame,
    *,
    horizon_days: float,
    max_bracket_days: float | None = None,
) -> pd.DataFrame:
    """One observation of views per video that has snapshots, indexed by ``video_id``.

    Columns: ``channel_id``, ``video_format``, ``published_at``, ``log_views`` (``log1p``),
    ``age_days`` (``horizon_days`` when interpolated), ``interpolated`` (bool) and
    ``known_at_s`` (seconds since 2000 of the latest snapshot used). Snapshots taken before the
    video's publish time are ignored. Interpolation needs a snapshot at or before the horizon age
    and one at or after it no more than ``max_bracket_days`` apart (default ``max(2 h, 2 days)``).
    """
    shared_features.require_columns(videos, "videos", ("video_id", "channel_id", "published_at"))
    shared_features.require_columns(
        video_snapshots, "video_snapshots", ("video_id", "observed_at", "view_count")
    )
    if horizon_days <= 0:
        raise ConfigError(f"horizon must be positive, got {horizon_days} days")
    bracket = max_bracket_days if max_bracket_days is not None else max(2 * horizon_days, 2.0)
    meta = videos[["video_id", "channel_id", "published_at"]].copy()
    meta["video_format"] = videos["video_format"].astype(str) if "video_format" in videos else "long"
    meta = meta.drop_duplicates("video_id", keep="last")
    snaps = video_snapshots[["video_id", "observed_at", "view_count"]].merge(
        meta[["video_id", "published_at"]], on="video_id", how="inner"
    )
    snaps["views"] = pd.to_numeric(snaps["view_count"], errors="coerce").astype("float64")
    snaps = snaps[np.isfinite(snaps["views"].to_numpy()) & (snaps["views"].to_numpy() >= 0)]
    observed_s = to_seconds(snaps["observed_at"])
    age = (observed_s - to_seconds(snaps["published_at"])) / _DAY
    snaps = snaps.assign(observed_s=observed_s, age=age)
    snaps = snaps[snaps["age"] >= 0].sort_values(["video_id", "age"], kind="mergesort")
    snaps = snaps.reset_index(drop=True)
    if snaps.empty:
        return _empty_targets()

    vid = snaps["video_id"].to_numpy()
    age_arr = snaps["age"].to_numpy(dtype=np.float64)
    views = snaps["views"].to_numpy(dtype=np.float64)
    obs = snaps["observed_s"].to_numpy(dtype=np.int64)
    n = len(snaps)
    starts = np.flatnonzero(np.r_[True, vid[1:] != vid[:-1]])
    ends = np.r_[starts[1:], n]
    # First snapshot at or past the horizon in each video (== end when there is none).
    past = age_arr >= horizon_days
    first_past = np.full(len(starts), -1, dtype=np.int64)
    past_idx = np.flatnonzero(past)
    group_of = np.repeat(np.arange(len(starts)), ends - starts)
    if past_idx.size:
        groups_with_past, first = np.unique(group_of[past_idx], return_index=True)
        first_past[groups_with_past] = past_idx[first]

    upper = first_past
    has_upper = upper >= 0
    lower = np.where(has_upper, upper - 1, -1)
    has_lower = has_upper & (lower >= starts)
    exact = has_upper & np.isclose(age_arr[np.maximum(upper, 0)], horizon_days, atol=1e-6)
    up = np.maximum(upper, 0)
    lo = np.maximum(lower, 0)
    gap = age_arr[up] - age_arr[lo]
    bracketed = has_lower & (gap <= bracket) & (gap > 0)
    frac = np.where(bracketed, (horizon_days - age_arr[lo]) / np.where(gap > 0, gap, 1.0), 0.0)
    interp_views = views[lo] + frac * (views[up] - views[lo])
    interpolated = exact | bracketed

    # Fallback: the snapshot whose age is nearest the horizon in log-age.
    distance = np.abs(np.log1p(age_arr) - np.log1p(horizon_days))
    order = np.lexsort((distance, group_of))
    nearest = order[np.r_[True, group_of[order][1:] != group_of[order][:-1]]]

    log_views = np.where(
        interpolated, np.log1p(np.where(exact, views[up], interp_views)), np.log1p(views[nearest])
    )
    out_age = np.where(interpolated, horizon_days, age_arr[nearest])
    known = np.where(interpolated, np.where(exact, obs[up], np.maximum(obs[up], obs[lo])), obs[nearest])
    out = pd.DataFrame(
        {
            "video_id": vid[starts],
            "log_views": log_views,
            "age_days": out_age,
            "interpolated": interpolated,
            "known_at_s": known.astype(np.int64),
        }
    )
    out = out.merge(meta, on="video_id", how="left").set_index("video_id")
    return out[
        ["channel_id", "video_format", "published_at", "log_views", "age_days", "interpolated", "known_at_s"]
    ]


def _empty_targets() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "channel_id": pd.Series(dtype=str),
            "video_format": pd.Series(dtype=str),
            "published_at": pd.Series(dtype="datetime64[ns, UTC]"),
            "log_views": pd.Series(dtype=float),
            "age_days": pd.Series(dtype=float),
            "interpolated": pd.Series(dtype=bool),
            "known_at_s": pd.Series(dtype=np.int64),
        },
        index=pd.Index([], name="video_id", dtype=str),
    )


@dataclass(frozen=True)
class _AsOfIndex:
    """Values sorted by (group, time) with a combined int64 key for vectorised as-of lookups."""

    keys: Array
    values: dict[str, Array]
    group_start: Array

    @classmethod
    def build(
        cls,
        groups: Array,
        times: Array,
        values: dict[str, Array],
    ) -> _AsOfIndex:
        keys = groups.astype(np.int64) * _GROUP_SHIFT + times.astype(np.int64)
        order = np.argsort(keys, kind="mergesort")
        keys = keys[order]
        sorted_groups = groups[order]
        starts = np.searchsorted(sorted_groups, sorted_groups, side="left").astype(np.int64)
        return cls(keys, {k: v[order] for k, v in values.items()}, starts)

    def position(
        self,
        groups: Array,
        times: Array,
        *,
        strictly_before: bool,
    ) -> tuple[Array, Array]:
        """Index of the last entry of the same group at (or strictly before) each time, and validity."""
        query = groups.astype(np.int64) * _GROUP_SHIFT + times.astype(np.int64)
        side: Any = "left" if strictly_before else "right"
        pos = np.searchsorted(self.keys, query, side=side).astype(np.int64) - 1
        valid = (groups >= 0) & (pos >= 0)
        safe = np.maximum(pos, 0)
        if self.keys.size:
            valid &= (self.keys[safe] // _GROUP_SHIFT) == groups
        else:
            valid &= False
        return safe, valid

    def count_since(
        self,
        groups: Array,
        start: Array,
        end: Array,
    ) -> Array:
        """How many entries of the group fall in ``[start, end)``."""
        base = groups.astype(np.int64) * _GROUP_SHIFT
        hi = np.searchsorted(self.keys, base + end, side="left")
        lo = np.searchsorted(self.keys, base + start, side="left")
        return np.where(groups >= 0, hi - lo, 0).astype(np.float64)


class VideoFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Per-video feature matrix (:data:`FEATURE_NAMES`) with leakage-free channel priors.

    Parameters are settings only; everything learned from the frames ends in ``_``.

    horizon_days:
        The age at which views are forecast; priors summarise earlier same-format videos' views
        at this age.
    prior_window:
        How many of the channel's most recently *observed* same-format videos the priors use.
    """

    def __init__(self, horizon_days: float = 7.0, prior_window: int = 20) -> None:
        self.horizon_days = horizon_days
        self.prior_window = prior_window

    def fit(self, frames: ChannelFrames, y: Any = None) -> VideoFeatures:
        """Index the channel history in ``frames`` (targets, uploads, subscribers)."""
        if self.horizon_days <= 0:
            raise ConfigError(f"horizon must be positive, got {self.horizon_days} days")
        if self.prior_window < 1:
            raise ConfigError(f"prior_window must be at least 1, got {self.prior_window}")
        if not isinstance(frames, ChannelFrames):
            raise DataQualityError(f"VideoFeatures.fit expects ChannelFrames, got {type(frames).__name__}")
        videos = frames.videos
        shared_features.require_columns(
            videos, "videos", ("video_id", "channel_id", "published_at", "video_format", "title")
        )
        channel_ids = pd.Index(
            pd.concat(
                [videos["channel_id"].astype(str), frames.channels.get("channel_id", pd.Series(dtype=str))]
            ).unique()
        )
        self.channel_codes_ = {str(c): i for i, c in enumerate(channel_ids)}
        self.targets_ = horizon_targets(videos, frames.video_snapshots, horizon_days=self.horizon_days)
        self._fit_priors(self.targets_, videos)
        self._fit_uploads(videos)
        self._fit_channels(frames.channels, frames.channel_snapshots)
        self.feature_names_in_ = np.asarray(["frames"], dtype=object)
        self.n_features_out_ = len(FEATURE_NAMES)
        return self

    # -- learned indexes ---------------------------------------------------------------------

    def _codes(self, channel_ids: pd.Series) -> Array:
        mapped = channel_ids.astype(str).map(self.channel_codes_)
        return np.asarray(mapped.fillna(-1).to_numpy(dtype=np.float64), dtype=np.int64)

    def _fit_priors(self, targets: pd.DataFrame, videos: pd.DataFrame) -> None:
        channel = self._codes(targets["channel_id"])
        fmt = targets["video_format"].map(FORMAT_CODES).fillna(1.0).to_numpy(dtype=np.int64)
        known = targets["known_at_s"].to_numpy(dtype=np.int64)
        log_views = targets["log_views"].to_numpy(dtype=np.float64)
        log_age = np.log1p(targets["age_days"].to_numpy(dtype=np.float64))
        titles = videos.drop_duplicates("video_id", keep="last").set_index("video_id")["title"]
        asks = _asks(titles.reindex(targets.index)).astype(np.int64)
        window = self.prior_window
        years = (to_seconds(targets["published_at"]) / (365.25 * _DAY)).astype(np.float64)
        self.format_priors_ = self._rolling_index(channel * 3 + fmt, known, log_views, log_age, window, years)
        self.channel_priors_ = self._rolling_index(channel, known, log_views, log_age, window)
        # A short window shows a level that moved recently (trend breaks); a title-style window
        # shows whether this channel's audience answers question titles differently.
        recent = min(5, window)
        self.recent_priors_ = self._rolling_index(channel * 3 + fmt, known, log_views, log_age, recent)
        self.style_priors_ = self._rolling_index(
            channel * 6 + fmt * 2 + asks, known, log_views, log_age, window
        )

    def _rolling_index(
        self,
        groups: Array,
        known: Array,
        log_views: Array,
        log_age: Array,
        window: int,
        published_years: Array | None = None,
    ) -> _AsOfIndex:
        """Rolling summaries over each group's last ``window`` observations, by known time.

        With ``published_years``, also the least-squares trend of log views on publish date
        (per year) and the window's mean publish date, so a lagging median can be extrapolated.
        """
        years = published_years if published_years is not None else np.zeros(len(groups))
        index = _AsOfIndex.build(groups, known, {"log_views": log_views, "log_age": log_age, "years": years})
        frame = pd.DataFrame(
            {
                "group": index.keys // _GROUP_SHIFT,
                "log_views": index.values["log_views"],
                "log_age": index.values["log_age"],
                "years": index.values["years"],
            }
        )
        rolling = frame.groupby("group", sort=False)[["log_views", "log_age"]].rolling(window, min_periods=1)
        median = rolling.median().reset_index(level=0, drop=True).sort_index()
        views_roll = frame.groupby("group", sort=False)["log_views"].rolling(window, min_periods=1)
        q75 = views_roll.quantile(0.75).reset_index(level=0, drop=True).sort_index()
        q25 = views_roll.quantile(0.25).reset_index(level=0, drop=True).sort_index()
        count = views_roll.count().reset_index(level=0, drop=True).sort_index()
        values = {
            "median": median["log_views"].to_numpy(dtype=np.float64),
            "spread": (q75 - q25).to_numpy(dtype=np.float64),
            "count": count.to_numpy(dtype=np.float64),
            "log_age": median["log_age"].to_numpy(dtype=np.float64),
        }
        if published_years is not None:
            frame["years_views"] = frame["years"] * frame["log_views"]
            frame["years_sq"] = frame["years"] ** 2
            columns = ["years", "log_views", "years_views", "years_sq"]
            means = frame.groupby("group", sort=False)[columns].rolling(window, min_periods=1).mean()
            means = means.reset_index(level=0, drop=True).sort_index()
            variance = (means["years_sq"] - means["years"] ** 2).to_numpy(dtype=np.float64)
            covariance = (means["years_views"] - means["years"] * means["log_views"]).to_numpy(
                dtype=np.float64
            )
            enough = (values["count"] >= 5) & (variance > 1e-4)
            slope = np.where(enough, covariance / np.where(enough, variance, 1.0), np.nan)
            values["trend"] = np.clip(slope, -3.0, 3.0)
            values["mean_years"] = means["years"].to_numpy(dtype=np.float64)
        return _AsOfIndex(index.keys, values, index.group_start)

    def _fit_uploads(self, videos: pd.DataFrame) -> None:
        channel = self._codes(videos["channel_id"])
        published = to_seconds(videos["published_at"])
        self.uploads_ = _AsOfIndex.build(channel, published, {"published_s": published.astype(np.float64)})

    def _fit_channels(self, channels: pd.DataFrame, snapshots: pd.DataFrame) -> None:
        created: dict[str, float] = {}
        if "published_at" in channels.columns and len(channels):
            stamps = pd.to_datetime(channels["published_at"], utc=True)
            for cid, stamp in zip(channels["channel_id"].astype(str), stamps, strict=True):
                if pd.notna(stamp):
                    created[cid] = float((stamp - _EPOCH).total_seconds())
        self.channel_created_s_ = created
        if len(snapshots) and {"channel_id", "observed_at", "subscriber_count"} <= set(snapshots.columns):
            subs = pd.to_numeric(snapshots["subscriber_count"], errors="coerce").astype("float64")
            keep = subs.notna().to_numpy()
            snaps = snapshots[keep]
            self.subscribers_ = _AsOfIndex.build(
                self._codes(snaps["channel_id"]),
                to_seconds(snaps["observed_at"]),
                {"subscribers": subs[keep].to_numpy(dtype=np.float64)},
            )
        else:
            empty_i = np.zeros(0, dtype=np.int64)
            self.subscribers_ = _AsOfIndex.build(empty_i, empty_i, {"subscribers": np.zeros(0)})

    # -- transform ---------------------------------------------------------------------------

    def transform(self, videos: pd.DataFrame, age_days: Any = None) -> pd.DataFrame:
        """Feature rows for ``videos`` (index preserved), each computed as of its publish time.

        ``age_days`` (scalar or per-row array) is the age the forecast is for; the horizon by
        default.
        """
        matrix = self.transform_rows(VideoRows.from_frame(videos), age_days)
        return pd.DataFrame(matrix, columns=list(FEATURE_NAMES), index=videos.index)

    def transform_rows(self, rows: VideoRows, age_days: Any = None) -> Array:
        """The feature matrix (float64, columns :data:`FEATURE_NAMES`) of ``rows``, as :meth:`transform`."""
        if not hasattr(self, "targets_"):
            raise ConfigError("VideoFeatures must be fitted before transform")
        # Plain lists and numpy rather than pandas column operations: a single-video forecast
        # must take milliseconds, and pandas' per-call overhead would dominate it.
        n = len(rows)
        published = rows.published_s
        channel_text = rows.channel_id
        channel = np.asarray([self.channel_codes_.get(c, -1) for c in channel_text], dtype=np.int64)
        fmt = rows.format_codes()
        titles = [shared_features.title_features(t) for t in rows.title]
        out: dict[str, Array] = {
            "title_length": np.asarray([t.length for t in titles], dtype=np.float64),
            "title_word_count": np.asarray([t.word_count for t in titles], dtype=np.float64),
            "title_caps_ratio": np.asarray([t.caps_ratio for t in titles], dtype=np.float64),
            "title_has_question": np.asarray([t.has_question for t in titles], dtype=np.float64),
            "title_digit_count": np.asarray([t.digit_count for t in titles], dtype=np.float64),
            "title_emoji_count": np.asarray([t.emoji_count for t in titles], dtype=np.float64),
        }
        out["log_duration_seconds"] = np.log1p(rows.duration_seconds)
        out["video_format"] = fmt
        # UTC hour and weekday from the whole seconds (flooring never crosses an hour).
        out["publish_hour"] = ((published // 3600) % 24).astype(np.float64)
        out["publish_weekday"] = ((published // 86_400 + _EPOCH_WEEKDAY) % 7).astype(np.float64)
        out["tag_count"] = np.nan_to_num(rows.tag_count, nan=0.0)
        out["category_id"] = rows.category_id
        ages = np.broadcast_to(
            np.asarray(self.horizon_days if age_days is None else age_days, dtype=np.float64), (n,)
        )
        out["log_age_days"] = np.log1p(ages)

        pos, ok = self.format_priors_.position(
            np.where(channel >= 0, channel * 3 + fmt.astype(np.int64), -1), published, strictly_before=False
        )
        for name, column in (
            ("median", "prior_median"),
            ("spread", "prior_spread"),
            ("count", "prior_count"),
            ("log_age", "prior_log_age"),
        ):
            out[column] = _pick(self.format_priors_.values[name], pos, ok)
        out["prior_count"] = np.where(ok, out["prior_count"], 0.0)
        trend = _pick(self.format_priors_.values["trend"], pos, ok)
        mean_years = _pick(self.format_priors_.values["mean_years"], pos, ok)
        out["prior_trend_shift"] = trend * (published / (365.25 * _DAY) - mean_years)
        cpos, cok = self.channel_priors_.position(channel, published, strictly_before=False)
        out["channel_prior_median"] = _pick(self.channel_priors_.values["median"], cpos, cok)
        rpos, rok = self.recent_priors_.position(
            np.where(channel >= 0, channel * 3 + fmt.astype(np.int64), -1), published, strictly_before=False
        )
        out["prior_recent_gap"] = _pick(self.recent_priors_.values["median"], rpos, rok) - out["prior_median"]
        asks = out["title_has_question"].astype(np.int64)
        style_group = np.where(channel >= 0, channel * 6 + fmt.astype(np.int64) * 2 + asks, -1)
        ypos, yok = self.style_priors_.position(style_group, published, strictly_before=False)
        out["prior_style_gap"] = _pick(self.style_priors_.values["median"], ypos, yok) - out["prior_median"]

        spos, sok = self.subscribers_.position(channel, published, strictly_before=False)
        out["log_subscribers"] = np.log1p(_pick(self.subscribers_.values["subscribers"], spos, sok))

        upos, uok = self.uploads_.position(channel, published, strictly_before=True)
        previous = _pick(self.uploads_.values["published_s"], upos, uok)
        out["log_upload_gap_days"] = np.log1p(np.maximum(published - previous, 0.0) / _DAY)
        out["uploads_last_30d"] = self.uploads_.count_since(channel, published - int(30 * _DAY), published)
        first = np.where(uok, self.uploads_.group_start[upos], upos + 1)
        out["prior_uploads"] = np.where(uok, upos - first + 1, 0).astype(np.float64)
        created = np.asarray([self.channel_created_s_.get(c, np.nan) for c in channel_text], dtype=np.float64)
        out["log_channel_age_days"] = np.log1p(np.maximum(published - created, 0.0) / _DAY)
        return np.column_stack([np.asarray(out[name], dtype=np.float64) for name in FEATURE_NAMES])

    def get_feature_names_out(self, input_features: Any = None) -> Array:
        """:data:`FEATURE_NAMES` as an array."""
        return np.asarray(FEATURE_NAMES, dtype=object)


def _numeric_column(videos: pd.DataFrame, name: str, n: int) -> Array:
    """A column as float64 with NaN for missing or unparsable values (all NaN when absent)."""
    if name not in videos.columns:
        return np.full(n, np.nan)
    column = videos[name]
    if column.dtype.kind in "fi":
        return column.to_numpy(dtype=np.float64)
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _asks(titles: pd.Series) -> Array:
    """Whether each title asks a question (ASCII or full-width question mark)."""
    text = titles.fillna("").astype(str)
    return np.asarray((text.str.contains("?", regex=False) | text.str.contains("？", regex=False)).to_numpy())


def _pick(
    values: Array,
    pos: Array,
    ok: Array,
) -> Array:
    if values.size == 0:
        return np.full(pos.shape, np.nan)
    return np.where(ok, values[np.minimum(pos, values.size - 1)], np.nan)
