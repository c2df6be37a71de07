from __future__ import annotations

import numpy as np
import pytest

from tubescope.errors import ConfigError
from tubescope.predict.conformal import ConformalIntervals
from tubescope.predict.model import ForecastOptions


def _drifting(rng: np.random.Generator, n: int, start: float, stop: float) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and truths whose error scale moves linearly from ``start`` to ``stop``."""
    pred = rng.normal(size=n)
    return pred, pred + rng.laplace(size=n) * np.linspace(start, stop, n)


@pytest.mark.parametrize(("start", "stop", "future"), [(1.6, 1.0, 0.85), (1.0, 1.6, 1.75)])
def test_adaptation_moves_coverage_toward_nominal_when_errors_drift(
    start: float, stop: float, future: float
) -> None:
    """Errors that keep shrinking (or growing) past the calibration window: plain split conformal
    over-covers (under-covers) the next rows; adapted levels land closer to nominal."""
    rng = np.random.default_rng(11)
    pred, truth = _drifting(rng, 2000, start, stop)
    new_pred, new_truth = _drifting(rng, 40_000, future, future)
    plain = ConformalIntervals(levels=(0.8, 0.95)).fit(truth, pred)
    adapted = ConformalIntervals(levels=(0.8, 0.95), adaptation=0.5).fit(truth, pred)
    gains = []
    for level in (0.8, 0.95):
        gaps = []
        for model in (plain, adapted):
            lo, hi = model.interval(new_pred, level)
            gaps.append(abs(np.mean((new_truth >= lo) & (new_truth <= hi)) - level))
        assert gaps[1] < gaps[0], (level, gaps)
        gains.append(gaps[0] - gaps[1])
        moved = adapted.adapted_levels_[level]
        assert (moved < level) if stop < start else (moved > level)
    assert sum(gains) > 0.01, gains
    assert plain.adapted_levels_ == {0.8: 0.8, 0.95: 0.95}


def test_adapted_intervals_still_cover_exchangeable_rows_at_the_stated_rate() -> None:
    rng = np.random.default_rng(5)
    pred, truth = _drifting(rng, 50_000, 1.0, 1.0)
    groups = np.where(rng.uniform(size=50_000) < 0.5, "a", "b")
    truth[groups == "b"] += truth[groups == "b"] - pred[groups == "b"]  # group b twice as noisy
    model = ConformalIntervals(levels=(0.8, 0.95), adaptation=0.25).fit(
        truth[:10_000], pred[:10_000], groups[:10_000]
    )
    for level in (0.8, 0.95):
        lo, hi = model.interval(pred[10_000:], level, groups[10_000:])
        inside = (truth[10_000:] >= lo) & (truth[10_000:] <= hi)
        for g in ("a", "b"):
            assert abs(inside[groups[10_000:] == g].mean() - level) < 0.015


def test_adaptation_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="adaptation"):
        ConformalIntervals(adaptation=-0.1).fit(np.zeros(30), np.zeros(30))
    with pytest.raises(ConfigError, match="adaptation"):
        ForecastOptions(adaptation=5.0)
    with pytest.raises(ConfigError, match="calibration_half_life"):
        ForecastOptions(calibration_half_life=0.0)
