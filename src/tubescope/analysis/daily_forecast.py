"""Daily-views forecasts whose intervals are calibrated on rolling-origin backtests of real series.

A channel's own history is short (weeks), too short to learn its error distribution from its own
past, and the interval formulas of a model fitted to it assume that model is right. Here the
interval is split-conformal over a *fleet*: every series is backtested from many origins, each
error at lead ``h`` is divided by that series' robust scale (the median absolute day-to-day change
of its log views before the origin), and the quantiles of those scaled errors, per lead, give the
interval widths for any series: ``forecast ± q_h * scale``. Short histories are in the calibration
as they are in use, so their noisier scales widen the intervals honestly.

Point forecasts (on ``log1p`` daily views), both naive and hard to beat on short series:

* ``last_week_median``: the median of the last seven days, flat;
* ``seasonal_naive``: the same weekday a week earlier (as :func:`.baselines.seasonal_naive`).

The calibration every surface uses (:func:`fleet_calibration`) was fitted on the daily channel
statistics of ``yt-channel-tracker-2026`` (130 real channels, :data:`FLEET_SOURCE`); a test refits
it from those data and requires the same quantiles, and ``benchmarks/predict_real.py`` checks its
coverage on channels it was not fitted on (cross-fitted by channel folds). Leads beyond the
backtested ones are extrapolated linearly from the lead-1 to last-lead growth, and say so.

Pure: arrays in, arrays out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tubescope.analysis.conformal import conformal_quantile
from tubescope.errors import ConfigError, DataQualityError

Array = np.ndarray[Any, Any]

METHODS: tuple[str, ...] = ("last_week_median", "seasonal_naive")
SEASON = 7
MIN_SCALE = 0.05
"""Floor of a series' scale (log views per day): a flat series must still get a usable interval."""


def point_forecast(values: Array, horizon: int, method: str = "last_week_median") -> Array:
    """``horizon`` daily forecasts of a series of log daily views."""
    series = np.asarray(values, dtype=np.float64)
    if series.ndim != 1 or series.size < SEASON:
        raise DataQualityError(f"a daily forecast needs at least {SEASON} days, got {series.size}")
    if horizon < 1:
        raise ConfigError(f"horizon must be at least 1 day, got {horizon}")
    if method == "last_week_median":
        return np.full(horizon, float(np.median(series[-SEASON:])))
    if method == "seasonal_naive":
        leads = np.arange(horizon)
        return np.asarray(series[series.size - SEASON + (leads % SEASON)], dtype=np.float64)
    raise ConfigError(f"unknown daily forecast method {method!r}; use one of {', '.join(METHODS)}")


def series_scale(values: Array) -> float:
    """Median absolute day-to-day change of the series (floored at :data:`MIN_SCALE`)."""
    series = np.asarray(values, dtype=np.float64)
    if series.size < 2:
        return MIN_SCALE
    return max(float(np.median(np.abs(np.diff(series)))), MIN_SCALE)


@dataclass(frozen=True)
class Backtest:
    """Scaled absolute errors of rolling-origin forecasts: one row per (series, origin, lead)."""

    scores: Array
    leads: Array
    """1-based lead of each score."""
    series: Array
    """Index of the series each score comes from (for grouping and cluster bootstraps)."""
    errors: Array
    """The unscaled errors ``y - forecast`` (log daily views)."""


def backtest(
    series: Sequence[Array],
    *,
    horizon: int = 7,
    min_days: int = 14,
    step: int = 1,
    method: str = "last_week_median",
) -> Backtest:
    """Forecast every series from every origin ``min_days, min_days + step, ...`` and score the next days."""
    if min_days < SEASON:
        raise ConfigError(f"min_days must be at least {SEASON}")
    scores, leads, owners, errors = [], [], [], []
    for index, values in enumerate(series):
        data = np.asarray(values, dtype=np.float64)
        for origin in range(min_days, data.size, step):
            past, future = data[:origin], data[origin : origin + horizon]
            forecast = point_forecast(past, future.size, method)
            error = future - forecast
            scores.append(np.abs(error) / series_scale(past))
            errors.append(error)
            leads.append(np.arange(1, future.size + 1))
            owners.append(np.full(future.size, index))
    if not scores:
        empty = np.zeros(0)
        return Backtest(empty, empty.astype(np.int64), empty.astype(np.int64), empty)
    return Backtest(
        np.concatenate(scores), np.concatenate(leads), np.concatenate(owners), np.concatenate(errors)
    )


@dataclass(frozen=True)
class DailyForecast:
    """Point forecasts and interval bounds per day (log1p daily views)."""

    method: str
    mean: Array
    lower: dict[float, Array]
    upper: dict[float, Array]
    scale: float


@dataclass
class DailyIntervalCalibration:
    """Per-lead conformal quantiles of scaled backtest errors (see the module docstring)."""

    method: str = "last_week_median"
    levels: tuple[float, ...] = (0.8, 0.95)
    quantiles_: dict[float, Array] = field(default_factory=dict)
    n_scores_: int = 0

    def fit(self, scores: Backtest) -> DailyIntervalCalibration:
        """Learn the quantiles from a fleet backtest (leads with too few scores borrow the pooled one)."""
        if scores.scores.size == 0:
            raise DataQualityError("no backtest errors to calibrate daily intervals on")
        horizon = int(scores.leads.max())
        self.n_scores_ = int(scores.scores.size)
        for level in self.levels:
            pooled = conformal_quantile(scores.scores, level)
            per_lead = []
            for lead in range(1, horizon + 1):
                members = scores.scores[scores.leads == lead]
                value = conformal_quantile(members, level) if members.size >= 30 else pooled
                per_lead.append(value if math.isfinite(value) else pooled)
            # Uncertainty does not shrink with the lead: make the widths non-decreasing.
            self.quantiles_[float(level)] = np.maximum.accumulate(np.asarray(per_lead, dtype=np.float64))
        return self

    @property
    def backtested_leads(self) -> int:
        """How many leads the quantiles were learned for (later leads are extrapolated)."""
        return min((q.size for q in self.quantiles_.values()), default=0)

    def scaled_widths(self, level: float, horizon: int) -> Array:
        """Half-widths per lead in units of the series' scale: the backtested quantiles, then a
        straight line through the first and last of them (uncertainty keeps growing with the lead)."""
        if not self.quantiles_:
            raise ConfigError("the daily interval calibration must be fitted first")
        if float(level) not in self.quantiles_:
            raise ConfigError(
                f"daily intervals are calibrated at levels {sorted(self.quantiles_)}, not {level}"
            )
        quantiles = self.quantiles_[float(level)]
        leads = np.arange(1, horizon + 1, dtype=np.float64)
        last = quantiles.size
        slope = (quantiles[-1] - quantiles[0]) / (last - 1) if last > 1 else 0.0
        beyond = quantiles[-1] + max(slope, 0.0) * (leads - last)
        inside = quantiles[np.minimum(leads.astype(int), last) - 1]
        return np.asarray(np.where(leads <= last, inside, beyond), dtype=np.float64)

    def forecast(self, values: Array, horizon: int, levels: Sequence[float] | None = None) -> DailyForecast:
        """Forecast ``horizon`` days of a series with the calibrated intervals (at ``levels``:
        all calibrated ones by default)."""
        if not self.quantiles_:
            raise ConfigError("the daily interval calibration must be fitted first")
        mean = point_forecast(values, horizon, self.method)
        scale = series_scale(values)
        lower, upper = {}, {}
        for level in self.quantiles_ if levels is None else levels:
            width = self.scaled_widths(level, horizon) * scale
            lower[float(level)] = mean - width
            upper[float(level)] = mean + width
        return DailyForecast(self.method, mean, lower, upper, scale)


FLEET_SOURCE = (
    "yt-channel-tracker-2026 daily channel statistics, 2026-01-17 to 2026-02-15: 130 channels with at "
    "least 21 days, 7,903 rolling-origin errors (origins from day 14, leads 1 to 7)"
)
"""What :data:`FLEET_QUANTILES` were fitted on."""

FLEET_QUANTILES: dict[float, tuple[float, ...]] = {
    0.5: (0.76248, 0.81589, 0.86975, 0.92261, 0.95393, 1.00905, 1.00905),
    0.8: (1.76024, 1.78721, 1.98564, 2.15496, 2.29513, 2.30290, 2.44353),
    0.9: (2.91008, 3.19503, 3.26962, 3.54930, 3.69258, 3.77536, 3.78042),
    0.95: (4.32632, 4.52986, 4.78016, 5.20671, 5.28200, 5.57639, 5.68879),
}
"""Per-lead conformal quantiles of scaled last-week-median errors on real channels
(``DailyIntervalCalibration(levels=(0.5, 0.8, 0.9, 0.95)).fit(backtest(series, horizon=7,
min_days=14))``; refitted and compared in ``tests/analysis/test_daily_forecast.py``)."""


FLEET_COVERAGE: dict[float, float] = {0.5: 0.500, 0.8: 0.801, 0.9: 0.903, 0.95: 0.951}
"""Share of held-out days inside the intervals on those channels, each channel's intervals
calibrated on the other channels' errors (5 folds by channel; ``benchmarks/predict_real.py``)."""


def fleet_calibration() -> DailyIntervalCalibration:
    """The daily-interval calibration learned on the real channel fleet (:data:`FLEET_SOURCE`)."""
    calibration = DailyIntervalCalibration("last_week_median", tuple(FLEET_QUANTILES))
    calibration.quantiles_ = {lv: np.asarray(q, dtype=np.float64) for lv, q in FLEET_QUANTILES.items()}
    calibration.n_scores_ = 7903
    return calibration
