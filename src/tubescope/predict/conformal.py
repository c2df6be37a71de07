"""Split-conformal prediction intervals: per group (Mondrian) and weighted toward recent rows.

On a calibration set the absolute residuals ``|y - ŷ|`` are ranked; the interval at level
``1 - α`` is ``ŷ ± q``. Unweighted, ``q`` is the ``ceil((n + 1)(1 - α))``-th smallest residual,
which covers at least the nominal share of test rows if calibration and test rows are
exchangeable. Videos are not exchangeable over time (audiences, formats and the mix of channels
drift), so the calibration rows can carry weights (here: halving every ``half-life`` of the
calibration window, newest heaviest) and ``q`` is the weighted quantile with the test point's
own weight put at infinity: the non-exchangeable split-conformal rule of Barber, Candès, Ramdas
and Tibshirani (2023), whose coverage gap is bounded by how far the weighted calibration rows are
from the test rows.

Per-group quantiles (video format x how much channel history the baseline had) give the guarantee
within each group; groups whose calibration rows weigh less than ``min_group_size`` use the pooled
quantile.

Drift adjustment (``max_drift > 1``, rows given oldest first): when the newer half of the
calibration window needs a wider interval than the older half, errors are taken to keep growing
for one more step, and every width at that level is scaled by that ratio (at most ``max_drift``,
never below 1: widths are only ever widened). A ratio of two quantiles from a few hundred rows is
mostly noise, so it is shrunk toward 1 by ``n / (n + drift_shrinkage)`` with ``n`` the rows in a half.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from tubescope.analysis.conformal import conformal_quantile
from tubescope.errors import ConfigError, DataQualityError

__all__ = ["ConformalIntervals", "conformal_quantile"]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


class ConformalIntervals(BaseEstimator):  # type: ignore[misc]
    """Learns residual quantiles on calibration data; ``interval`` widens point forecasts by them."""

    def __init__(
        self,
        levels: Sequence[float] = (0.8, 0.95),
        min_group_size: int = 50,
        max_drift: float = 1.0,
        drift_shrinkage: float = 300.0,
    ) -> None:
        self.levels = levels
        self.min_group_size = min_group_size
        self.max_drift = max_drift
        self.drift_shrinkage = drift_shrinkage

    def fit(
        self, y_true: Any, y_pred: Any, groups: Any = None, sample_weight: Any = None
    ) -> ConformalIntervals:
        """Calibrate on truths and out-of-sample predictions, optionally per group and weighted."""
        for level in self.levels:
            if not 0.0 < level < 1.0:
                raise ConfigError(f"interval levels must be between 0 and 1, got {level}")
        truth = np.asarray(y_true, dtype=np.float64)
        pred = np.asarray(y_pred, dtype=np.float64)
        if truth.shape != pred.shape or truth.ndim != 1:
            raise DataQualityError("calibration truth and predictions must be 1-D arrays of one length")
        if not np.isfinite(truth).all() or not np.isfinite(pred).all():
            raise DataQualityError("calibration values must be finite")
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if weights is not None and (weights.shape != truth.shape or not (weights > 0).all()):
            raise DataQualityError("calibration weights must be positive, one per row")
        residuals = np.abs(truth - pred)
        self.n_calibration_ = int(residuals.size)
        half = residuals.size // 2
        self.drift_factors_ = {float(lv): 1.0 for lv in self.levels}
        if self.max_drift > 1.0 and half >= 20:
            for lv in self.levels:
                older = conformal_quantile(residuals[:half], lv)
                newer = conformal_quantile(residuals[half:], lv)
                if math.isfinite(older) and math.isfinite(newer) and older > 0:
                    shrink = half / (half + self.drift_shrinkage)
                    ratio = 1.0 + (newer / older - 1.0) * shrink
                    self.drift_factors_[float(lv)] = float(np.clip(ratio, 1.0, self.max_drift))
        self.pooled_quantiles_ = {float(lv): conformal_quantile(residuals, lv, weights) for lv in self.levels}
        self.group_quantiles_: dict[str, dict[float, float]] = {}
        self.group_sizes_: dict[str, int] = {}
        if groups is not None:
            labels = np.asarray(groups).astype(str)
            for label in np.unique(labels):
                members = labels == label
                self.group_sizes_[str(label)] = int(members.sum())
                # A group's size is its effective number of rows under the weights (Kish).
                w = None if weights is None else weights[members]
                size = members.sum() if w is None else w.sum() ** 2 / np.sum(w**2)
                if size >= self.min_group_size:
                    self.group_quantiles_[str(label)] = {
                        float(lv): conformal_quantile(residuals[members], lv, w) for lv in self.levels
                    }
        return self

    def half_width(self, level: float, groups: Any = None, n: int = 1) -> FloatArray:
        """The calibrated half-width at ``level`` for each row's group (pooled when unknown)."""
        if float(level) not in self.pooled_quantiles_:
            raise ConfigError(
                f"no interval calibrated at level {level}; have {sorted(self.pooled_quantiles_)}"
            )
        pooled = self.pooled_quantiles_[float(level)]
        factor = float(getattr(self, "drift_factors_", {}).get(float(level), 1.0))
        if groups is None:
            return np.full(n, pooled * factor)
        labels = np.asarray(groups).astype(str)
        widths = np.asarray(
            [self.group_quantiles_.get(str(g), {}).get(float(level), pooled) for g in labels],
            dtype=np.float64,
        )
        return np.asarray(widths * factor, dtype=np.float64)

    def interval(self, y_pred: Any, level: float, groups: Any = None) -> tuple[FloatArray, FloatArray]:
        """Lower and upper bounds around ``y_pred`` at ``level``."""
        pred = np.asarray(y_pred, dtype=np.float64)
        width = self.half_width(level, groups, pred.size)
        return pred - width, pred + width
