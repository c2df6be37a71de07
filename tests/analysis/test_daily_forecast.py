from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tubescope.analysis.daily_forecast import (
    FLEET_COVERAGE,
    FLEET_QUANTILES,
    Backtest,
    DailyIntervalCalibration,
    backtest,
    fleet_calibration,
    point_forecast,
    series_scale,
)
from tubescope.errors import ConfigError, DataQualityError

REAL_DAILY = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / "real"
    / "yt-channel-tracker-2026"
    / "youtube_daily_snapshots.csv"
)


def _cross_fitted_coverage(series: list[np.ndarray], levels: tuple[float, ...]) -> dict[float, float]:
    """Each series' intervals calibrated on the other series' backtest errors (5 folds)."""
    scores = backtest(series, horizon=7, min_days=14)
    fold = np.random.default_rng(0).integers(0, 5, len(series))[scores.series]
    inside = {lv: np.zeros(scores.scores.size) for lv in levels}
    for k in range(5):
        train = fold != k
        calibration = DailyIntervalCalibration(levels=levels).fit(
            Backtest(scores.scores[train], scores.leads[train], scores.series[train], scores.errors[train])
        )
        for lv, q in calibration.quantiles_.items():
            inside[lv][~train] = scores.scores[~train] <= q[scores.leads[~train] - 1]
    return {lv: float(hits.mean()) for lv, hits in inside.items()}


def test_point_forecasts_and_scales() -> None:
    week = np.log1p(np.array([100.0, 200, 300, 400, 500, 600, 700]))
    series = np.concatenate([week, week])
    np.testing.assert_allclose(point_forecast(series, 3), np.full(3, np.median(week)))
    np.testing.assert_allclose(point_forecast(series, 9, "seasonal_naive"), np.r_[week, week[:2]])
    assert series_scale(np.full(10, 3.0)) == pytest.approx(0.05)
    with pytest.raises(ConfigError):
        point_forecast(series, 3, "prophet")
    with pytest.raises(DataQualityError):
        point_forecast(series[:3], 3)
    with pytest.raises(ConfigError):
        DailyIntervalCalibration().forecast(series, 3)


def test_fleet_calibrated_intervals_cover_new_series_at_their_level() -> None:
    rng = np.random.default_rng(4)
    series = [rng.normal(rng.uniform(3, 9), rng.uniform(0.1, 0.6), 30) for _ in range(120)]
    coverage = _cross_fitted_coverage(series, (0.8, 0.95))
    assert coverage[0.8] == pytest.approx(0.8, abs=0.04)
    assert coverage[0.95] == pytest.approx(0.95, abs=0.03)
    calibration = DailyIntervalCalibration().fit(backtest(series, horizon=7, min_days=14))
    forecast = calibration.forecast(series[0], 7)
    assert np.all(forecast.lower[0.95] <= forecast.lower[0.8])
    assert np.all(forecast.upper[0.8] <= forecast.upper[0.95])
    assert np.all(np.diff(forecast.upper[0.8] - forecast.lower[0.8]) >= 0)


@pytest.mark.skipif(not REAL_DAILY.is_file(), reason=f"real daily channel statistics absent at {REAL_DAILY}")
def test_on_real_channels_the_intervals_hold_within_five_points() -> None:
    daily = pd.read_csv(REAL_DAILY, dtype={"channel_id": str}).sort_values(["channel_id", "date_utc"])
    series = []
    for _, rows in daily.groupby("channel_id"):
        gained = np.diff(pd.to_numeric(rows["views"], errors="coerce").to_numpy(dtype=np.float64))
        if gained.size >= 21 and np.isfinite(gained).all():
            series.append(np.log1p(np.maximum(gained, 0.0)))
    assert len(series) > 100
    coverage = _cross_fitted_coverage(series, (0.8, 0.95))
    assert abs(coverage[0.8] - 0.8) <= 0.05 and abs(coverage[0.95] - 0.95) <= 0.05, coverage


def test_leads_past_the_backtested_ones_widen_along_a_straight_line() -> None:
    calibration = fleet_calibration()
    assert calibration.backtested_leads == 7
    widths = calibration.scaled_widths(0.8, 10)
    np.testing.assert_allclose(widths[:7], FLEET_QUANTILES[0.8])
    step = (FLEET_QUANTILES[0.8][-1] - FLEET_QUANTILES[0.8][0]) / 6
    np.testing.assert_allclose(np.diff(widths[6:]), step)
    with pytest.raises(ConfigError, match="calibrated at levels"):
        calibration.scaled_widths(0.7, 3)
    forecast = calibration.forecast(np.log1p(np.arange(1.0, 30.0)), 10, levels=(0.8,))
    assert set(forecast.lower) == {0.8}


@pytest.mark.skipif(not REAL_DAILY.is_file(), reason=f"real daily channel statistics absent at {REAL_DAILY}")
def test_the_shipped_fleet_calibration_is_what_the_real_channels_give() -> None:
    """Every surface's daily intervals use FLEET_QUANTILES: refit them from the real data (the
    benchmark's series: channels with at least 21 days of gains) and require the same numbers."""
    daily = pd.read_csv(REAL_DAILY, encoding="utf-8-sig", dtype={"channel_id": str})
    series = []
    for _, rows in daily.sort_values(["channel_id", "date_utc"]).groupby("channel_id"):
        gained = np.diff(pd.to_numeric(rows["views"], errors="coerce").to_numpy(dtype=np.float64))
        if gained.size >= 21 and np.isfinite(gained).all():
            series.append(np.log1p(np.maximum(gained, 0.0)))
    scores = backtest(series, horizon=7, min_days=14)
    refit = DailyIntervalCalibration(levels=tuple(FLEET_QUANTILES)).fit(scores)
    assert refit.n_scores_ == fleet_calibration().n_scores_
    for level, quantiles in FLEET_QUANTILES.items():
        np.testing.assert_allclose(refit.quantiles_[level], quantiles, atol=1e-5)
    coverage = _cross_fitted_coverage(series, tuple(FLEET_COVERAGE))
    for level, measured in FLEET_COVERAGE.items():
        assert coverage[level] == pytest.approx(measured, abs=0.0006)
