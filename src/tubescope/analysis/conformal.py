"""The split-conformal quantile, plain or weighted (one function for every calibrated interval).

Unweighted, the quantile at level ``1 - α`` of ``n`` calibration scores is the
``ceil((n + 1)(1 - α))``-th smallest: an interval of that half-width covers a new exchangeable
score with probability at least ``1 - α``. Weighted (for non-exchangeable rows, newest heaviest),
the test point's own weight is put at infinity: the rule of Barber, Candès, Ramdas and Tibshirani
(2023). Used by the view forecaster's intervals (:mod:`tubescope.predict.conformal`) and the daily
views forecast (:mod:`tubescope.analysis.daily_forecast`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def conformal_quantile(residuals: FloatArray, level: float, weights: FloatArray | None = None) -> float:
    """The split-conformal quantile (weighted when ``weights`` is given); ``inf`` with too few rows.

    Weighted: the smallest residual ``r`` whose calibration weight at or below it reaches
    ``level * (W + w_max)``, where ``W`` is the total weight and ``w_max`` (the test point's weight)
    is the largest calibration weight. With equal weights this is the usual
    ``ceil((n + 1) * level)``-th smallest residual.
    """
    values = np.asarray(residuals, dtype=np.float64)
    n = values.size
    if n == 0:
        return math.inf
    if weights is None:
        rank = math.ceil((n + 1) * level)
        if rank > n:
            return math.inf
        return float(np.partition(values, rank - 1)[rank - 1])
    w = np.asarray(weights, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    cumulative = np.cumsum(w[order])
    needed = level * (cumulative[-1] + float(w.max()))
    position = int(np.searchsorted(cumulative, needed - 1e-12 * cumulative[-1], side="left"))
    if position >= n:
        return math.inf
    return float(values[order][position])
