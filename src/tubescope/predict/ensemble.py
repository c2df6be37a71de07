"""A weighted ensemble of LightGBM, XGBoost (CPU) and a random forest, with additive contributions.

The members are fitted on the training rows; their weights are chosen on validation rows by
non-negative least squares, summing to at most one (so they may shrink the forecast).
:meth:`ViewEnsemble.contributions` returns, for each row, one additive contribution per feature
plus a bias (TreeSHAP for the two boosted members, Saabas path attribution for the forest),
weighted like the predictions, so
``contributions(X).sum(axis=1) == predict(X)`` up to float rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import xgboost as xgb
from scipy.optimize import nnls
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import RandomForestRegressor
from sklearn.utils.validation import check_is_fitted, validate_data

from tubescope.errors import ConfigError

MEMBERS: tuple[str, ...] = ("lightgbm", "xgboost", "forest")

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


class ViewEnsemble(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """Regressor on a numeric feature matrix (NaN allowed) combining three tree ensembles.

    n_estimators:
        Boosting rounds for LightGBM and XGBoost.
    forest_trees:
        Trees in the random forest.
    forest_max_rows:
        Rows each forest tree samples at most (keeps training time flat on millions of rows).
    n_jobs:
        Threads per member. One by default: on a small shared machine, OpenMP threads that wait
        for a busy core make training several times slower than one thread.
    validation_fraction:
        When ``fit`` gets no ``eval_set``, the last fraction of rows (rows are taken to be in time
        order) chooses the weights.
    """

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        forest_trees: int = 100,
        forest_max_rows: int = 50_000,
        min_leaf: int = 40,
        validation_fraction: float = 0.2,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.forest_trees = forest_trees
        self.forest_max_rows = forest_max_rows
        self.min_leaf = min_leaf
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X: Any, y: Any, eval_set: tuple[Any, Any] | None = None) -> ViewEnsemble:
        """Fit the members (early stopping on ``eval_set`` or the newest rows) and their weights."""
        if self.n_estimators < 1 or self.forest_trees < 1:
            raise ConfigError("n_estimators and forest_trees must be at least 1")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ConfigError(f"validation_fraction must be in [0, 1), got {self.validation_fraction}")
        X_arr, y_arr = validate_data(
            self, X, y, ensure_all_finite="allow-nan", y_numeric=True, dtype=np.float64
        )
        y_arr = np.asarray(y_arr, dtype=np.float64)
        if eval_set is not None:
            X_fit, y_fit = X_arr, y_arr
            X_val = validate_data(
                self, eval_set[0], reset=False, ensure_all_finite="allow-nan", dtype=np.float64
            )
            y_val = np.asarray(eval_set[1], dtype=np.float64)
        else:
            n_val = int(len(y_arr) * self.validation_fraction)
            if n_val >= 5 and len(y_arr) - n_val >= 5:
                X_fit, y_fit = X_arr[:-n_val], y_arr[:-n_val]
                X_val, y_val = X_arr[-n_val:], y_arr[-n_val:]
            else:
                X_fit, y_fit, X_val, y_val = X_arr, y_arr, X_arr, y_arr

        min_leaf = max(1, min(self.min_leaf, len(y_fit) // 10))
        self.min_leaf_ = min_leaf
        stop = max(10, self.n_estimators // 10)
        # Huber losses: breakout videos (ten times the usual views) would otherwise dominate the
        # fit. Boosting stops early on the validation rows; the rounds are a ceiling.
        self.lightgbm_ = self._lightgbm(self.n_estimators).fit(
            X_fit,
            y_fit,
            eval_X=(X_val,),
            eval_y=(y_val,),
            eval_metric="l1",
            callbacks=[lgb.early_stopping(stop, verbose=False)],
        )
        self.xgboost_ = self._xgboost(self.n_estimators, early_stopping=stop).fit(
            X_fit, y_fit, eval_set=[(X_val, y_val)], verbose=False
        )
        self.forest_ = self._forest(len(y_fit)).fit(X_fit, y_fit)
        self.forest_.set_params(n_jobs=1)  # one-row predictions are faster without a thread pool
        self._build_forest_attribution()

        member_val = self._member_predictions(X_val)
        weights, _ = nnls(member_val, y_val)
        # Weights summing below one shrink the forecast toward zero, which is the channel baseline
        # when the ensemble models departures from it; above one they are scaled back to one, so
        # a member with almost flat predictions is never amplified.
        total = float(weights.sum())
        if total <= 0:
            weights = np.full(len(MEMBERS), 1.0 / len(MEMBERS))
        elif total > 1:
            weights = weights / total
        self.weights_ = weights
        self.member_validation_mae_ = {
            name: float(np.mean(np.abs(member_val[:, i] - y_val))) for i, name in enumerate(MEMBERS)
        }
        return self

    def _lightgbm(self, rounds: int) -> lgb.LGBMRegressor:
        return lgb.LGBMRegressor(
            objective="huber",
            alpha=1.0,
            n_estimators=rounds,
            learning_rate=self.learning_rate,
            num_leaves=15,
            min_child_samples=self.min_leaf_,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            reg_lambda=1.0,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            verbose=-1,
        )

    def _xgboost(self, rounds: int, early_stopping: int | None = None) -> xgb.XGBRegressor:
        return xgb.XGBRegressor(
            objective="reg:pseudohubererror",
            huber_slope=1.0,
            n_estimators=rounds,
            learning_rate=self.learning_rate,
            max_depth=4,
            min_child_weight=float(max(1, self.min_leaf_ // 4)),
            subsample=0.8,
            colsample_bytree=0.8,
            tree_method="hist",
            eval_metric="mae",
            early_stopping_rounds=early_stopping,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            verbosity=0,
        )

    def _forest(self, n_rows: int) -> RandomForestRegressor:
        # Each tree sees half the rows, at most forest_max_rows: the forest's share of the
        # ensemble is small and its cost grows fastest with rows.
        max_rows = max(1, min(n_rows // 2, self.forest_max_rows))
        return RandomForestRegressor(
            n_estimators=self.forest_trees,
            min_samples_leaf=max(1, self.min_leaf_ // 2),
            max_features=0.5,
            max_samples=max_rows if n_rows >= 20 else None,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )

    def refit(self, X: Any, y: Any) -> ViewEnsemble:
        """Fit the members again on all of ``X``, ``y`` (the newest rows included) with the
        boosting rounds that early stopping chose in :meth:`fit` and the same member weights."""
        check_is_fitted(self, "weights_")
        X_arr, y_arr = validate_data(
            self, X, y, reset=False, ensure_all_finite="allow-nan", y_numeric=True, dtype=np.float64
        )
        y_arr = np.asarray(y_arr, dtype=np.float64)
        lgb_rounds = int(getattr(self.lightgbm_, "best_iteration_", 0) or self.n_estimators)
        best_xgb = getattr(self.xgboost_, "best_iteration", None)
        xgb_rounds = int(best_xgb) + 1 if best_xgb is not None else self.n_estimators
        self.lightgbm_ = self._lightgbm(lgb_rounds).fit(X_arr, y_arr)
        self.xgboost_ = self._xgboost(xgb_rounds).fit(X_arr, y_arr, verbose=False)
        self.forest_ = self._forest(len(y_arr)).fit(X_arr, y_arr)
        self.forest_.set_params(n_jobs=1)
        self._build_forest_attribution()
        return self

    def _build_forest_attribution(self) -> None:
        """For every node of every tree (stacked): its parent, and the value change from the parent
        attributed to the parent's split feature. A leaf's path sums these up to the root."""
        parents, deltas, features, offsets = [], [], [], []
        bias = 0.0
        offset = 0
        for estimator in self.forest_.estimators_:
            tree = estimator.tree_
            values = tree.value[:, 0, 0].astype(np.float64)
            parent = np.full(tree.node_count, -1, dtype=np.int64)
            internal = np.flatnonzero(tree.children_left >= 0)
            parent[tree.children_left[internal]] = internal
            parent[tree.children_right[internal]] = internal
            has_parent = parent >= 0
            delta = np.zeros(tree.node_count)
            delta[has_parent] = values[has_parent] - values[parent[has_parent]]
            feature = np.where(has_parent, tree.feature[np.maximum(parent, 0)], 0).astype(np.int64)
            parents.append(np.where(has_parent, parent + offset, -1))
            deltas.append(delta)
            features.append(feature)
            offsets.append(offset)
            offset += tree.node_count
            bias += float(values[0])
        n_trees = len(self.forest_.estimators_)
        self.forest_parent_ = np.concatenate(parents)
        self.forest_delta_ = np.concatenate(deltas) / n_trees
        self.forest_feature_ = np.concatenate(features)
        self.forest_offsets_ = np.asarray(offsets, dtype=np.int64)
        self.forest_bias_ = bias / n_trees
        self._routes: _ForestRoutes | None = None  # rebuilt from the new trees on first use

    def _forest_routes(self) -> _ForestRoutes:
        """Every tree's split rules, stacked (built on first use: stored models predate it)."""
        routes: _ForestRoutes | None = getattr(self, "_routes", None)
        if routes is None:
            routes = _ForestRoutes.build(self.forest_.estimators_, self.forest_offsets_)
            self._routes = routes
        return routes

    def _forest_contributions(self, X: FloatArray) -> FloatArray:
        """Saabas path attributions of the forest: all trees descended at once, one level per
        step, each step's value change credited to the split feature. Rows are routed as
        ``Tree.apply`` routes them (float32 values, missing values to the learned side)."""
        routes = self._forest_routes()
        n, width = X.shape[0], X.shape[1] + 1
        values = np.ascontiguousarray(X, dtype=np.float32).astype(np.float64)
        nodes = np.tile(self.forest_offsets_, n)
        rows = np.repeat(np.arange(n, dtype=np.int64), self.forest_offsets_.size)
        out = np.zeros(n * width)
        inner = ~routes.leaf[nodes]
        nodes, rows = nodes[inner], rows[inner]
        # Each level's changes are summed per (row, feature) by one bincount: the same additions
        # in the same order for a row alone or in a batch.
        while nodes.size:
            x = values[rows, routes.feature[nodes]]
            left = np.where(np.isnan(x), routes.missing_left[nodes], x <= routes.threshold[nodes])
            child = np.where(left, routes.left[nodes], routes.right[nodes])
            out += np.bincount(
                rows * width + self.forest_feature_[child],
                weights=self.forest_delta_[child],
                minlength=n * width,
            )
            inner = ~routes.leaf[child]
            nodes, rows = child[inner], rows[inner]
        out = out.reshape(n, width)
        out[:, -1] = self.forest_bias_
        return out

    def _member_predictions(self, X: FloatArray) -> FloatArray:
        return np.column_stack(
            [
                self.lightgbm_.predict(X),
                self.xgboost_.predict(X),
                self.forest_.predict(X),
            ]
        ).astype(np.float64)

    def predict(self, X: Any) -> FloatArray:
        """The weighted sum of the members' predictions."""
        check_is_fitted(self, "weights_")
        X_arr = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        return np.asarray(self._member_predictions(X_arr) @ self.weights_, dtype=np.float64)

    def _checked(self, X: Any) -> FloatArray:
        """``X`` as a float64 matrix of the fitted width: as it is when it already is one without
        infinities (sklearn's validation costs more than one row's trees), else validated."""
        if (
            isinstance(X, np.ndarray)
            and X.dtype == np.float64
            and X.ndim == 2
            and X.shape[0] > 0
            and X.shape[1] == self.n_features_in_
            and not np.isinf(X).any()
        ):
            return np.ascontiguousarray(X)
        checked: FloatArray = validate_data(
            self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64
        )
        return checked

    def contributions(self, X: Any) -> FloatArray:
        """Per-row additive contributions, shape ``(n, n_features + 1)``; the last column is the bias."""
        check_is_fitted(self, "weights_")
        X_arr = self._checked(X)
        # One thread for small batches: starting a pool costs more than a handful of rows.
        threads = 1 if X_arr.shape[0] < 1000 else self.n_jobs
        # The boosters directly, not the sklearn wrappers: for one row the wrappers' parameter
        # handling and validation cost more than the trees (same trees, same iterations).
        lgb_part = np.asarray(
            self.lightgbm_.booster_.predict(X_arr, pred_contrib=True, num_threads=threads),
            dtype=np.float64,
        )
        booster = self.xgboost_.get_booster()
        # The booster was trained with n_jobs threads. Changing that makes XGBoost configure
        # itself again on the next predict (a tenth of a millisecond), so only when it differs.
        if threads != self.n_jobs:
            booster.set_param({"nthread": threads})
        try:
            matrix = xgb.DMatrix(X_arr, missing=np.nan, nthread=threads)
            xgb_part = np.asarray(
                booster.predict(matrix, pred_contribs=True, validate_features=False), dtype=np.float64
            )
        finally:
            if threads != self.n_jobs:
                booster.set_param({"nthread": self.n_jobs})
        forest_part = self._forest_contributions(X_arr)
        w = self.weights_
        return np.asarray(w[0] * lgb_part + w[1] * xgb_part + w[2] * forest_part, dtype=np.float64)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


@dataclass(frozen=True)
class _ForestRoutes:
    """The split rules of every tree of a forest, stacked with the node offsets of
    ``forest_offsets_`` (a leaf's children are itself)."""

    left: np.ndarray[Any, np.dtype[np.int64]]
    right: np.ndarray[Any, np.dtype[np.int64]]
    feature: np.ndarray[Any, np.dtype[np.int64]]
    threshold: FloatArray
    missing_left: np.ndarray[Any, np.dtype[np.bool_]]
    leaf: np.ndarray[Any, np.dtype[np.bool_]]

    @classmethod
    def build(cls, estimators: Any, offsets: np.ndarray[Any, Any]) -> _ForestRoutes:
        """Stack the trees of ``estimators``, tree ``k``'s nodes from ``offsets[k]`` on."""
        parts: dict[str, list[np.ndarray[Any, Any]]] = {name: [] for name in ("left", "right", "feature")}
        thresholds, missing, leaves = [], [], []
        for estimator, offset in zip(estimators, offsets, strict=True):
            tree = estimator.tree_
            own = np.arange(tree.node_count, dtype=np.int64) + offset
            leaf = tree.children_left < 0
            parts["left"].append(np.where(leaf, own, tree.children_left + offset))
            parts["right"].append(np.where(leaf, own, tree.children_right + offset))
            parts["feature"].append(np.where(leaf, 0, tree.feature))
            thresholds.append(tree.threshold)
            missing.append(tree.missing_go_to_left)
            leaves.append(leaf)
        return cls(
            left=np.concatenate(parts["left"]).astype(np.int64),
            right=np.concatenate(parts["right"]).astype(np.int64),
            feature=np.concatenate(parts["feature"]).astype(np.int64),
            threshold=np.concatenate(thresholds).astype(np.float64),
            missing_left=np.concatenate(missing).astype(bool),
            leaf=np.concatenate(leaves),
        )
