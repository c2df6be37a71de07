"""Split-conformal prediction intervals: per group (Mondrian), adapting to drift along time.

On a calibration set the absolute residuals ``|y - ŷ|`` are ranked; the interval at level
``1 - α`` is ``ŷ ± q``. Unweighted, ``q`` is the ``ceil((n + 1)(1 - α))``-th smallest residual,
which covers at least the nominal share of test rows if calibration and test rows are
exchangeable. Videos are not exchangeable over time (audiences, formats, the mix of channels and
how much history each has drift), so two things follow the drift:

* the calibration rows are the newest before the fit (a rolling window, chosen by the caller);
* with ``adaptation > 0`` (rows given oldest first), adaptive conformal inference
  (:func:`~tubescope.analysis.conformal.adaptive_level`, Gibbs and Candès 2021) walks the newer
  half of those rows and moves each level toward what they needed: narrower when errors shrink
  over time, wider when they grow. Its step is ``adaptation`` divided by the rows walked, so the
  level moves by about ``adaptation`` times the gap between the nominal and the observed miss
  rate whatever the calibration size (a fixed step would follow more noise the more rows there
  are). Every quantile is then taken at the adapted level.

Rows can also carry weights (newest heaviest): ``q`` is then the weighted quantile with the test
point's own weight at infinity, the non-exchangeable rule of Barber, Candès, Ramdas and
Tibshirani (2023).

Per-group quantiles (video format x how much channel history the baseline had) give the guarantee
within each group; groups whose calibration rows weigh less than ``min_group_size`` use the pooled
quantile.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from tubescope.analysis.conformal import adaptive_level, conformal_quantile
from tubescope.errors import ConfigError, DataQualityError

__all__ = ["ConformalIntervals", "conformal_quantile"]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


class ConformalIntervals(BaseEstimator):  # type: ignore[misc]
    """Learns residual quantiles on calibration data; ``interval`` widens point forecasts by them.

    ``adapted_levels_`` maps each nominal level to the level its quantiles were taken at.
    """

    def __init__(
        self,
        levels: Sequence[float] = (0.8, 0.95),
        min_group_size: int = 50,
        adaptation: float = 0.0,
    ) -> None:
        self.levels = levels
        self.min_group_size = min_group_size
        self.adaptation = adaptation

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
        if self.adaptation < 0:
            raise ConfigError(f"adaptation must be at least 0, got {self.adaptation}")
        residuals = np.abs(truth - pred)
        self.n_calibration_ = int(residuals.size)
        walked = max(residuals.size - residuals.size // 2, 1)
        self.adapted_levels_ = {
            float(lv): adaptive_level(residuals, lv, self.adaptation / walked) for lv in self.levels
        }
        adapted = self.adapted_levels_
        self.pooled_quantiles_ = {
            float(lv): conformal_quantile(residuals, adapted[float(lv)], weights) for lv in self.levels
        }
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
                        float(lv): conformal_quantile(residuals[members], adapted[float(lv)], w)
                        for lv in self.levels
                    }
        return self

    def half_width(self, level: float, groups: Any = None, n: int = 1) -> FloatArray:
        """The calibrated half-width at ``level`` for each row's group (pooled when unknown)."""
        if float(level) not in self.pooled_quantiles_:
            raise ConfigError(
                f"no interval calibrated at level {level}; have {sorted(self.pooled_quantiles_)}"
            )
        pooled = self.pooled_quantiles_[float(level)]
        # Models stored before adaptive levels carry a one-sided widening factor instead.
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
