"""The exact bootstrap of a median against the materialised one it replaces.

``bootstrap_medians`` draws each bootstrap median from its closed-form distribution instead of
building ``B x n`` resamples. These tests compare it with the materialised bootstrap (written out
here as the reference): the whole distribution (two-sample KS) and the percentile CIs that the
timing and A/B analyses report, which must agree within Monte Carlo error.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tubescope.analysis.abtest import AbTestOptions, compare_views
from tubescope.analysis.resample import bootstrap_medians
from tubescope.errors import DataQualityError

DRAWS = 20_000


def _materialised(values: np.ndarray, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """The textbook bootstrap: resample n values with replacement, take the median, repeat."""
    picks = rng.integers(0, values.size, size=(n_draws, values.size))
    return np.asarray(np.median(values[picks], axis=1), dtype=float)


def _quantile_band(draws: np.ndarray, q: float, z: float = 3.3) -> tuple[float, float]:
    """A distribution-free band for the q-quantile of the law behind ``draws`` (order statistics)."""
    ordered = np.sort(draws)
    b = ordered.size
    spread = z * np.sqrt(b * q * (1 - q))
    low = int(max(0, np.floor(b * q - spread)))
    high = int(min(b - 1, np.ceil(b * q + spread)))
    return float(ordered[low]), float(ordered[high])


@pytest.mark.parametrize(
    ("n", "ties"),
    [(1, False), (2, False), (7, False), (40, False), (41, False), (300, False), (60, True), (61, True)],
)
def test_bootstrap_median_has_the_materialised_distribution(n: int, ties: bool) -> None:
    values = np.random.default_rng(n).lognormal(3.0, 1.0, n)
    if ties:
        values = np.round(values / 10.0)  # many equal values, as in small view counts
    reference = _materialised(values, DRAWS, np.random.default_rng(100 + n))
    exact = bootstrap_medians(values, DRAWS, np.random.default_rng(200 + n))
    if np.ptp(reference) > 0:
        assert stats.ks_2samp(reference, exact).pvalue > 1e-3
    for q in (0.025, 0.5, 0.975):
        low, high = _quantile_band(reference, q)
        assert low <= np.quantile(exact, q) <= high


def test_an_off_by_one_order_statistic_would_be_caught() -> None:
    """The check above has teeth: the next order statistic's law is told apart."""
    values = np.random.default_rng(5).lognormal(3.0, 1.0, 41)
    reference = _materialised(values, DRAWS, np.random.default_rng(6))
    ordered = np.sort(values)
    shifted = ordered[np.minimum((np.random.default_rng(7).beta(22, 20, DRAWS) * 41).astype(int), 40)]
    assert stats.ks_2samp(reference, shifted).pvalue < 1e-3


def test_no_values_is_a_typed_error() -> None:
    with pytest.raises(DataQualityError):
        bootstrap_medians(np.array([]), 10, np.random.default_rng(0))


def test_ab_median_ratio_ci_matches_the_materialised_bootstrap_within_monte_carlo_error() -> None:
    rng = np.random.default_rng(42)
    a = np.round(rng.lognormal(8.0, 1.2, 180))
    b = np.round(rng.lognormal(7.8, 1.2, 230))
    comparison = compare_views(a, b, rng=1, options=AbTestOptions(n_bootstrap=DRAWS))
    stats_ = comparison.statistics
    assert stats_ is not None
    reference_rng = np.random.default_rng(2)
    ratios = _materialised(a, DRAWS, reference_rng) / _materialised(b, DRAWS, reference_rng)
    for q, got in ((0.025, stats_.median_ratio_ci_low), (0.975, stats_.median_ratio_ci_high)):
        low, high = _quantile_band(ratios, q)
        assert got is not None
        assert low <= got <= high
