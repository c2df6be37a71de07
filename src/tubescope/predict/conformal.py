"""Split-conformal prediction intervals, optionally per group (Mondrian).

On a calibration set the absolute residuals ``|y - ŷ|`` are ranked; the interval at level
``1 - α`` is ``ŷ ± q`` with ``q`` the ``ceil((n + 1)(1 - α))``-th smallest residual. If the
calibration and test rows are exchangeable this covers at least the nominal share of test rows.
Per-group quantiles (video format, known or new channel) give that guarantee within each group;
groups with fewer than ``min_group_size`` calibration rows use the pooled quantile.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from tubescope.errors import ConfigError, DataQualityError

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def conformal_quantile(residuals: FloatArray, level: float) -> float:
    """The finite-sample split-conformal quantile; ``inf`` when there are too few residuals."""
    n = residuals.size
    rank = math.ceil((n + 1) * level)
    if n == 0 or rank > n:
        return math.inf
    return float(np.partition(residuals, rank - 1)[rank - 1])


class ConformalIntervals(BaseEstimator):  # type: ignore[misc]
    """Learns residual quantiles on calibration data; ``interval`` widens point forecasts by them."""

    def __init__(self, levels: Sequence[float] = (0.8, 0.95), min_group_size: int = 50) -> None:
        self.levels = levels
        self.min_group_size = min_group_size

    def fit(self, y_true: Any, y_pred: Any, groups: Any = None) -> ConformalIntervals:
        for level in self.levels:
            if not 0.0 < level < 1.0:
                raise ConfigError(f"interval levels must be between 0 and 1, got {level}")
        truth = np.asarray(y_true, dtype=np.float64)
        pred = np.asarray(y_pred, dtype=np.float64)
        if truth.shape != pred.shape or truth.ndim != 1:
            raise DataQualityError("calibration truth and predictions must be 1-D arrays of one length")
        if not np.isfinite(truth).all() or not np.isfinite(pred).all():
            raise DataQualityError("calibration values must be finite")
        residuals = np.abs(truth - pred)
        self.n_calibration_ = int(residuals.size)
        self.pooled_quantiles_ = {float(lv): conformal_quantile(residuals, lv) for lv in self.levels}
        self.group_quantiles_: dict[str, dict[float, float]] = {}
        if groups is not None:
            labels = np.asarray(groups).astype(str)
            for label in np.unique(labels):
                members = residuals[labels == label]
                if members.size >= self.min_group_size:
                    self.group_quantiles_[str(label)] = {
                        float(lv): conformal_quantile(members, lv) for lv in self.levels
                    }
        return self

    def half_width(self, level: float, groups: Any = None, n: int = 1) -> FloatArray:
        if float(level) not in self.pooled_quantiles_:
            raise ConfigError(
                f"no interval calibrated at level {level}; have {sorted(self.pooled_quantiles_)}"
            )
        pooled = self.pooled_quantiles_[float(level)]
        if groups is None:
            return np.full(n, pooled)
        labels = np.asarray(groups).astype(str)
        return np.asarray(
            [self.group_quantiles_.get(str(g), {}).get(float(level), pooled) for g in labels],
            dtype=np.float64,
        )

    def interval(self, y_pred: Any, level: float, groups: Any = None) -> tuple[FloatArray, FloatArray]:
        pred = np.asarray(y_pred, dtype=np.float64)
        width = self.half_width(level, groups, pred.size)
        return pred - width, pred + width
