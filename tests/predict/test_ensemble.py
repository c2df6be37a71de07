from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import check_estimator

from tubescope.predict.conformal import ConformalIntervals
from tubescope.predict.ensemble import ViewEnsemble


def _data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    X[rng.uniform(size=n) < 0.1, 2] = np.nan
    y = 2.0 * X[:, 0] + np.where(X[:, 1] > 0, 1.0, -1.0) + rng.normal(0, 0.3, n)
    return X, y


def test_ensemble_passes_sklearn_estimator_checks() -> None:
    check_estimator(ViewEnsemble(n_estimators=10, forest_trees=5, n_jobs=1))


def test_contributions_add_up_to_the_prediction_and_point_at_the_signal() -> None:
    X, y = _data(2000)
    model = ViewEnsemble(n_estimators=80, forest_trees=20).fit(X, y)
    contributions = model.contributions(X[:200])
    assert contributions.shape == (200, 5)
    np.testing.assert_allclose(contributions.sum(axis=1), model.predict(X[:200]), atol=1e-4)
    mean_abs = np.abs(contributions[:, :-1]).mean(axis=0)
    assert mean_abs[0] > mean_abs[1] > mean_abs[3]  # x0 carries most signal, x3 none
    assert model.weights_.sum() == pytest.approx(1.0, abs=0.1) and (model.weights_ >= 0).all()


def test_ensemble_beats_each_weak_alternative_on_held_out_rows() -> None:
    X, y = _data(3000, seed=1)
    model = ViewEnsemble(n_estimators=100, forest_trees=20).fit(X[:2000], y[:2000])
    mae = np.mean(np.abs(model.predict(X[2000:]) - y[2000:]))
    assert mae < 0.4  # noise alone gives ~0.24; predicting the mean gives ~1.8


def test_conformal_intervals_cover_exchangeable_data_at_the_stated_rate() -> None:
    rng = np.random.default_rng(7)
    noise = rng.standard_t(df=4, size=40_000)  # heavy tails: no Gaussian assumption
    pred = rng.normal(size=40_000)
    truth = pred + noise
    groups = np.where(rng.uniform(size=40_000) < 0.5, "a", "b")
    truth[groups == "b"] += noise[groups == "b"]  # group b is twice as noisy
    intervals = ConformalIntervals(levels=(0.8, 0.95)).fit(truth[:10_000], pred[:10_000], groups[:10_000])
    for level in (0.8, 0.95):
        lo, hi = intervals.interval(pred[10_000:], level, groups[10_000:])
        inside = (truth[10_000:] >= lo) & (truth[10_000:] <= hi)
        for g in ("a", "b"):
            assert abs(inside[groups[10_000:] == g].mean() - level) < 0.015


def _saabas_by_decision_path(model: ViewEnsemble, X: np.ndarray) -> np.ndarray:
    """The forest's path attributions computed independently: each tree's decision path, node by node."""
    out = np.zeros((X.shape[0], X.shape[1] + 1))
    trees = model.forest_.estimators_
    for estimator in trees:
        tree = estimator.tree_
        paths = estimator.decision_path(X.astype(np.float32)).tocsr()
        for row in range(X.shape[0]):
            nodes = paths.indices[paths.indptr[row] : paths.indptr[row + 1]]
            nodes = np.sort(nodes)  # root first: node ids grow down a path
            values = tree.value[nodes, 0, 0]
            for parent, child_value, parent_value in zip(nodes[:-1], values[1:], values[:-1], strict=True):
                out[row, tree.feature[parent]] += (child_value - parent_value) / len(trees)
            out[row, -1] += tree.value[0, 0, 0] / len(trees)
    return out


def test_forest_attributions_match_an_independent_walk_and_do_not_depend_on_the_batch() -> None:
    X, y = _data(1500, seed=4)
    model = ViewEnsemble(n_estimators=30, forest_trees=15).fit(X, y)
    rows = X[:60]
    batch = model._forest_contributions(rows)
    np.testing.assert_allclose(batch, _saabas_by_decision_path(model, rows), rtol=0, atol=1e-12)
    np.testing.assert_allclose(batch.sum(axis=1), model.forest_.predict(rows), rtol=0, atol=1e-9)
    alone = np.vstack([model.contributions(rows[i : i + 1]) for i in range(len(rows))])
    np.testing.assert_allclose(alone, model.contributions(rows), rtol=0, atol=1e-12)
    model.refit(X[::-1], y[::-1])  # new trees: the stacked routes of the old ones must not be reused
    np.testing.assert_allclose(
        model._forest_contributions(rows), _saabas_by_decision_path(model, rows), rtol=0, atol=1e-12
    )


def test_contributions_take_any_matrix_like_input_and_refuse_infinities() -> None:
    X, y = _data(600, seed=5)
    model = ViewEnsemble(n_estimators=20, forest_trees=5).fit(X, y)
    rows = X[:5]
    expected = model.contributions(rows)
    np.testing.assert_array_equal(model.contributions(rows.tolist()), expected)
    np.testing.assert_array_equal(model.contributions(np.asfortranarray(rows)), expected)
    bad = rows.copy()
    bad[0, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        model.contributions(bad)
    with pytest.raises(ValueError, match="features"):
        model.contributions(rows[:, :3])
