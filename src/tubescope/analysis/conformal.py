"""The split-conformal quantile, plain or weighted (one function for every calibrated interval).

Unweighted, the quantile at level ``1 - α`` of ``n`` calibration scores is the
``ceil((n + 1)(1 - α))``-th smallest: an interval of that half-width covers a new exchangeable
score with probability at least ``1 - α``. Weighted (for non-exchangeable rows, newest heaviest),
the test point's own weight is put at infinity: the rule of Barber, Candès, Ramdas and Tibshirani
(2023). Used by the view forecaster's intervals (:mod:`tubescope.predict.conformal`) and the daily
views forecast (:mod:`tubescope.analysis.daily_forecast`).

:func:`adaptive_level` is adaptive conformal inference (Gibbs and Candès, 2021) run along the
calibration rows in time order: it learns which nominal level the newest rows need, in either
direction (errors that grow or shrink over time).
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


def adaptive_level(residuals: FloatArray, level: float, rate: float, *, start_share: float = 0.5) -> float:
    """The level that adaptive conformal inference (ACI) reaches along time-ordered residuals.

    Walking from row ``start_share * n`` to the last (rows oldest first), each row is checked
    against the split-conformal quantile of the rows before it at the current level
    ``1 - α_t``, and ``α_{t+1} = α_t + rate * (α - miss_t)`` (Gibbs and Candès, 2021): misses
    above the nominal rate lower ``α`` (wider intervals), fewer raise it. The result is clipped so
    that the miss rate it asks for stays within half and twice the nominal one. ``rate = 0``
    returns ``level`` unchanged. Small rates (0.001-0.005) move the level by a point or two over a
    few hundred rows; larger ones follow noise.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    if rate < 0.0 or not 0.0 <= start_share < 1.0:
        raise ValueError(f"rate must be >= 0 and start_share in [0, 1), got {rate} and {start_share}")
    values = np.asarray(residuals, dtype=np.float64)
    nominal_miss = 1.0 - level
    lowest, highest = nominal_miss / 2.0, min(2.0 * nominal_miss, 0.5)
    miss = nominal_miss
    if rate == 0.0:
        return level
    for t in range(max(int(values.size * start_share), 1), values.size):
        quantile = conformal_quantile(values[:t], 1.0 - miss)
        miss += rate * (nominal_miss - float(values[t] > quantile))
        miss = min(max(miss, lowest), highest)
    return 1.0 - miss
