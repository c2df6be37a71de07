"""How good a forecast is: errors on log views, paired comparisons with CIs, interval coverage.

All errors are on ``log1p(views)``. ``median_ape`` is the median of ``|ŷ - y| / y`` in percent,
also on log views (so 5 means the log forecast is typically 5 % off, not the raw views).

Confidence intervals come from a paired bootstrap that resamples whole channels (a channel's
videos share its audience, so their errors are not independent): the model and the baseline are
always scored on the same resampled videos.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tubescope.analysis.features import JsonMixin

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class PointMetrics(JsonMixin):
    """Mean absolute error (with its CI when bootstrapped) and median APE on log views."""

    mae: float
    median_ape: float
    mae_low: float | None = None
    """Lower end of the bootstrap CI of the MAE (None when not computed)."""
    mae_high: float | None = None


@dataclass(frozen=True)
class IntervalMetrics(JsonMixin):
    """Coverage (with its CI when bootstrapped) and mean width of intervals at one level."""

    level: float
    coverage: float
    mean_width: float
    """Mean interval width in log views (a width of 1.0 spans a factor of e)."""
    coverage_low: float | None = None
    """Lower end of the bootstrap CI of the coverage (None when not computed)."""
    coverage_high: float | None = None


@dataclass(frozen=True)
class Comparison(JsonMixin):
    """MAE of a forecast minus MAE of a reference on the same videos, with a bootstrap CI."""

    reference: str
    difference: float
    low: float
    high: float
    n: int
    confidence: float = 0.95

    @property
    def better(self) -> bool:
        """The forecast's MAE is lower and the CI excludes 0."""
        return self.high < 0

    @property
    def worse(self) -> bool:
        """The forecast's MAE is higher and the CI excludes 0."""
        return self.low > 0

    def verdict(self) -> str:
        """``better``, ``worse`` or ``no difference shown``."""
        return "better" if self.better else "worse" if self.worse else "no difference shown"


@dataclass(frozen=True)
class WindowReport(JsonMixin):
    """One rolling-origin window: fitted on videos published before ``origin``, scored after it."""

    origin: str
    test_to: str
    n_train: int
    n_test: int
    served: str
    """What the procedure fitted at this origin served: ``ensemble`` or a baseline's name."""
    mae: dict[str, PointMetrics]
    """``served``, ``ensemble`` and every baseline."""
    best_baseline: str
    """The baseline with the lowest MAE on this window (the strongest competitor, chosen after the fact)."""
    served_vs_best: Comparison
    ensemble_vs_best: Comparison
    intervals: tuple[IntervalMetrics, ...]
    baseline_levels: dict[str, float] = field(default_factory=dict)
    """Share of test videos whose age-curve baseline used the channel's same-format uploads, any
    of its uploads, or no channel history."""


@dataclass(frozen=True)
class SkillCheck(JsonMixin):
    """The decision at training: does the ensemble beat the best baseline on the newest window?"""

    best_baseline: str
    ensemble_vs_best: Comparison
    served: str
    statement: str


@dataclass(frozen=True)
class EvaluationReport(JsonMixin):
    """Rolling-origin evaluation of the whole training procedure, and what the final model serves.

    ``model``, the ``baseline_*`` fields and ``intervals`` pool the rolling-origin windows (each
    video scored by the procedure fitted before its window); ``windows`` has them one by one.
    """

    n_test: int
    model: PointMetrics
    """The served forecast (ensemble or baseline, as each origin decided)."""
    baseline_channel_median: PointMetrics
    baseline_age_curve: PointMetrics
    ensemble: PointMetrics
    """The ensemble's own forecast, served or not."""
    intervals: tuple[IntervalMetrics, ...]
    served: str
    """What the final model serves: ``ensemble`` or a baseline's name."""
    skill: SkillCheck
    """The final model's decision, on the newest validation window."""
    served_vs_best: Comparison | None
    """Pooled over the windows: served forecast minus the best baseline (None without windows)."""
    windows: tuple[WindowReport, ...] = ()
    share_at_horizon: float = float("nan")
    """Share of scored videos whose truth is interpolated at the horizon (the rest use their age)."""
    split_sizes: dict[str, int] = field(default_factory=dict)
    split_bounds: dict[str, str] = field(default_factory=dict)
    ensemble_weights: dict[str, float] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)

    def gain_over(self, baseline: PointMetrics) -> float:
        """Relative MAE reduction of the served forecast against a baseline (0.2 = 20 % lower)."""
        if baseline.mae <= 0:
            return 0.0
        return 1.0 - self.model.mae / baseline.mae

    def coverage(self, level: float) -> float:
        """Pooled coverage of the interval at ``level``."""
        for item in self.intervals:
            if abs(item.level - level) < 1e-9:
                return item.coverage
        raise KeyError(level)

    @property
    def best_baseline(self) -> PointMetrics:
        """The stronger of the two baselines, pooled."""
        return min(self.baseline_channel_median, self.baseline_age_curve, key=lambda m: m.mae)


def point_metrics(y_true: FloatArray, y_pred: FloatArray) -> PointMetrics:
    """MAE and median APE of log forecasts."""
    truth = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    if truth.size == 0:
        return PointMetrics(mae=float("nan"), median_ape=float("nan"))
    error = np.abs(pred - truth)
    scale = np.where(np.abs(truth) > 1e-9, np.abs(truth), 1.0)
    return PointMetrics(mae=float(error.mean()), median_ape=float(np.median(error / scale) * 100.0))


def interval_metrics(
    y_true: FloatArray, lower: FloatArray, upper: FloatArray, level: float
) -> IntervalMetrics:
    """Coverage and mean width of intervals."""
    truth = np.asarray(y_true, dtype=np.float64)
    if truth.size == 0:
        return IntervalMetrics(level=level, coverage=float("nan"), mean_width=float("nan"))
    inside = (truth >= lower) & (truth <= upper)
    return IntervalMetrics(
        level=level, coverage=float(inside.mean()), mean_width=float(np.mean(np.asarray(upper) - lower))
    )


class ClusterBootstrap:
    """Resampling weights over clusters (channels), shared by every figure of one evaluation.

    ``mean(values)`` returns the point mean and a percentile CI of the mean over ``n_boot``
    resamples of whole clusters; using one object for a model's and a baseline's errors makes the
    comparison paired.
    """

    def __init__(self, clusters: Any, *, n_boot: int = 1000, confidence: float = 0.95, seed: int = 0) -> None:
        labels = np.asarray(clusters).astype(str)
        _, self.codes = np.unique(labels, return_inverse=True)
        k = int(self.codes.max()) + 1 if labels.size else 0
        rng = np.random.default_rng(seed)
        self.weights = rng.multinomial(k, np.full(k, 1.0 / k), size=n_boot).astype(np.float64) if k else None
        self.counts = np.bincount(self.codes, minlength=k).astype(np.float64)
        self.confidence = confidence

    def mean(self, values: Any) -> tuple[float, float, float]:
        """(mean, low, high) of ``values`` (one per row)."""
        data = np.asarray(values, dtype=np.float64)
        if data.size == 0 or self.weights is None:
            return float("nan"), float("nan"), float("nan")
        sums = np.bincount(self.codes, weights=data, minlength=self.counts.size)
        boot = (self.weights @ sums) / np.maximum(self.weights @ self.counts, 1e-12)
        tail = (1.0 - self.confidence) / 2.0
        low, high = np.quantile(boot, [tail, 1.0 - tail])
        return float(data.mean()), float(low), float(high)

    def compare(self, y_true: Any, forecast: Any, reference: Any, name: str) -> Comparison:
        """MAE of ``forecast`` minus MAE of ``reference`` with the CI."""
        truth = np.asarray(y_true, dtype=np.float64)
        diff = np.abs(np.asarray(forecast) - truth) - np.abs(np.asarray(reference) - truth)
        mean, low, high = self.mean(diff)
        return Comparison(name, mean, low, high, int(truth.size), self.confidence)

    def point(self, y_true: Any, forecast: Any) -> PointMetrics:
        """MAE with its CI, and the median APE."""
        plain = point_metrics(np.asarray(y_true, dtype=np.float64), np.asarray(forecast, dtype=np.float64))
        _, low, high = self.mean(np.abs(np.asarray(forecast) - np.asarray(y_true)))
        return PointMetrics(plain.mae, plain.median_ape, low, high)

    def coverage(self, y_true: Any, lower: Any, upper: Any, level: float) -> IntervalMetrics:
        """Coverage with its CI, and the mean width."""
        plain = interval_metrics(np.asarray(y_true, dtype=np.float64), lower, upper, level)
        truth = np.asarray(y_true, dtype=np.float64)
        _, low, high = self.mean(((truth >= lower) & (truth <= upper)).astype(np.float64))
        return IntervalMetrics(level, plain.coverage, plain.mean_width, low, high)
