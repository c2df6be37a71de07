from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.analysis.planted_frames import (
    EMULATOR_NOW,
    EMULATOR_SEEDS,
    NOW,
    Planted,
    build_channel,
    emulator_frames,
)
from tubescope.analysis.outliers import OutlierOptions, analyze_outliers
from tubescope.analysis.same_age import analyze_same_age
from tubescope.analysis.summary import OUTLIER_AGES
from tubescope.errors import ConfigError


def test_planted_breakouts_are_flagged_with_high_precision_and_recall() -> None:
    planted: set[str] = set()
    flagged: set[str] = set()
    for seed in range(4):
        channel = build_channel(Planted(seed=seed, n_videos=200, noise_sigma=0.4, breakout_share=0.03))
        frames = channel.frames
        perf = analyze_same_age(frames.videos, frames.video_snapshots, NOW).performance_index()
        result = analyze_outliers(frames.videos, perf)
        planted |= set(channel.breakout_ids)
        flagged |= set(result.breakouts())
    true_positive = len(planted & flagged)
    assert len(planted) >= 15
    assert true_positive / len(flagged) >= 0.9  # precision
    assert true_positive / len(planted) >= 0.9  # recall


def test_each_flag_says_which_method_score_and_threshold() -> None:
    channel = build_channel(Planted(seed=11, breakout_share=0.03))
    frames = channel.frames
    perf = analyze_same_age(frames.videos, frames.video_snapshots, NOW).performance_index()
    result = analyze_outliers(frames.videos, perf)
    assert set(result.methods_run) == {"robust_z", "iqr", "isolation_forest"}
    assert result.outliers
    for outlier in result.outliers:
        assert outlier.flags and outlier.reason and outlier.basis.startswith("same_age_")
        for flag in outlier.flags:
            assert flag.method in outlier.reason and flag.rule
            if flag.method == "robust_z":
                assert abs(flag.score) > flag.threshold >= OutlierOptions().robust_z_threshold
    top = result.outliers[0]
    assert top.video_id in channel.breakout_ids and top.direction == "high" and top.consensus
    payload = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert payload["derived"] is True and payload["outliers"][0]["flags"][0]["threshold"] > 0


def test_steady_channel_growth_is_not_read_as_outliers() -> None:
    # Views triple over the year with no breakouts: without detrending the newest videos stand out.
    rng = np.random.default_rng(2)
    n = 200
    ids = [f"g{i:010d}" for i in range(n)]
    videos = pd.DataFrame(
        {
            "video_id": ids,
            "published_at": pd.date_range("2025-01-01", periods=n, freq="36h", tz="UTC"),
            "video_format": "long",
            "view_count": pd.array(
                np.round(1000 * np.exp(np.linspace(0, 2.5, n)) * rng.lognormal(0, 0.2, n)), dtype="Int64"
            ),
            "like_count": pd.array(np.full(n, 10), dtype="Int64"),
            "comment_count": pd.array(np.full(n, 1), dtype="Int64"),
        }
    )
    result = analyze_outliers(videos)
    assert result.breakouts() == () and result.underperformers() == ()
    loose = OutlierOptions(detrend_window=0, robust_z_threshold=1.5, alpha=0.99)
    naive = analyze_outliers(videos, options=loose)
    assert naive.breakouts()  # the same data, undetrended and with a loose threshold, cries wolf


def test_too_few_videos_skips_rather_than_fails() -> None:
    videos = pd.DataFrame(
        {
            "video_id": ["a", "b"],
            "video_format": ["long", "long"],
            "view_count": pd.array([10, 1000], dtype="Int64"),
            "like_count": pd.array([1, None], dtype="Int64"),
            "comment_count": pd.array([None, None], dtype="Int64"),
        }
    )
    result = analyze_outliers(videos)
    assert result.outliers == () and result.skipped and "fewer than" in result.skipped[0]


@pytest.mark.parametrize(
    "kwargs", [{"isolation_contamination": 0.9}, {"min_agreement": 4}, {"iqr_k": 0}, {"alpha": 1.0}]
)
def test_invalid_options_raise_config_error(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        OutlierOptions(**kwargs)  # type: ignore[arg-type]


def test_breakouts_planted_by_the_emulator_are_recovered() -> None:
    planted: set[str] = set()
    flagged: set[str] = set()
    for seed in EMULATOR_SEEDS:
        world, frames = emulator_frames(seed)
        for channel_id in world.channel_ids():
            videos = frames.videos[frames.videos["channel_id"] == channel_id].reset_index(drop=True)
            snaps = frames.video_snapshots[frames.video_snapshots["channel_id"] == channel_id]
            perf = analyze_same_age(videos, snaps, EMULATOR_NOW).performance_index(preferred=OUTLIER_AGES)
            result = analyze_outliers(videos, perf, now=EMULATOR_NOW)
            planted |= set(world.channel_truth(channel_id).breakout_video_ids) & set(videos["video_id"])
            flagged |= set(result.breakouts())
    true_positive = len(planted & flagged)
    assert len(planted) >= 30
    assert true_positive / len(flagged) >= 0.9, (true_positive, len(flagged))  # precision
    assert true_positive / len(planted) >= 0.9, (true_positive, len(planted))  # recall


def test_the_isolation_forest_is_fitted_once_per_data_within_a_run() -> None:
    """A second analysis of the same videos (the report after the analysis) reuses the fit."""
    from tubescope.analysis import outliers as module

    rng = np.random.default_rng(3)
    matrix = rng.normal(size=(300, 3))
    first = module._forest_scores(matrix, 0)
    kept = len(module._SCORES)
    first[:] = 0.0  # a caller's change must not reach the kept scores
    again = module._forest_scores(matrix, 0)
    assert len(module._SCORES) == kept
    assert np.all(again < 0)  # IsolationForest scores are negative; the zeros did not stick
    assert len({module._forest_scores(matrix, 1).tobytes(), again.tobytes()}) == 2  # seed is part of the key


def _lifetime_scores_one_by_one(
    views: np.ndarray, fmt: np.ndarray, age_days: np.ndarray, candidates: np.ndarray, opts: OutlierOptions
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same-age lifetime scores the plain way: each candidate's peers and their median."""
    scores = np.full(views.size, np.nan)
    judged = np.zeros(views.size, dtype=bool)
    early = np.zeros(views.size, dtype=bool)
    known = np.isfinite(views) & np.isfinite(age_days) & (age_days > 0)
    for i in np.flatnonzero(candidates & known):
        peers = [
            j
            for j in np.flatnonzero((fmt == fmt[i]) & known)
            if j != i and age_days[i] / opts.age_band <= age_days[j] <= age_days[i] * opts.age_band
        ]
        no_older = int(((fmt == fmt[i]) & known & (age_days <= age_days[i] * opts.age_band)).sum())
        old_enough = age_days[i] >= opts.min_lifetime_age_days
        if old_enough and len(peers) >= opts.min_peers:
            scores[i] = (views[i] + 1.0) / (float(np.median(views[peers])) + 1.0)
            judged[i] = True
        elif not old_enough or no_older <= opts.min_peers:
            early[i] = True
    return scores, judged, early


@pytest.mark.parametrize("seed", range(6))
def test_same_age_lifetime_scores_equal_the_one_by_one_medians(seed: int) -> None:
    from tubescope.analysis.outliers import _same_age_lifetime_scores

    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 400))
    views = np.round(rng.lognormal(8, 2, n))  # ties among the views, even and odd peer counts
    views[rng.random(n) < 0.05] = np.nan
    age_days = np.round(rng.uniform(0, 200, n), int(rng.integers(0, 3)))  # ties among the ages
    age_days[rng.random(n) < 0.03] = np.nan
    fmt = rng.choice(np.array(["long", "short", "live"], dtype=object), n)
    candidates = rng.random(n) < 0.7
    opts = OutlierOptions(age_band=float(rng.choice([1.2, 1.5, 3.0])), min_peers=int(rng.integers(1, 8)))
    got = _same_age_lifetime_scores(views, fmt, age_days, candidates, opts)
    expected = _lifetime_scores_one_by_one(views, fmt, age_days, candidates, opts)
    np.testing.assert_array_equal(got[0], expected[0])  # bit for bit, NaN where not judged
    np.testing.assert_array_equal(got[1], expected[1] & candidates)
    np.testing.assert_array_equal(got[2], expected[2] & candidates)


@pytest.mark.parametrize(("max_cells", "loop_above"), [(3, 256), (1 << 21, 256), (1 << 21, 0), (50, 4)])
def test_run_medians_without_self_equal_numpy_medians(max_cells: int, loop_above: int) -> None:
    from tubescope.analysis.outliers import _run_medians_without_self

    rng = np.random.default_rng(max_cells + loop_above)
    values = np.round(rng.normal(size=200) * 5)  # ties
    lo = rng.integers(0, 150, 120)
    hi = lo + rng.integers(2, 50, 120)
    own = lo + (rng.random(120) * (hi - lo)).astype(np.int64)
    got = _run_medians_without_self(values, lo, hi, own, max_cells=max_cells, loop_above=loop_above)
    expected = [float(np.median(np.delete(values[a:b], c - a))) for a, b, c in zip(lo, hi, own, strict=True)]
    assert got.tolist() == expected
