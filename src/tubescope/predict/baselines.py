"""Naive forecasts of a video's views: first-class models that the forecaster must beat.

Two baselines, both computed from the channel's own history at the video's age:

* **channel median** (as of publish): the median ``log1p(views)`` of the channel's last
  ``window`` same-format uploads published before the video, each at its latest snapshot
  (whatever its age then);
* **channel median x age curve**: the same uploads, each taken at the snapshot whose age is
  nearest the video's target age and moved to that age along a global age curve, then the median.

"History" is every snapshot of those earlier uploads, including snapshots taken after the video was
published: monthly or trending snapshots often start long after most uploads, and a channel's
earlier uploads seen at the target age say most about a new upload. The video's own views and
later uploads are never used.

Fallbacks, in order, when a channel has no earlier same-format upload with a snapshot: the
channel's earlier uploads of any format (moved across formats by the curves), then the age curve
of the format alone (a typical channel). :attr:`BaselineFrame.level` records which one was used.

The age curve (:class:`AgeCurve`) is fitted across videos with a channel effect: ``log1p(views) =
channel-format level + g_format(log1p(age))`` by alternating medians, with ``g`` made
non-decreasing by isotonic regression. It says how views grow with age *among the videos a
source keeps*, which is what moving a channel's older uploads to a new upload's age needs.

A third, for daily series: :func:`seasonal_naive` (the value a week earlier) with intervals from
its own past errors at the same lead time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

from tubescope.errors import ConfigError, DataQualityError
from tubescope.predict.features import FORMAT_CODES, to_seconds

Array = np.ndarray[Any, Any]

_DAY = 86_400.0
_GROUP_SHIFT = np.int64(1) << np.int64(33)
_N_FORMATS = len(FORMAT_CODES)

BASELINE_NAMES: tuple[str, ...] = ("channel_median", "channel_median_x_age_curve")
"""The baselines every model is compared with, in the order of :class:`BaselineFrame` columns."""

LEVEL_CHANNEL_FORMAT = 0
"""Baseline level: the channel's earlier same-format uploads."""
LEVEL_CHANNEL = 1
"""Baseline level: the channel's earlier uploads of any format."""
LEVEL_FORMAT = 2
"""Baseline level: no channel history; the format's age curve alone."""


class AgeCurve:
    """``g_format(log1p(age))``: typical ``log1p(views)`` by age, net of a channel-format level."""

    def __init__(self, n_bins: int = 16, n_iter: int = 4, min_rows: int = 30) -> None:
        self.n_bins = n_bins
        self.n_iter = n_iter
        self.min_rows = min_rows

    def fit(self, log_age: Array, log_views: Array, fmt: Array, group: Array) -> AgeCurve:
        """Fit on one row per video: its target ``log_age``, ``log_views``, format code and group key."""
        log_age = np.asarray(log_age, dtype=np.float64)
        log_views = np.asarray(log_views, dtype=np.float64)
        fmt = np.asarray(fmt, dtype=np.int64)
        finite = np.isfinite(log_age) & np.isfinite(log_views)
        log_age, log_views, fmt = log_age[finite], log_views[finite], fmt[finite]
        codes = pd.factorize(pd.Series(np.asarray(group)[finite]))[0]
        if log_age.size == 0:
            raise DataQualityError("the age curve needs at least one video with views")
        level = np.zeros(codes.max() + 1 if codes.size else 0)
        self.curves_: dict[int, tuple[Array, Array]] = {}
        for _ in range(self.n_iter):
            residual = log_views - level[codes]
            pooled = self._curve(log_age, residual)
            self.curves_ = {-1: pooled}
            for code in np.unique(fmt):
                members = fmt == code
                if members.sum() >= self.min_rows:
                    self.curves_[int(code)] = self._curve(log_age[members], residual[members])
            gap = pd.Series(log_views - self.offset(log_age, fmt))
            level = gap.groupby(codes).median().reindex(range(level.size)).fillna(0.0).to_numpy()
        centre = float(np.median(level)) if level.size else 0.0
        self.curves_ = {k: (x, y + centre) for k, (x, y) in self.curves_.items()}
        return self

    def _curve(self, log_age: Array, values: Array) -> tuple[Array, Array]:
        edges = np.unique(np.quantile(log_age, np.linspace(0.0, 1.0, self.n_bins + 1)))
        which = np.clip(np.searchsorted(edges, log_age, side="right") - 1, 0, max(len(edges) - 2, 0))
        frame = pd.DataFrame({"bin": which, "age": log_age, "value": values}).groupby("bin")
        centres = frame["age"].median().to_numpy(dtype=np.float64)
        medians = frame["value"].median().to_numpy(dtype=np.float64)
        counts = frame["value"].size().to_numpy(dtype=np.float64)
        fitted = IsotonicRegression(increasing=True).fit(centres, medians, sample_weight=counts)
        return centres, np.asarray(fitted.predict(centres), dtype=np.float64)

    def offset(self, log_age: Array, fmt: Array) -> Array:
        """``g`` at each ``log_age`` for each format code (the pooled curve for an unseen format)."""
        log_age = np.asarray(log_age, dtype=np.float64)
        fmt = np.broadcast_to(np.asarray(fmt, dtype=np.int64), log_age.shape)
        out = np.empty(log_age.shape, dtype=np.float64)
        for code in np.unique(fmt):
            members = fmt == code
            x, y = self.curves_.get(int(code), self.curves_[-1])
            out[members] = np.interp(log_age[members], x, y)
        return out


@dataclass(frozen=True)
class BaselineFrame:
    """Both baselines (log1p views) for a set of rows, with what they rest on."""

    channel_median: Array
    age_curve: Array
    level: Array
    """Which history the age-curve baseline used (``LEVEL_*``)."""
    count: Array
    """How many earlier uploads it used."""
    spread: Array
    """Interquartile range of those uploads' age-adjusted log views (NaN when fewer than 2)."""
    history_log_age: Array
    """Median log1p age of the snapshots used."""
    recent: Array
    """The age-curve median over only the last few same-format uploads (NaN without them): a level
    that moved lately shows here first."""

    def get(self, name: str) -> Array:
        """A baseline by its name in :data:`BASELINE_NAMES`."""
        if name == "channel_median":
            return self.channel_median
        if name == "channel_median_x_age_curve":
            return self.age_curve
        raise KeyError(name)

    def features(self) -> Array:
        """Columns for the model, in :data:`BASELINE_FEATURES` order."""
        return np.column_stack(
            [
                self.age_curve,
                self.channel_median,
                self.level,
                self.count,
                self.spread,
                self.history_log_age,
                self.recent - self.age_curve,
            ]
        ).astype(np.float64)

    def subset(self, rows: Array) -> BaselineFrame:
        """The same baselines for some rows only."""
        return BaselineFrame(*(getattr(self, f.name)[rows] for f in fields(self)))

    @classmethod
    def concat(cls, parts: list[BaselineFrame]) -> BaselineFrame:
        """Rows of several frames, in order."""
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))


BASELINE_FEATURES: tuple[str, ...] = (
    "baseline_age_curve",
    "baseline_channel_median",
    "baseline_level",
    "baseline_count",
    "baseline_spread",
    "baseline_history_log_age",
    "baseline_recent_gap",
)
"""Columns the baselines add to the model's features."""


class ChannelBaselines:
    """The two baselines of the module docstring, fitted on training targets and a channel history.

    ``fit(targets, history)`` learns the age curve from ``targets`` (one row per video:
    ``channel_id``, ``video_format``, ``log_views``, ``age_days``) and indexes ``history``
    (every snapshot: ``video_id``, ``channel_id``, ``video_format``, ``published_at``,
    ``observed_at``, ``view_count``). :meth:`with_history` swaps the history, keeping the curve.
    """

    def __init__(self, window: int = 20, recent: int = 5) -> None:
        if window < 1 or recent < 1:
            raise ConfigError(f"the baseline windows must be at least 1, got {window} and {recent}")
        self.window = window
        self.recent = recent

    def fit(self, targets: pd.DataFrame, history: pd.DataFrame) -> ChannelBaselines:
        """Learn the age curve on ``targets`` and index ``history``."""
        fmt = _format_codes(targets["video_format"])
        group = targets["channel_id"].astype(str) + "|" + targets["video_format"].astype(str)
        self.curve_ = AgeCurve().fit(
            np.log1p(targets["age_days"].to_numpy(dtype=np.float64)),
            targets["log_views"].to_numpy(dtype=np.float64),
            fmt,
            group.to_numpy(),
        )
        self._index(history)
        return self

    def with_history(self, history: pd.DataFrame) -> ChannelBaselines:
        """The same curve over a newer channel history."""
        fresh = ChannelBaselines(self.window, self.recent)
        fresh.curve_ = self.curve_
        fresh._index(history)
        return fresh

    def _index(self, history: pd.DataFrame) -> None:
        snaps = history.copy()
        snaps["views"] = pd.to_numeric(snaps["view_count"], errors="coerce").astype("float64")
        snaps = snaps[np.isfinite(snaps["views"].to_numpy()) & (snaps["views"].to_numpy() >= 0)]
        published = to_seconds(snaps["published_at"])
        observed = to_seconds(snaps["observed_at"])
        age = (observed - published) / _DAY
        snaps = snaps.assign(published_s=published, observed_s=observed, age=age)
        snaps = snaps[snaps["age"] >= 0]
        videos = (
            snaps.sort_values("observed_s", kind="mergesort")
            .drop_duplicates("video_id", keep="last")[
                ["video_id", "channel_id", "video_format", "published_s", "views"]
            ]
            .reset_index(drop=True)
        )
        self.channel_codes_ = {c: i for i, c in enumerate(pd.unique(videos["channel_id"].astype(str)))}
        channel = videos["channel_id"].astype(str).map(self.channel_codes_).to_numpy(dtype=np.int64)
        fmt = _format_codes(videos["video_format"])
        pub = videos["published_s"].to_numpy(dtype=np.int64)
        self.video_format_ = fmt
        self.video_latest_ = np.log1p(videos["views"].to_numpy(dtype=np.float64))
        self.by_format_ = _SortedHistory.build(channel * _N_FORMATS + fmt, pub)
        self.by_channel_ = _SortedHistory.build(channel, pub)
        position = pd.Series(np.arange(len(videos)), index=videos["video_id"].to_numpy())
        snap_video = position.reindex(snaps["video_id"].to_numpy()).to_numpy(dtype=np.int64)
        order = np.argsort(snap_video, kind="mergesort")
        self.snap_video_ = snap_video[order]
        self.snap_log_age_ = np.log1p(snaps["age"].to_numpy(dtype=np.float64))[order]
        self.snap_log_views_ = np.log1p(snaps["views"].to_numpy(dtype=np.float64))[order]

    def predict(self, rows: pd.DataFrame, age_days: Any) -> BaselineFrame:
        """Both baselines for ``rows`` (channel id, format, publish time) at ``age_days``."""
        return self.predict_arrays(
            [str(c) for c in rows["channel_id"]],
            _format_codes(rows["video_format"]),
            to_seconds(rows["published_at"]),
            age_days,
        )

    def predict_arrays(
        self, channel_ids: Sequence[str], format_codes: Array, published_s: Array, age_days: Any
    ) -> BaselineFrame:
        """:meth:`predict` on plain columns: channel ids, :data:`FORMAT_CODES` codes and publish
        times in whole seconds since 2000 (what one prediction has without building a frame)."""
        n = len(channel_ids)
        target_age = np.log1p(np.broadcast_to(np.asarray(age_days, dtype=np.float64), (n,)))
        fmt = np.asarray(format_codes, dtype=np.int64)
        channel = np.asarray([self.channel_codes_.get(c, -1) for c in channel_ids], dtype=np.int64)
        pub = np.asarray(published_s, dtype=np.int64)
        same = self.by_format_.pairs(np.where(channel >= 0, channel * _N_FORMATS + fmt, -1), pub, self.window)
        anyf = self.by_channel_.pairs(channel, pub, self.window)
        plain_same = _median_by_row(same[0], self.video_latest_[same[1]], n)
        plain_any = _median_by_row(anyf[0], self.video_latest_[anyf[1]], n)
        # The last few same-format uploads are the first pairs of each row's window.
        *adj_same, recent = self._adjusted(same, target_age, fmt, recent=min(self.recent, self.window))
        adj_any = self._adjusted(anyf, target_age, fmt)
        prior = self.curve_.offset(target_age, fmt)
        has_same = np.isfinite(adj_same[0])
        has_any = np.isfinite(adj_any[0])
        level = np.where(has_same, LEVEL_CHANNEL_FORMAT, np.where(has_any, LEVEL_CHANNEL, LEVEL_FORMAT))
        age_curve = np.where(has_same, adj_same[0], np.where(has_any, adj_any[0], prior))
        # The plain median has no way across formats or ages: without same-format history it takes
        # the channel's any-format median, then the format's curve at the horizon (a typical channel).
        plain = np.where(
            np.isfinite(plain_same), plain_same, np.where(np.isfinite(plain_any), plain_any, prior)
        )
        pick = [
            np.where(has_same, s, np.where(has_any, a, np.nan))
            for s, a in zip(adj_same[1:], adj_any[1:], strict=True)
        ]
        return BaselineFrame(
            channel_median=plain,
            age_curve=age_curve,
            level=level.astype(np.float64),
            count=np.nan_to_num(pick[0], nan=0.0),
            spread=pick[1],
            history_log_age=pick[2],
            recent=recent,
        )

    def _adjusted(
        self, pairs: tuple[Array, Array], target_age: Array, fmt: Array, *, recent: int | None = None
    ) -> tuple[Array, ...]:
        """Per row: median, count, IQR and median snapshot age of the age-adjusted history; with
        ``recent``, then the median over only each row's first ``recent`` pairs (its newest uploads,
        as :meth:`_SortedHistory.pairs` orders them)."""
        n = target_age.size
        row, video = pairs
        if row.size == 0:
            nan = np.full(n, np.nan)
            return (nan, np.zeros(n), nan, nan) + ((nan,) if recent is not None else ())
        # Every snapshot of every paired video; keep the one nearest the target age per pair.
        lo = np.searchsorted(self.snap_video_, video, side="left")
        hi = np.searchsorted(self.snap_video_, video, side="right")
        counts = hi - lo
        pair = np.repeat(np.arange(row.size), counts)
        snap = np.repeat(lo - np.cumsum(np.r_[0, counts[:-1]]), counts) + np.arange(counts.sum())
        distance = np.abs(self.snap_log_age_[snap] - target_age[row[pair]])
        order = np.lexsort((distance, pair))
        first = order[np.r_[True, pair[order][1:] != pair[order][:-1]]]
        chosen_pair, chosen = pair[first], snap[first]
        r = row[chosen_pair]
        snap_age = self.snap_log_age_[chosen]
        value = (
            self.snap_log_views_[chosen]
            - self.curve_.offset(snap_age, self.video_format_[video[chosen_pair]])
            + self.curve_.offset(target_age[r], fmt[r])
        )
        median, q25, q75, count = _row_quantiles(r, value, n, (0.5, 0.25, 0.75))
        spread = np.where(count >= 2, q75 - q25, np.nan)
        ages = _row_quantiles(r, snap_age, n, (0.5,))[0]
        if recent is None:
            return median, count, spread, ages
        rank = np.arange(row.size) - np.searchsorted(row, row, side="left")
        newest = rank[chosen_pair] < recent
        return median, count, spread, ages, _median_by_row(r[newest], value[newest], n)


@dataclass(frozen=True)
class _SortedHistory:
    """Uploads sorted by (group, publish time) for 'the last k uploads before t' lookups."""

    keys: Array
    order: Array
    group_start: Array

    @classmethod
    def build(cls, groups: Array, published: Array) -> _SortedHistory:
        """Sort uploads by group, then publish time."""
        keys = groups.astype(np.int64) * _GROUP_SHIFT + published.astype(np.int64)
        order = np.argsort(keys, kind="mergesort")
        sorted_groups = groups[order]
        starts = np.searchsorted(sorted_groups, sorted_groups, side="left").astype(np.int64)
        return cls(keys[order], order, starts)

    def pairs(self, groups: Array, published: Array, window: int) -> tuple[Array, Array]:
        """(row, upload index) for each row's last ``window`` uploads of its group strictly before it,
        by row, newest upload first."""
        if self.keys.size == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        query = groups.astype(np.int64) * _GROUP_SHIFT + published.astype(np.int64)
        last = np.searchsorted(self.keys, query, side="left") - 1
        safe = np.maximum(last, 0)
        valid = (groups >= 0) & (last >= 0) & (self.keys[safe] // _GROUP_SHIFT == groups)
        candidates = last[:, None] - np.arange(window)[None, :]
        ok = valid[:, None] & (candidates >= self.group_start[safe][:, None])
        rows = np.broadcast_to(np.arange(len(groups))[:, None], candidates.shape)[ok]
        return rows.astype(np.int64), self.order[candidates[ok]].astype(np.int64)


def _median_by_row(rows: Array, values: Array, n: int) -> Array:
    return _row_quantiles(rows, values, n, (0.5,))[0]


def _row_quantiles(rows: Array, values: Array, n: int, levels: tuple[float, ...]) -> tuple[Array, ...]:
    """Per row ``0..n-1``: each quantile of its ``values`` (NaN where it has none), then the count.

    Linear interpolation between order statistics, as pandas' grouped ``quantile`` and ``median``
    (the median is the mean of the two middle values). Numpy on one sort, not a pandas groupby:
    one prediction calls this a few times on a few dozen values, where a groupby's fixed cost
    was most of the prediction's time.
    """
    if rows.size == 0:
        return (*(np.full(n, np.nan) for _ in levels), np.zeros(n))
    count = np.bincount(rows, minlength=n).astype(np.float64)
    out: list[Array] = []
    order = np.lexsort((values, rows))
    ordered = values[order]
    start = np.r_[0, np.cumsum(count)[:-1]].astype(np.int64)
    has = count > 0
    for q in levels:
        position = start + q * np.maximum(count - 1, 0)
        lo = np.floor(position).astype(np.int64)
        hi = np.ceil(position).astype(np.int64)
        lo_value = ordered[np.where(has, lo, 0)]
        hi_value = ordered[np.where(has, hi, 0)]
        middle = (lo_value + hi_value) / 2  # pandas' median: the mean of the two middle values
        between = lo_value + (hi_value - lo_value) * (position - lo)
        out.append(np.where(has, middle if q == 0.5 else between, np.nan))
    return (*out, count)


def _format_codes(formats: pd.Series) -> Array:
    return np.asarray(
        formats.astype(str).map(FORMAT_CODES).fillna(FORMAT_CODES["long"]).to_numpy(dtype=np.float64),
        dtype=np.int64,
    )


@dataclass(frozen=True)
class SeasonalNaiveForecast:
    """The value one season earlier, repeated, with intervals from its own past errors."""

    mean: Array
    lower: dict[float, Array]
    upper: dict[float, Array]


def seasonal_naive(
    values: Array, horizon: int, *, season: int = 7, levels: tuple[float, ...] = (0.8, 0.95)
) -> SeasonalNaiveForecast:
    """Seasonal-naive forecast of ``values`` (e.g. log daily views) ``horizon`` steps ahead.

    The point forecast for lead ``h`` is the last observed value of the same season. Its interval
    is the forecast plus the split-conformal quantiles of the series' own seasonal-naive errors at
    that lead (``y[t] - y[t - season * ceil(h / season)]``); leads with too few past errors get an
    infinite interval rather than a made-up one.
    """
    series = np.asarray(values, dtype=np.float64)
    if series.ndim != 1 or series.size < season:
        raise DataQualityError(f"seasonal naive needs at least {season} values")
    if horizon < 1:
        raise ConfigError(f"horizon must be at least 1, got {horizon}")
    mean = np.empty(horizon)
    lower = {lv: np.empty(horizon) for lv in levels}
    upper = {lv: np.empty(horizon) for lv in levels}
    for h in range(1, horizon + 1):
        lag = season * math.ceil(h / season)
        mean[h - 1] = series[series.size - 1 + h - lag] if lag <= series.size else series[-1]
        errors = series[lag:] - series[:-lag] if series.size > lag else np.zeros(0)
        for lv in levels:
            lo, hi = _two_sided(errors, lv)
            lower[lv][h - 1] = mean[h - 1] + lo
            upper[lv][h - 1] = mean[h - 1] + hi
    return SeasonalNaiveForecast(mean, lower, upper)


def _two_sided(errors: Array, level: float) -> tuple[float, float]:
    n = errors.size
    tail = (1.0 - level) / 2.0
    rank = math.ceil((n + 1) * (1.0 - tail))
    if n == 0 or rank > n:
        return -math.inf, math.inf
    ordered = np.sort(errors)
    return float(ordered[n - rank]), float(ordered[rank - 1])
