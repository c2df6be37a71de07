from __future__ import annotations

import numpy as np

from tubescope.analysis.conformal import conformal_quantile


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
