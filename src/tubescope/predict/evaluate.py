"""How good a forecast is: error on log views, interval coverage, and the two baselines.

All errors are on ``log1p(views)``. ``median_ape`` is the median of ``|ŷ - y| / y`` in percent,
also on log views (so 5 means the log forecast is typically 5 % off, not the raw views).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tubescope.analysis.features import JsonMixin

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class PointMetrics(JsonMixin):
    mae: float
    median_ape: float


@dataclass(frozen=True)
class IntervalMetrics(JsonMixin):
    level: float
    coverage: float
    mean_width: float
    """Mean interval width in log views (a width of 1.0 spans a factor of e)."""


@dataclass(frozen=True)
class EvaluationReport(JsonMixin):
    """Test-set figures for the model and both baselines, plus where the numbers came from."""

    n_test: int
    model: PointMetrics
    baseline_channel_median: PointMetrics
    """Median views of the channel's recent same-format uploads, as seen at publish (any age)."""
    baseline_age_curve: PointMetrics
    """The same uploads' views moved to the horizon age along the age curve, then the median."""
    baseline_horizon_prior: PointMetrics
    """The model's own offset: same-format median of views *at the horizon* known at publish."""
    intervals: tuple[IntervalMetrics, ...]
    share_at_horizon: float
    """Share of test rows whose truth is interpolated at the horizon (the rest use their age)."""
    split_sizes: dict[str, int] = field(default_factory=dict)
    split_bounds: dict[str, str] = field(default_factory=dict)
    ensemble_weights: dict[str, float] = field(default_factory=dict)

    def gain_over(self, baseline: PointMetrics) -> float:
        """Relative MAE reduction against a baseline (0.2 = 20 % lower error)."""
        if baseline.mae <= 0:
            return 0.0
        return 1.0 - self.model.mae / baseline.mae

    def coverage(self, level: float) -> float:
        for item in self.intervals:
            if abs(item.level - level) < 1e-9:
                return item.coverage
        raise KeyError(level)


def point_metrics(y_true: FloatArray, y_pred: FloatArray) -> PointMetrics:
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
    truth = np.asarray(y_true, dtype=np.float64)
    if truth.size == 0:
        return IntervalMetrics(level=level, coverage=float("nan"), mean_width=float("nan"))
    inside = (truth >= lower) & (truth <= upper)
    return IntervalMetrics(
        level=level, coverage=float(inside.mean()), mean_width=float(np.mean(np.asarray(upper) - lower))
    )
