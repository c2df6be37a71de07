"""The view forecaster: baselines, features, ensemble and conformal intervals, trained as one.

The procedure (:func:`fit_procedure`), given videos published before some time:

1. learns the age curve of the baselines (:mod:`tubescope.predict.baselines`) on them;
2. fits the ensemble on how each video departs from its channel-median x age-curve baseline,
   on all but the newest ``validation_share`` of them;
3. on those newest videos, compares the ensemble with the best baseline by a paired bootstrap over
   channels: the ensemble is served only if its MAE is lower with a CI excluding 0, otherwise the
   best baseline is served and every output says so;
4. calibrates conformal intervals on the served forecast's errors on those newest videos (a
   rolling calibration window), per group, with each level adapted to the drift along that
   window by adaptive conformal inference (errors that shrink or grow over time);
5. refits the ensemble on all the videos, the newest included, with the rounds chosen in 2.

:func:`train_forecaster` scores that whole procedure by rolling origins (``n_origins`` windows of
``window_share`` of the videos each, in publish order, each fitted on everything before it),
then runs it once on all videos: that is the stored model. For that last fit the rolling-origin
windows are past data, so step 3 also asks them: the ensemble is served only if it beat the best
baseline over those windows (CI excluding 0) and is not shown worse on the newest videos. Its
channel history can be refreshed with newer frames by :meth:`ViewForecaster.with_history`
without retraining.
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
from tubescope.predict.baselines import (
    BASELINE_FEATURES,
    BASELINE_NAMES,
    LEVEL_CHANNEL,
    LEVEL_CHANNEL_FORMAT,
    LEVEL_FORMAT,
    BaselineFrame,
    ChannelBaselines,
)
from tubescope.predict.conformal import ConformalIntervals
from tubescope.predict.ensemble import MEMBERS, ViewEnsemble
from tubescope.predict.evaluate import (
    ClusterBootstrap,
    Comparison,
    EvaluationReport,
    IntervalMetrics,
    PointMetrics,
    SkillCheck,
    WindowReport,
)
from tubescope.predict.features import FEATURE_NAMES, FEATURE_VERSION, VideoFeatures, VideoRows

FloatArray = np.ndarray[Any, np.dtype[np.float64]]

MIN_TRAINING_VIDEOS = 100

MODEL_FEATURES: tuple[str, ...] = (*FEATURE_NAMES, *BASELINE_FEATURES)
"""Columns the ensemble sees: the video features, then what the baselines rest on."""

ENSEMBLE = "ensemble"

_NO_METRICS = PointMetrics(float("nan"), float("nan"))

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
    """How a forecast compares with the channel's same-format median at the horizon."""

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
    """How many of the channel's earlier same-format uploads the baselines and priors use."""
    n_estimators: int = 300
    learning_rate: float = 0.05
    forest_trees: int = 100
    forest_max_rows: int = 50_000
    validation_share: float = 0.2
    """Newest share of the training videos that decides ensemble or baseline and calibrates the
    intervals (then the ensemble is refitted on everything)."""
    n_origins: int = 3
    """Rolling-origin windows scored before the final fit (0 skips the evaluation)."""
    window_share: float = 0.1
    """Share of the videos in each rolling-origin window."""
    levels: tuple[float, ...] = (0.8, 0.95)
    calibration_half_life: float | None = None
    """If set, calibration weights halve every this fraction of the calibration window, back from its
    newest video (None: unweighted; the window is already the newest videos). On the real data,
    weights at 0.5 over-covered: they cut the effective calibration size and only ever widened."""
    adaptation: float = 0.25
    """Adaptive conformal inference along the calibration window (0 = off): each level moves about
    this share of the way toward what the newer half of the window needed, narrower or wider. It
    replaces a one-sided widening (up to 1.25x) that over-covered where errors shrink over time."""
    min_age_days: float | None = None
    """Videos observed only younger than this are left out (default: the horizon, so every target is
    views at the horizon or, failing a bracketing snapshot, at an older age)."""
    n_bootstrap: int = 500
    confidence: float = 0.95
    random_state: int = 0
    n_jobs: int = 1

    def __post_init__(self) -> None:
        if self.horizon_days <= 0:
            raise ConfigError(f"horizon must be positive, got {self.horizon_days} days")
        if not 0.05 <= self.validation_share <= 0.5:
            raise ConfigError(f"validation_share must be between 0.05 and 0.5, got {self.validation_share}")
        if self.n_origins < 0 or not 0.0 < self.window_share * max(self.n_origins, 1) < 0.8:
            raise ConfigError(
                f"rolling origins must leave at least 20% of the videos for the first fit, got "
                f"{self.n_origins} windows of {self.window_share:.0%}"
            )
        if self.calibration_half_life is not None and self.calibration_half_life <= 0:
            raise ConfigError("calibration_half_life must be positive")
        if not 0.0 <= self.adaptation <= 2.0:
            raise ConfigError(f"adaptation must be between 0 and 2, got {self.adaptation}")
        if not 0.5 <= self.confidence < 1.0 or self.n_bootstrap < 50:
            raise ConfigError("confidence must be in [0.5, 1) and n_bootstrap at least 50")


@dataclass(frozen=True)
class Contribution(JsonMixin):
    """One feature's additive part of the ensemble's departure from the baseline."""

    feature: str
    value: float | None
    effect: float
    """Additive effect on log views; ``factor = exp(effect)`` multiplies the views."""

    @property
    def factor(self) -> float:
        """The multiplicative effect on views."""
        return math.exp(self.effect)


@dataclass(frozen=True)
class Interval(JsonMixin):
    """A prediction interval in views, with the coverage such intervals had in backtests."""

    level: float
    low: float
    high: float
    measured_coverage: float | None = None
    """Share of videos inside such intervals in the rolling-origin evaluation (None if not run)."""


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
    """Median views at the horizon of the channel's earlier same-format uploads (age-adjusted)."""
    ratio_to_median: float | None
    top_contributions: tuple[Contribution, ...]
    """What moved the ensemble away from the baseline (empty when the baseline is served)."""
    baseline_views: float | None
    """What the best baseline says."""
    served_by: str = ENSEMBLE
    """``ensemble`` or the name of the baseline served because the ensemble showed no skill."""
    skill: str = ""
    """One plain sentence on whether the served forecast beats the best baseline, with figures."""

    def interval(self, level: float) -> Interval:
        """The interval at ``level``."""
        for item in self.intervals:
            if abs(item.level - level) < 1e-9:
                return item
        raise KeyError(level)


def interval_groups(fmt: Any, level: Any, log_age: Any, horizon_days: float) -> np.ndarray[Any, Any]:
    """Mondrian groups for the intervals: format x baseline level x target age band.

    The age band separates targets near the horizon (all a served forecast asks for) from the
    older ages some training targets fall back to.
    """
    fmt_text = np.asarray(fmt, dtype=np.float64).astype(int).astype(str)
    level_text = np.asarray(level, dtype=np.float64).astype(int).astype(str)
    near = np.asarray(log_age, dtype=np.float64) <= math.log1p(2.0 * horizon_days) + 1e-9
    band = np.where(near, "h", "o")
    return np.char.add(np.char.add(np.char.add(fmt_text, ":"), np.char.add(level_text, ":")), band)


@dataclass
class ViewForecaster:
    """Everything needed to forecast: features, baselines, ensemble, intervals, and what is served."""

    options: ForecastOptions
    features: VideoFeatures
    ensemble: ViewEnsemble
    conformal: ConformalIntervals
    baselines: ChannelBaselines
    feature_version: str = FEATURE_VERSION
    channel_handles: dict[str, str] = field(default_factory=dict)
    served: str = ENSEMBLE
    best_baseline: str = BASELINE_NAMES[1]
    skill: str = ""
    measured_coverage: dict[float, float] = field(default_factory=dict)

    def with_history(self, frames: ChannelFrames) -> ViewForecaster:
        """The same trained model with channel history recomputed from newer frames."""
        features = VideoFeatures(self.options.horizon_days, self.options.prior_window).fit(frames)
        return ViewForecaster(
            self.options,
            features,
            self.ensemble,
            self.conformal,
            self.baselines.with_history(history_of(frames)),
            self.feature_version,
            handles_of(frames.channels),
            self.served,
            self.best_baseline,
            self.skill,
            dict(self.measured_coverage),
        )

    def knows_channel(self, channel_id: str) -> bool:
        """Whether the channel is in the model's data."""
        return channel_id in self.features.channel_codes_

    def forecast(self, videos: pd.DataFrame, *, top_k: int = 5) -> list[Forecast]:
        """Forecasts at the horizon for ``videos`` (columns as in ``VIDEO_COLUMNS``; ids optional)."""
        require_columns(videos, "videos", ("channel_id", "title", "published_at", "video_format"))
        return self.forecast_rows(VideoRows.from_frame(videos), top_k=top_k)

    def forecast_rows(self, rows: VideoRows, *, top_k: int = 5) -> list[Forecast]:
        """:meth:`forecast` on plain columns (one planned video needs no frame)."""
        horizon = self.options.horizon_days
        X = self.features.transform_rows(rows)
        base = self.baselines.predict_arrays(rows.channel_id, rows.format_codes(), rows.published_s, horizon)
        F = np.column_stack([X, base.features()])
        if self.served == ENSEMBLE:
            contributions = self.ensemble.contributions(F)
            log_pred = base.age_curve + contributions.sum(axis=1)
        else:
            contributions = np.zeros((len(rows), F.shape[1] + 1))
            log_pred = base.get(self.served)
        groups = interval_groups(
            F[:, MODEL_FEATURES.index("video_format")], base.level, math.log1p(horizon), horizon
        )
        bounds = {level: self.conformal.interval(log_pred, level, groups) for level in self.options.levels}
        reference = base.get(self.best_baseline)
        out = []
        for i in range(len(rows)):
            expected = float(np.expm1(log_pred[i]))
            known = base.level[i] == LEVEL_CHANNEL_FORMAT
            median = float(np.expm1(base.age_curve[i])) if known else None
            top: tuple[Contribution, ...] = ()
            if self.served == ENSEMBLE:
                effects = contributions[i, :-1]
                order = np.argsort(-np.abs(effects))[:top_k]
                top = tuple(
                    Contribution(
                        feature=MODEL_FEATURES[j], value=_finite(float(F[i, j])), effect=float(effects[j])
                    )
                    for j in order
                )
            out.append(
                Forecast(
                    channel_id=rows.channel_id[i],
                    title=rows.title[i],
                    video_format=rows.video_format[i],
                    published_at=rows.published_at[i].isoformat(),
                    horizon_days=horizon,
                    expected_views=max(expected, 0.0),
                    intervals=tuple(
                        Interval(
                            level=level,
                            low=max(float(np.expm1(lo[i])), 0.0),
                            high=float(np.expm1(hi[i])),
                            measured_coverage=self.measured_coverage.get(float(level)),
                        )
                        for level, (lo, hi) in bounds.items()
                    ),
                    category=categorise(expected, median),
                    channel_median_views=median,
                    ratio_to_median=expected / median if median else None,
                    top_contributions=top,
                    baseline_views=float(np.expm1(reference[i])),
                    served_by=self.served,
                    skill=self.skill,
                )
            )
        return out


@dataclass(frozen=True)
class TrainingResult:
    """The model to store, its evaluation and the data it was trained on."""

    forecaster: ViewForecaster
    report: EvaluationReport
    data_window: dict[str, Any]


def history_of(frames: ChannelFrames) -> pd.DataFrame:
    """Every video snapshot with its video's channel, format and publish time (the baselines' input)."""
    videos = frames.videos.drop_duplicates("video_id", keep="last")
    meta = videos[["video_id", "channel_id", "published_at"]].assign(
        video_format=videos["video_format"].astype(str) if "video_format" in videos else "long"
    )
    snaps = frames.video_snapshots[["video_id", "observed_at", "view_count"]]
    return snaps.merge(meta, on="video_id", how="inner")


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


@dataclass(frozen=True)
class TrainingData:
    """Feature rows, log-view targets and what the baselines need, in publish order."""

    X: FloatArray
    y: FloatArray
    targets: pd.DataFrame
    history: pd.DataFrame

    @property
    def ages(self) -> FloatArray:
        """Each target's age in days."""
        return np.asarray(self.targets["age_days"].to_numpy(dtype=np.float64))

    @property
    def channels(self) -> np.ndarray[Any, Any]:
        """Each row's channel id (the bootstrap's clusters)."""
        return np.asarray(self.targets["channel_id"].astype(str).to_numpy())


def training_data(frames: ChannelFrames, features: VideoFeatures, min_age_days: float) -> TrainingData:
    """Every video with a usable target, in publish order, with its features."""
    X, y, targets = training_rows(frames, features, min_age_days)
    return TrainingData(X.to_numpy(dtype=np.float64), y, targets, history_of(frames))


@dataclass(frozen=True)
class FittedProcedure:
    """What :func:`fit_procedure` learns from the videos before one time."""

    baselines: ChannelBaselines
    ensemble: ViewEnsemble
    conformal: ConformalIntervals
    skill: SkillCheck
    calibration: dict[str, Any] = field(default_factory=dict)
    """The calibration rows: ``y``, ``pred``, ``groups``, ``weights`` (for diagnostics)."""

    @property
    def served(self) -> str:
        """``ensemble`` or the baseline served."""
        return self.skill.served


@dataclass(frozen=True)
class Predictions:
    """Every candidate forecast of log views for some rows, and the served one's intervals."""

    served: FloatArray
    ensemble: FloatArray
    baselines: BaselineFrame
    bounds: dict[float, tuple[FloatArray, FloatArray]]


def _model_matrix(data: TrainingData, rows: np.ndarray[Any, Any], base: BaselineFrame) -> FloatArray:
    return np.column_stack([data.X[rows], base.features()])


def _groups(data: TrainingData, rows: np.ndarray[Any, Any], base: BaselineFrame, horizon: float) -> Any:
    fmt = data.X[rows, FEATURE_NAMES.index("video_format")]
    return interval_groups(fmt, base.level, np.log1p(data.ages[rows]), horizon)


def _recency_weights(published: pd.Series, half_life: float) -> FloatArray:
    seconds = pd.to_datetime(published, utc=True).astype("int64").to_numpy(dtype=np.float64) / 1e9
    span = max(float(seconds.max() - seconds.min()), 1.0)
    return np.asarray(0.5 ** ((seconds.max() - seconds) / (half_life * span)), dtype=np.float64)


def fit_procedure(
    data: TrainingData,
    rows: np.ndarray[Any, Any],
    opts: ForecastOptions,
    *,
    evidence: WindowReport | None = None,
) -> FittedProcedure:
    """Steps 1-5 of the module docstring on ``rows`` (positions in publish order).

    ``evidence``: the pooled rolling-origin windows scored before this fit, if any. Then the
    ensemble is served when it beat the best baseline there (CI excluding 0) and is not shown
    worse on the newest validation window; without them, when it beats it on that window.
    """
    targets = data.targets.iloc[rows]
    baselines = ChannelBaselines(opts.prior_window).fit(targets, data.history)
    base = baselines.predict(targets, data.ages[rows])
    F = _model_matrix(data, rows, base)
    y = data.y[rows]
    residual = y - base.age_curve
    n_val = max(int(len(rows) * opts.validation_share), 20)
    if len(rows) - n_val < 50:
        raise DataQualityError(f"too few videos to fit and validate: {len(rows)}")
    fit, val = np.arange(len(rows) - n_val), np.arange(len(rows) - n_val, len(rows))
    ensemble = ViewEnsemble(
        n_estimators=opts.n_estimators,
        learning_rate=opts.learning_rate,
        forest_trees=opts.forest_trees,
        forest_max_rows=opts.forest_max_rows,
        random_state=opts.random_state,
        n_jobs=opts.n_jobs,
    ).fit(F[fit], residual[fit])
    ensemble_val = base.age_curve[val] + ensemble.predict(F[val])
    candidates = {name: base.get(name)[val] for name in BASELINE_NAMES}
    best = min(BASELINE_NAMES, key=lambda name: float(np.mean(np.abs(candidates[name] - y[val]))))
    boot = ClusterBootstrap(
        data.channels[rows][val], n_boot=opts.n_bootstrap, confidence=opts.confidence, seed=opts.random_state
    )
    comparison = boot.compare(y[val], ensemble_val, candidates[best], best)
    if evidence is None:
        served = ENSEMBLE if comparison.better else best
        statement = skill_statement(comparison, served)
    else:
        served = ENSEMBLE if evidence.ensemble_vs_best.better and not comparison.worse else best
        statement = skill_statement(comparison, served, evidence.ensemble_vs_best)
    served_val = ensemble_val if served == ENSEMBLE else candidates[best]
    calibration = {
        "y": y[val],
        "pred": served_val,
        "groups": _groups(data, rows[val], base.subset(val), opts.horizon_days),
        "weights": None
        if opts.calibration_half_life is None
        else _recency_weights(targets["published_at"].iloc[val], opts.calibration_half_life),
        "spread": base.spread[val],
        "count": base.count[val],
    }
    conformal = ConformalIntervals(levels=opts.levels, adaptation=opts.adaptation).fit(
        calibration["y"], calibration["pred"], calibration["groups"], calibration["weights"]
    )
    ensemble.refit(F, residual)
    skill = SkillCheck(best, comparison, served, statement)
    return FittedProcedure(baselines, ensemble, conformal, skill, calibration)


def _figures(comparison: Comparison, where: str) -> str:
    return (
        f"MAE on log views {comparison.difference:+.3f} against {comparison.reference.replace('_', ' ')} "
        f"{where} ({comparison.confidence:.0%} CI {comparison.low:+.3f} to {comparison.high:+.3f})"
    )


def skill_statement(comparison: Comparison, served: str, rolling: Comparison | None = None) -> str:
    """One plain sentence: what is served and why, with the figures."""
    figures = _figures(comparison, f"on the newest {comparison.n} videos")
    if rolling is not None:
        figures = _figures(rolling, f"over {rolling.n} videos in rolling-origin windows") + "; " + figures
    if served == ENSEMBLE:
        return f"The ensemble beats the best baseline: {figures}."
    return (
        f"The ensemble did not show that it beats the best baseline: {figures}; so this forecast is "
        f"the {served.replace('_', ' ')} baseline, and no skill beyond it is claimed."
    )


def predict_rows(
    fitted: FittedProcedure, data: TrainingData, rows: np.ndarray[Any, Any], opts: ForecastOptions
) -> Predictions:
    """Every candidate forecast for ``rows`` from a procedure fitted on earlier rows."""
    base = fitted.baselines.predict(data.targets.iloc[rows], data.ages[rows])
    F = _model_matrix(data, rows, base)
    ensemble = base.age_curve + fitted.ensemble.predict(F)
    served = ensemble if fitted.served == ENSEMBLE else base.get(fitted.served)
    groups = _groups(data, rows, base, opts.horizon_days)
    bounds = {level: fitted.conformal.interval(served, level, groups) for level in opts.levels}
    return Predictions(served, ensemble, base, bounds)


def score_window(
    y: FloatArray,
    channels: np.ndarray[Any, Any],
    predictions: Predictions,
    opts: ForecastOptions,
    *,
    served: str,
    origin: str,
    test_to: str,
    n_train: int,
) -> WindowReport:
    """MAE of every forecast with CIs, paired comparisons with the best baseline, coverage."""
    boot = ClusterBootstrap(
        channels, n_boot=opts.n_bootstrap, confidence=opts.confidence, seed=opts.random_state
    )
    forecasts = {"served": predictions.served, ENSEMBLE: predictions.ensemble}
    forecasts |= {name: predictions.baselines.get(name) for name in BASELINE_NAMES}
    mae = {name: boot.point(y, values) for name, values in forecasts.items()}
    best = min(BASELINE_NAMES, key=lambda name: mae[name].mae)
    level = predictions.baselines.level
    return WindowReport(
        origin=origin,
        test_to=test_to,
        n_train=n_train,
        n_test=int(y.size),
        served=served,
        mae=mae,
        best_baseline=best,
        served_vs_best=boot.compare(y, predictions.served, forecasts[best], best),
        ensemble_vs_best=boot.compare(y, predictions.ensemble, forecasts[best], best),
        intervals=tuple(boot.coverage(y, lo, hi, lv) for lv, (lo, hi) in predictions.bounds.items()),
        baseline_levels={
            "channel_same_format": float(np.mean(level == LEVEL_CHANNEL_FORMAT)),
            "channel_any_format": float(np.mean(level == LEVEL_CHANNEL)),
            "no_channel_history": float(np.mean(level == LEVEL_FORMAT)),
        },
    )


def _concat(parts: list[Predictions]) -> Predictions:
    bounds = {
        level: (
            np.concatenate([p.bounds[level][0] for p in parts]),
            np.concatenate([p.bounds[level][1] for p in parts]),
        )
        for level in parts[0].bounds
    }
    return Predictions(
        np.concatenate([p.served for p in parts]),
        np.concatenate([p.ensemble for p in parts]),
        BaselineFrame.concat([p.baselines for p in parts]),
        bounds,
    )


def rolling_windows(n: int, opts: ForecastOptions) -> list[tuple[int, int]]:
    """(start, stop) positions of the rolling-origin test windows, oldest first."""
    width = round(n * opts.window_share)
    out = []
    for k in range(opts.n_origins, 0, -1):
        start = n - k * width
        stop = n if k == 1 else start + width
        if start >= MIN_TRAINING_VIDEOS and stop - start >= 20:
            out.append((start, stop))
    return out


def evaluate_rolling(
    data: TrainingData, opts: ForecastOptions
) -> tuple[list[WindowReport], WindowReport | None]:
    """Fit the procedure before each rolling origin and score it on the window after; pooled too."""
    published = data.targets["published_at"]
    windows, parts, truth, channels = [], [], [], []
    for start, stop in rolling_windows(len(data.y), opts):
        fitted = fit_procedure(data, np.arange(start), opts)
        test = np.arange(start, stop)
        predictions = predict_rows(fitted, data, test, opts)
        windows.append(
            score_window(
                data.y[test],
                data.channels[test],
                predictions,
                opts,
                served=fitted.served,
                origin=pd.Timestamp(published.iloc[start]).isoformat(),
                test_to=pd.Timestamp(published.iloc[stop - 1]).isoformat(),
                n_train=start,
            )
        )
        parts.append(predictions)
        truth.append(data.y[test])
        channels.append(data.channels[test])
    if not windows:
        return [], None
    pooled = score_window(
        np.concatenate(truth),
        np.concatenate(channels),
        _concat(parts),
        opts,
        served="as each origin decided",
        origin=windows[0].origin,
        test_to=windows[-1].test_to,
        n_train=windows[0].n_train,
    )
    return windows, pooled


def train_forecaster(frames: ChannelFrames, options: ForecastOptions | None = None) -> TrainingResult:
    """Score the training procedure by rolling origins, then fit it on every video: the model to store."""
    opts = options or ForecastOptions()
    features = VideoFeatures(opts.horizon_days, opts.prior_window).fit(frames)
    min_age = opts.horizon_days if opts.min_age_days is None else opts.min_age_days
    data = training_data(frames, features, min_age - 1e-6)
    n = len(data.y)
    if n < MIN_TRAINING_VIDEOS:
        raise DataQualityError(
            f"need at least {MIN_TRAINING_VIDEOS} videos with snapshots to train; the frames have {n}"
        )
    windows, pooled = evaluate_rolling(data, opts)
    final = fit_procedure(data, np.arange(n), opts, evidence=pooled)
    published = data.targets["published_at"]
    n_val = max(int(n * opts.validation_share), 20)
    parts = {"fit": np.arange(n - n_val), "validation": np.arange(n - n_val, n)}
    report = EvaluationReport(
        n_test=pooled.n_test if pooled else 0,
        model=pooled.mae["served"] if pooled else _NO_METRICS,
        baseline_channel_median=pooled.mae[BASELINE_NAMES[0]] if pooled else _NO_METRICS,
        baseline_age_curve=pooled.mae[BASELINE_NAMES[1]] if pooled else _NO_METRICS,
        ensemble=pooled.mae[ENSEMBLE] if pooled else _NO_METRICS,
        intervals=pooled.intervals
        if pooled
        else tuple(IntervalMetrics(lv, float("nan"), float("nan")) for lv in opts.levels),
        served=final.served,
        skill=final.skill,
        served_vs_best=pooled.served_vs_best if pooled else None,
        windows=tuple(windows),
        share_at_horizon=float(data.targets["interpolated"].iloc[windows[0].n_train :].mean())
        if windows
        else float("nan"),
        split_sizes={name: len(p) for name, p in parts.items()},
        split_bounds={
            name: f"{published.iloc[p[0]].isoformat()} .. {published.iloc[p[-1]].isoformat()}"
            for name, p in parts.items()
        },
        ensemble_weights={name: float(w) for name, w in zip(MEMBERS, final.ensemble.weights_, strict=True)},
        calibration={
            "rows": int(final.conformal.n_calibration_),
            "half_life_share": opts.calibration_half_life,
            "adaptation": opts.adaptation,
            "adapted_levels": {f"{k:.2f}": round(v, 4) for k, v in final.conformal.adapted_levels_.items()},
            "groups": dict(final.conformal.group_sizes_),
        },
    )
    observed = frames.video_snapshots["observed_at"]
    data_window = {
        "published_from": published.iloc[0].isoformat(),
        "published_to": published.iloc[-1].isoformat(),
        "observed_to": pd.Timestamp(observed.max()).isoformat() if len(observed) else None,
        "n_videos": n,
        "n_channels": int(data.targets["channel_id"].nunique()),
        "splits": report.split_sizes,
    }
    forecaster = ViewForecaster(
        opts,
        features,
        final.ensemble,
        final.conformal,
        final.baselines,
        FEATURE_VERSION,
        handles_of(frames.channels),
        served=final.served,
        best_baseline=final.skill.best_baseline,
        skill=final.skill.statement,
        measured_coverage={float(i.level): i.coverage for i in pooled.intervals} if pooled else {},
    )
    return TrainingResult(forecaster, report, data_window)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
