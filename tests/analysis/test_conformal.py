from __future__ import annotations

import numpy as np
import pytest

from tubescope.analysis.conformal import adaptive_level, conformal_quantile


def test_conformal_quantile_is_the_finite_sample_rank() -> None:
    residuals = np.arange(1, 20, dtype=float)  # n = 19
    assert conformal_quantile(residuals, 0.9) == 18.0  # ceil(20 * 0.9) = 18th smallest
    assert conformal_quantile(residuals[:5], 0.95) == np.inf
    assert conformal_quantile(np.zeros(0), 0.8) == np.inf


def test_equal_weights_give_the_plain_rank_and_recent_weights_follow_recent_rows() -> None:
    rng = np.random.default_rng(3)
    residuals = rng.exponential(size=400)
    assert conformal_quantile(residuals, 0.8, np.ones(400)) == conformal_quantile(residuals, 0.8)
    # Older rows small, newer rows large: weighting the newest pulls the quantile toward theirs.
    drifting = np.r_[rng.exponential(1.0, 200), rng.exponential(3.0, 200)]
    weights = np.r_[np.full(200, 0.01), np.ones(200)]
    newest = conformal_quantile(drifting[200:], 0.8)
    assert abs(conformal_quantile(drifting, 0.8, weights) - newest) < 0.1 * newest
    assert conformal_quantile(drifting, 0.8) < newest


def test_adaptive_level_without_a_rate_is_the_nominal_level() -> None:
    residuals = np.random.default_rng(0).exponential(size=300)
    assert adaptive_level(residuals, 0.9, 0.0) == 0.9


def test_adaptive_level_stays_near_nominal_on_exchangeable_rows() -> None:
    for seed in range(5):
        residuals = np.random.default_rng(seed).exponential(size=2000)
        for level in (0.8, 0.95):
            assert abs(adaptive_level(residuals, level, 0.25 / 1000) - level) < 0.01


def test_adaptive_level_narrows_when_errors_shrink_and_widens_when_they_grow() -> None:
    rng = np.random.default_rng(1)
    older, newer = rng.exponential(1.0, 500), rng.exponential(1.0, 500)
    shrinking = np.r_[older, 0.6 * newer]
    growing = np.r_[older, 1.6 * newer]
    for level in (0.8, 0.95):
        narrower = adaptive_level(shrinking, level, 0.25 / 500)
        wider = adaptive_level(growing, level, 0.25 / 500)
        assert narrower < level - 0.005
        assert wider > level + 0.005
        # However far the errors move, the miss rate asked for stays within half and twice nominal.
        collapsing, exploding = np.r_[older, 0.01 * newer], np.r_[older, 100 * newer]
        assert adaptive_level(collapsing, level, 0.05) == pytest.approx(1 - 2 * (1 - level))
        for value in (adaptive_level(exploding, level, rate) for rate in (0.001, 0.01, 0.05, 0.5)):
            assert 1 - 2 * (1 - level) - 1e-12 <= value <= 1 - (1 - level) / 2 + 1e-12


def test_adaptive_level_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="level"):
        adaptive_level(np.ones(10), 1.2, 0.01)
    with pytest.raises(ValueError, match="rate"):
        adaptive_level(np.ones(10), 0.9, -0.01)
