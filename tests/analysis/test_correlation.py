from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.multitest import multipletests

from tubescope.analysis.correlation import analyze_correlation, benjamini_hochberg


def _videos(n: int, seed: int, duration_effect: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    duration = rng.uniform(60, 3600, n)
    views = np.round(1000 * (duration / 600) ** duration_effect * rng.lognormal(0, 0.5, n))
    words = ["alpha", "beta", "gamma", "delta"]
    return pd.DataFrame(
        {
            "video_id": [f"v{i:010d}" for i in range(n)],
            "title": [
                " ".join(rng.choice(words, int(rng.integers(1, 8)))) + ("?" if i % 3 else "")
                for i in range(n)
            ],
            "published_at": pd.date_range("2025-01-01", periods=n, freq="17h", tz="UTC"),
            "video_format": "long",
            "duration_seconds": duration,
            "tag_count": rng.integers(0, 15, n),
            "view_count": pd.array(views, dtype="Int64"),
            "like_count": pd.array(np.round(views * rng.uniform(0.01, 0.05, n)), dtype="Int64"),
            "comment_count": pd.array(np.round(views * 0.002), dtype="Int64"),
        }
    )


def test_a_planted_correlation_is_significant_and_noise_features_are_not() -> None:
    videos = _videos(300, seed=1, duration_effect=1.0)
    result = analyze_correlation(videos)
    cell = result.cell("duration_seconds", "log_views")
    assert cell.rho is not None and cell.rho > 0.6 and cell.significant and cell.q_value < 1e-10  # type: ignore[operator]
    rho, p = stats.spearmanr(videos["duration_seconds"], np.log(videos["view_count"].astype(float)))
    assert cell.rho == pytest.approx(rho) and cell.p_value == pytest.approx(p)
    noise = [c for c in result.cells if c.feature in {"tag_count", "title_length", "title_word_count"}]
    assert noise and not any(c.significant for c in noise if c.target == "log_views")


def test_constant_features_are_reported_not_zeroed() -> None:
    result = analyze_correlation(_videos(50, seed=2, duration_effect=0.0))
    emoji = result.cell("title_emoji_count", "log_views")
    assert emoji.rho is None and emoji.reason == "constant values" and not emoji.significant
    index = result.matrix_labels.index("title_emoji_count")
    assert all(v is None for v in result.matrix[index])
    payload = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert payload["method"] == "spearman" and payload["derived"] is True


def test_matrix_is_spearman_and_symmetric() -> None:
    videos = _videos(120, seed=3, duration_effect=0.5)
    result = analyze_correlation(
        videos, performance=pd.Series(1.0 + np.arange(120.0), index=videos["video_id"])
    )
    labels = result.matrix_labels
    assert "log_performance" in labels and result.targets[-1] == "log_performance"
    i, j = labels.index("duration_seconds"), labels.index("log_views")
    assert result.matrix[i][j] == pytest.approx(result.cell("duration_seconds", "log_views").rho)
    assert result.matrix[i][j] == pytest.approx(result.matrix[j][i])
    assert result.matrix[i][i] == pytest.approx(1.0)


def test_benjamini_hochberg_matches_statsmodels() -> None:
    p = np.random.default_rng(4).uniform(0, 0.2, 40) ** 2
    expected = multipletests(p, method="fdr_bh")[1]
    assert np.allclose(benjamini_hochberg(p), expected, rtol=1e-12)
    assert benjamini_hochberg(np.array([])).size == 0


def test_many_null_features_rarely_survive_correction() -> None:
    hits = 0
    for seed in range(10):
        result = analyze_correlation(_videos(80, seed=50 + seed, duration_effect=0.0))
        hits += sum(c.significant for c in result.cells)
    assert hits <= 2


@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=60))
def test_bh_q_values_are_at_least_p_capped_and_order_preserving(p_values: list[float]) -> None:
    p = np.array(p_values)
    q = benjamini_hochberg(p)
    assert np.all(q >= p - 1e-12) and np.all(q <= 1.0)
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(q[order]) >= -1e-12)


def test_spearman_matrix_equals_pandas_pairwise_complete_spearman() -> None:
    from tubescope.analysis.correlation import spearman_matrix

    rng = np.random.default_rng(11)
    for n, min_periods in ((300, 8), (40, 8), (12, 10), (5, 8)):
        frame = pd.DataFrame(
            {
                "dense": rng.normal(size=n),
                "ties": rng.integers(0, 4, n).astype(float),  # heavy ties: average ranks
                "constant": np.full(n, 3.0),
                "gappy": np.where(rng.random(n) < 0.3, np.nan, rng.lognormal(size=n)),
                "other_gaps": np.where(rng.random(n) < 0.5, np.nan, rng.normal(size=n)),
                "infinite": np.where(rng.random(n) < 0.1, np.inf, rng.normal(size=n)),
                "sparse": np.where(rng.random(n) < 0.95, np.nan, rng.normal(size=n)),
            }
        )
        expected = frame.corr(method="spearman", min_periods=min_periods).to_numpy()
        got = spearman_matrix(frame.to_numpy(dtype=float), min_periods=min_periods)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14, equal_nan=True)


def test_cells_give_scipys_spearman_rho_and_p_value() -> None:
    from tubescope.analysis.correlation import spearman_p_value

    rng = np.random.default_rng(5)
    for n in (8, 9, 30, 500):
        x = rng.normal(size=n)
        for y in (x + rng.normal(size=n), rng.integers(0, 3, n).astype(float), -x, x):
            rho, p = stats.spearmanr(x, y)
            assert spearman_p_value(float(rho), n) == pytest.approx(float(p), rel=1e-12, abs=1e-300)
    videos = _videos(200, seed=4, duration_effect=0.5)
    result = analyze_correlation(videos)
    cell = result.cell("duration_seconds", "log_views")
    expected = stats.spearmanr(videos["duration_seconds"], np.log(videos["view_count"].astype(float)))
    assert cell.rho == pytest.approx(float(expected.statistic), rel=1e-12)
    assert cell.p_value == pytest.approx(float(expected.pvalue), rel=1e-10)
    labels = result.matrix_labels
    # One truth: the cell's rho is the matrix's entry for the pair, to the bit.
    assert result.matrix[labels.index("duration_seconds")][labels.index("log_views")] == cell.rho
