"""The view forecaster: features, ensemble, conformal intervals and baselines, trained as one.

:func:`train_forecaster` splits the videos by publish date into train / validation / calibration
/ test, fits the ensemble on train, chooses member weights on validation, calibrates the
intervals on calibration and reports on test. The saved :class:`ViewForecaster` is exactly the
one evaluated; its channel history (the priors) covers all the frames it was given and can be
refreshed with newer frames by :meth:`ViewForecaster.with_history` without retraining.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from tubescope.analysis.features import JsonMixin, require_columns
from tubescope.analysis.frames import ChannelFrames
from tubescope.errors import ConfigError, DataQualityError
from tubescope.predict.baselines import baseline_forecasts, fit_age_curve
from tubescope.predict.conformal import ConformalIntervals
from tubescope.predict.ensemble import MEMBERS, ViewEnsemble
from tubescope.predict.evaluate import EvaluationReport, interval_metrics, point_metrics
from tubescope.predict.features import FEATURE_NAMES, FEATURE_VERSION, VideoFeatures

FloatArray = np.ndarray[Any, np.dtype[np.float64]]

MIN_TRAINING_VIDEOS = 100

CATEGORY_BOUNDS: tuple[tuple[float, str], ...] = ((0.75, "below"), (1.5, "expected"), (3.0, "above"))
"""Upper bounds of the ratio forecast / channel median for each category; at or above 3x is a breakout."""


_HORIZON_UNITS = {"d": 1.0, "h": 1.0 / 24.0, "w": 7.0}


def parse_horizon(text: str) -> float:
    """``7d``, ``48h``, ``2w`` or a bare number of days, as days; :class:`ConfigError` otherwise."""
    raw = text.strip().lower()
    unit = raw[-1:] if raw[-1:] in _HORIZON_UNITS else "d"
    number = raw[:-1] if raw[-1:] in _HORIZON_UNITS else raw
    try:
        days = float(number) * _HORIZON_UNITS[unit]
    except ValueError:
        raise ConfigError(
            f"invalid horizon {text!r}: use a number of days or hours such as 7d or 48h"
        ) from None
    if not math.isfinite(days) or days <= 0 or days > 3650:
        raise ConfigError(f"invalid horizon {text!r}: it must be positive and at most ten years")
    return days


class PerformanceCategory(StrEnum):
    BELOW = "below"
    EXPECTED = "expected"
    ABOVE = "above"
    BREAKOUT = "breakout"
    UNKNOWN = "unknown"
    """The channel has no earlier video of this format with known views."""


def categorise(expected_views: float, channel_median_views: float | None) -> PerformanceCategory:
    """below < 0.75x, expected < 1.5x, above < 3x, breakout >= 3x the channel's same-format median."""
    if channel_median_views is None or not math.isfinite(channel_median_views) or channel_median_views <= 0:
        return PerformanceCategory.UNKNOWN
    ratio = expected_views / channel_median_views
    for bound, name in CATEGORY_BOUNDS:
        if ratio < bound:
            return PerformanceCategory(name)
    return PerformanceCategory.BREAKOUT


@dataclass(frozen=True)
class ForecastOptions:
    """Settings of training; the defaults suit a warehouse of thousands of videos."""

    horizon_days: float = 7.0
    prior_window: int = 20
    n_estimators: int = 300
    learning_rate: float = 0.05
    forest_trees: int = 100
    forest_max_rows: int = 50_000
    split: tuple[float, float, float, float] = (0.55, 0.15, 0.15, 0.15)
    levels: tuple[float, ...] = (0.8, 0.95)
    min_age_days: float | None = None
    """Videos observed only younger than this are left out (default: the horizon, so every target is
    views at the horizon or, failing a bracketing snapshot, at an older age)."""
    random_state: int = 0
    n_jobs: int = 1

    def __post_init__(self) -> None:
        if self.horizon_days <= 0:
            raise ConfigError(f"horizon must be positive, got {self.horizon_days} days")
        if len(self.split) != 4 or any(s <= 0 for s in self.split) or abs(sum(self.split) - 1.0) > 1e-6:
            raise ConfigError(f"split must be four positive shares summing to 1, got {self.split}")


@dataclass(frozen=True)
class Contribution(JsonMixin):
    feature: str
    value: float | None
    effect: float
    """Additive effect on log views; ``factor = exp(effect)`` multiplies the views."""

    @property
    def factor(self) -> float:
        return math.exp(self.effect)


@dataclass(frozen=True)
class Interval(JsonMixin):
    level: float
    low: float
    high: float


@dataclass(frozen=True)
class Forecast(JsonMixin):
    """Views expected at ``horizon_days`` for one video, with intervals and the reasons."""

    channel_id: str
    title: str
    video_format: str
    published_at: str
    horizon_days: float
    expected_views: float
    """The point forecast: ``expm1`` of the forecast of log views (a median-like value)."""
    intervals: tuple[Interval, ...]
    category: PerformanceCategory
    channel_median_views: float | None
    """Median views at the horizon of the channel's recent same-format videos, as known at publish."""
    ratio_to_median: float | None
    top_contributions: tuple[Contribution, ...]
    baseline_views: float | None
    """What the channel-median baseline would have said."""

    def interval(self, level: float) -> Interval:
        for item in self.intervals:
            if abs(item.level - level) < 1e-9:
                return item
        raise KeyError(level)


class ChannelMedianBaselines:
    """The two baselines: the channel's same-format median, and that median moved along an age curve.

    Fallbacks when a channel has no same-format history: its all-format median, then the
    training median of the format. The age curve is one slope of log views on log age, fitted on
    training rows.
    """

    def fit(self, X: pd.DataFrame, y: FloatArray) -> ChannelMedianBaselines:
        fmt = X["video_format"].to_numpy()
        self.format_medians_ = {
            float(code): float(np.median(y[fmt == code])) for code in np.unique(fmt) if (fmt == code).any()
        }
        self.global_median_ = float(np.median(y)) if len(y) else 0.0
        base = self.channel_median(X)
        delta_age = (X["log_age_days"] - X["prior_log_age"]).to_numpy(dtype=np.float64)
        usable = np.isfinite(delta_age) & np.isfinite(base)
        denominator = float(np.sum(delta_age[usable] ** 2))
        self.age_slope_ = (
            float(np.sum(delta_age[usable] * (y[usable] - base[usable])) / denominator)
            if denominator > 1e-6
            else 0.0
        )
        return self

    def channel_median(self, X: pd.DataFrame) -> FloatArray:
        fallback = np.asarray(
            [self.format_medians_.get(float(f), self.global_median_) for f in X["video_format"].to_numpy()],
            dtype=np.float64,
        )
        prior = X["prior_median"].to_numpy(dtype=np.float64)
        channel = X["channel_prior_median"].to_numpy(dtype=np.float64)
        return np.where(np.isfinite(prior), prior, np.where(np.isfinite(channel), channel, fallback))

    def age_curve(self, X: pd.DataFrame) -> FloatArray:
        delta_age = (X["log_age_days"] - X["prior_log_age"]).to_numpy(dtype=np.float64)
        return np.asarray(self.channel_median(X) + self.age_slope_ * np.nan_to_num(delta_age, nan=0.0))


def interval_groups(X: pd.DataFrame) -> np.ndarray[Any, np.dtype[Any]]:
    """Mondrian groups for the intervals: format x whether the channel had same-format history."""
    fmt = X["video_format"].to_numpy(dtype=np.float64).astype(int).astype(str)
    known = np.where(X["prior_count"].to_numpy() > 0, "known", "new")
    return np.char.add(np.char.add(fmt, ":"), known)


@dataclass
class ViewForecaster:
    """Everything needed to forecast: fitted features (with channel history), ensemble, intervals."""

    options: ForecastOptions
    features: VideoFeatures
    ensemble: ViewEnsemble
    conformal: ConformalIntervals
    baselines: ChannelMedianBaselines
    feature_version: str = FEATURE_VERSION
    channel_handles: dict[str, str] = field(default_factory=dict)

    def with_history(self, frames: ChannelFrames) -> ViewForecaster:
        """The same trained model with channel priors recomputed from newer frames."""
        features = VideoFeatures(self.options.horizon_days, self.options.prior_window).fit(frames)
        return ViewForecaster(
            self.options,
            features,
            self.ensemble,
            self.conformal,
            self.baselines,
            self.feature_version,
            handles_of(frames.channels),
        )

    def predict_log(self, X: pd.DataFrame) -> FloatArray:
        """Forecast of ``log1p(views)`` for feature rows from :attr:`features`."""
        return np.asarray(self.baselines.age_curve(X) + self.ensemble.predict(X.to_numpy(dtype=np.float64)))

    def knows_channel(self, channel_id: str) -> bool:
        return channel_id in self.features.channel_codes_

    def forecast(self, videos: pd.DataFrame, *, top_k: int = 5) -> list[Forecast]:
        """Forecasts at the horizon for ``videos`` (columns as in ``VIDEO_COLUMNS``; ids optional)."""
        require_columns(videos, "videos", ("channel_id", "title", "published_at", "video_format"))
        X = self.features.transform(videos)
        X_np = X.to_numpy(dtype=np.float64)
        prior_column = FEATURE_NAMES.index("prior_median")
        contributions = self.ensemble.contributions(X_np)
        offset = self.baselines.age_curve(X)
        log_pred = offset + contributions.sum(axis=1)
        groups = interval_groups(X)
        baseline = self.baselines.channel_median(X)
        bounds = {level: self.conformal.interval(log_pred, level, groups) for level in self.options.levels}
        out = []
        published = pd.to_datetime(videos["published_at"], utc=True)
        for i in range(len(videos)):
            expected = float(np.expm1(log_pred[i]))
            prior = float(X_np[i, prior_column])
            median = float(np.expm1(prior)) if math.isfinite(prior) else None
            effects = contributions[i, :-1]
            order = np.argsort(-np.abs(effects))[:top_k]
            top = tuple(
                Contribution(
                    feature=FEATURE_NAMES[j],
                    value=_finite(float(X_np[i, j])),
                    effect=float(effects[j]),
                )
                for j in order
            )
            out.append(
                Forecast(
                    channel_id=str(videos["channel_id"].iloc[i]),
                    title=str(videos["title"].iloc[i]),
                    video_format=str(videos["video_format"].iloc[i]),
                    published_at=published.iloc[i].isoformat(),
                    horizon_days=self.options.horizon_days,
                    expected_views=max(expected, 0.0),
                    intervals=tuple(
                        Interval(
                            level=level,
                            low=max(float(np.expm1(lo[i])), 0.0),
                            high=float(np.expm1(hi[i])),
                        )
                        for level, (lo, hi) in bounds.items()
                    ),
                    category=categorise(expected, median),
                    channel_median_views=median,
                    ratio_to_median=expected / median if median else None,
                    top_contributions=top,
                    baseline_views=float(np.expm1(baseline[i])),
                )
            )
        return out


@dataclass(frozen=True)
class TrainingResult:
    forecaster: ViewForecaster
    report: EvaluationReport
    data_window: dict[str, Any]


def handles_of(channels: pd.DataFrame) -> dict[str, str]:
    """``@handle`` (lower-cased) to channel id, for resolving what users type."""
    if "handle" not in channels.columns:
        return {}
    out = {}
    for cid, handle in zip(channels["channel_id"].astype(str), channels["handle"], strict=True):
        if isinstance(handle, str) and handle:
            out[handle.lower() if handle.startswith("@") else "@" + handle.lower()] = cid
    return out


def training_rows(
    frames: ChannelFrames, features: VideoFeatures, min_age_days: float
) -> tuple[pd.DataFrame, FloatArray, pd.DataFrame]:
    """Feature rows, log-view targets and their targets table, in publish order."""
    targets = features.targets_
    targets = targets[targets["age_days"] >= min_age_days]
    videos = frames.videos.drop_duplicates("video_id", keep="last").set_index("video_id")
    targets = targets[targets.index.isin(videos.index)].sort_values("published_at", kind="mergesort")
    rows = videos.loc[targets.index]
    X = features.transform(rows, age_days=targets["age_days"].to_numpy(dtype=np.float64))
    return X, targets["log_views"].to_numpy(dtype=np.float64), targets


def train_forecaster(frames: ChannelFrames, options: ForecastOptions | None = None) -> TrainingResult:
    """Fit and evaluate a forecaster on ``frames`` with a time-based four-way split."""
    opts = options or ForecastOptions()
    features = VideoFeatures(opts.horizon_days, opts.prior_window).fit(frames)
    min_age = opts.horizon_days if opts.min_age_days is None else opts.min_age_days
    X, y, targets = training_rows(frames, features, min_age - 1e-6)
    if len(y) < MIN_TRAINING_VIDEOS:
        raise DataQualityError(
            f"need at least {MIN_TRAINING_VIDEOS} videos with snapshots to train; the frames have {len(y)}"
        )
    cuts = np.floor(np.cumsum(opts.split)[:-1] * len(y)).astype(int)
    parts = np.split(np.arange(len(y)), cuts)
    names = ("train", "validation", "calibration", "test")
    if min(len(p) for p in parts) < 10:
        raise DataQualityError(f"too few videos for a four-way split: {[len(p) for p in parts]}")
    train, val, cal, test = parts

    ensemble = ViewEnsemble(
        n_estimators=opts.n_estimators,
        learning_rate=opts.learning_rate,
        forest_trees=opts.forest_trees,
        forest_max_rows=opts.forest_max_rows,
        random_state=opts.random_state,
        n_jobs=opts.n_jobs,
    )
    X_np = X.to_numpy(dtype=np.float64)
    # The ensemble learns how a video departs from its channel's baseline, not the level itself:
    # trees cannot extrapolate a level, and a channel median is the strongest single predictor.
    baselines = ChannelMedianBaselines().fit(X.iloc[train], y[train])
    offset = baselines.age_curve(X)
    ensemble.fit(X_np[train], y[train] - offset[train], eval_set=(X_np[val], y[val] - offset[val]))
    conformal = ConformalIntervals(levels=opts.levels).fit(
        y[cal], offset[cal] + ensemble.predict(X_np[cal]), interval_groups(X.iloc[cal])
    )
    test_pred = offset[test] + ensemble.predict(X_np[test])
    X_test = X.iloc[test]
    groups = interval_groups(X_test)
    intervals = []
    for level in opts.levels:
        lo, hi = conformal.interval(test_pred, level, groups)
        intervals.append(interval_metrics(y[test], lo, hi, level))
    published = targets["published_at"]
    train_targets = targets.iloc[train]
    at_horizon = train_targets[train_targets["interpolated"]]["log_views"]
    curve = fit_age_curve(frames, at_horizon, opts.horizon_days)
    plain_median, curve_median = baseline_forecasts(
        frames,
        targets.iloc[test][["channel_id", "video_format", "published_at"]],
        curve=curve,
        format_medians=baselines.format_medians_,
        fallback=baselines.global_median_,
        window=opts.prior_window,
    )
    report = EvaluationReport(
        n_test=len(test),
        model=point_metrics(y[test], test_pred),
        baseline_channel_median=point_metrics(y[test], plain_median),
        baseline_age_curve=point_metrics(y[test], curve_median),
        baseline_horizon_prior=point_metrics(y[test], offset[test]),
        intervals=tuple(intervals),
        share_at_horizon=float(targets["interpolated"].iloc[test].mean()),
        split_sizes={name: len(p) for name, p in zip(names, parts, strict=True)},
        split_bounds={
            name: f"{published.iloc[p[0]].isoformat()} .. {published.iloc[p[-1]].isoformat()}"
            for name, p in zip(names, parts, strict=True)
        },
        ensemble_weights={name: float(w) for name, w in zip(MEMBERS, ensemble.weights_, strict=True)},
    )
    observed = frames.video_snapshots["observed_at"]
    data_window = {
        "published_from": published.iloc[0].isoformat(),
        "published_to": published.iloc[-1].isoformat(),
        "observed_to": pd.Timestamp(observed.max()).isoformat() if len(observed) else None,
        "n_videos": len(y),
        "n_channels": int(targets["channel_id"].nunique()),
        "splits": report.split_sizes,
    }
    forecaster = ViewForecaster(
        opts, features, ensemble, conformal, baselines, FEATURE_VERSION, handles_of(frames.channels)
    )
    return TrainingResult(forecaster, report, data_window)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
