"""Spearman correlations of video features with views and engagement, BH-corrected.

Each (feature, target) pair uses the videos where both are known. p-values are Spearman's
two-sided t-approximation from scipy; the Benjamini-Hochberg step-up procedure controls the false
discovery rate over every tested pair at once. A constant feature (e.g. no video has an emoji)
cannot be ranked: it is listed with ``rho=None`` and a reason, never as 0. Publish hour is
circular, so a monotone rank correlation only sees "earlier vs later in the UTC day".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special, stats

from tubescope.analysis.engagement import engagement_rates
from tubescope.analysis.features import NUMERIC_FEATURES, JsonMixin, require_columns, video_features

CORRELATION_FEATURES: tuple[str, ...] = tuple(f for f in NUMERIC_FEATURES if f != "publish_weekday")


@dataclass(frozen=True)
class CorrelationCell(JsonMixin):
    """The rank correlation of one feature with one target, with its raw and adjusted p-values."""

    feature: str
    target: str
    n: int
    rho: float | None
    p_value: float | None
    q_value: float | None
    """Benjamini-Hochberg adjusted p-value over all tested pairs."""
    significant: bool
    reason: str | None = None


@dataclass(frozen=True)
class CorrelationResult(JsonMixin):
    """Rank correlations of video features with performance targets, as cells and as a matrix."""

    method: str
    alpha: float
    targets: tuple[str, ...]
    cells: tuple[CorrelationCell, ...]
    matrix_labels: tuple[str, ...]
    matrix: tuple[tuple[float | None, ...], ...]
    """Spearman rho between every pair of features and targets (pairwise complete)."""
    derived: bool = True

    def cell(self, feature: str, target: str) -> CorrelationCell:
        """The cell for ``feature`` against ``target``; raises KeyError when there is none."""
        for c in self.cells:
            if c.feature == feature and c.target == target:
                return c
        raise KeyError((feature, target))


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """BH-adjusted q-values (monotone, capped at 1) in the input order (scipy's implementation)."""
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return p
    q: np.ndarray = stats.false_discovery_control(p, method="bh")
    return q


def spearman_matrix(values: npt.NDArray[np.float64], min_periods: int = 1) -> npt.NDArray[np.float64]:
    """Pairwise-complete Spearman rho between the columns of ``values`` (rows are observations).

    The definition of ``DataFrame.corr(method="spearman", min_periods=...)``: each pair uses the
    rows where both values are finite, ranked (average ties) among those rows; NaN when fewer than
    ``min_periods`` rows remain or a column's ranks are constant. pandas ranks both columns again
    for every pair; here the columns are ranked once per distinct set of complete rows (a channel's
    frame has a handful: most features are never missing), which is ~20x less work on 10k videos.
    """
    data = np.asarray(values, dtype=np.float64)
    k = data.shape[1]
    finite = np.isfinite(data)
    out = np.full((k, k), np.nan)
    pairs_by_rows: dict[bytes, list[tuple[int, int]]] = {}
    for i in range(k):
        for j in range(i, k):
            joint = finite[:, i] & finite[:, j]
            pairs_by_rows.setdefault(np.packbits(joint).tobytes(), []).append((i, j))
    for pairs in pairs_by_rows.values():
        i0, j0 = pairs[0]
        rows = finite[:, i0] & finite[:, j0]
        if int(rows.sum()) < max(min_periods, 1):
            continue
        columns = sorted({c for pair in pairs for c in pair})
        ranks = stats.rankdata(data[rows][:, columns], method="average", axis=0)
        centred = ranks - ranks.mean(axis=0)
        products = centred.T @ centred
        spread = np.sqrt(np.diag(products))
        where = {c: n for n, c in enumerate(columns)}
        for i, j in pairs:
            a, b = where[i], where[j]
            divisor = spread[a] * spread[b]
            if divisor > 0:
                out[i, j] = out[j, i] = products[a, b] / divisor
    return out


def spearman_p_value(rho: float, n: int) -> float:
    """Two-sided p-value of Spearman's ``rho`` over ``n`` pairs by the t approximation with
    ``n - 2`` degrees of freedom: the p-value ``scipy.stats.spearmanr`` reports (tested equal)."""
    dof = n - 2
    r = np.float64(rho)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = r * np.sqrt(np.clip(dof / ((r + 1.0) * (1.0 - r)), 0.0, None))
    return float(2.0 * special.stdtr(dof, -np.abs(t)))


def analyze_correlation(
    videos: pd.DataFrame,
    performance: pd.Series | None = None,
    alpha: float = 0.05,
    min_n: int = 8,
) -> CorrelationResult:
    """Spearman rho of each feature vs ``log_views``, ``engagement_rate`` and ``log_performance``.

    The last target exists only when ``performance`` is given: a positive per-video ratio indexed
    by ``video_id`` (e.g. the same-age score), which removes the age bias of lifetime views.
    """
    require_columns(videos, "videos", ("video_id", "view_count", "like_count", "comment_count"))
    feats = video_features(videos)
    views = pd.to_numeric(videos["view_count"], errors="coerce").to_numpy(dtype=float)
    target_frame = pd.DataFrame(
        {
            "log_views": np.where(views > 0, np.log(np.where(views > 0, views, 1.0)), np.nan),
            "engagement_rate": engagement_rates(videos).to_numpy(dtype=float),
        },
        index=feats.index,
    )
    if performance is not None:
        perf = performance.astype(float).reindex(feats.index).to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            target_frame["log_performance"] = np.where(perf > 0, np.log(perf), np.nan)
    targets = tuple(target_frame.columns)
    combined = pd.concat([feats[list(CORRELATION_FEATURES)], target_frame], axis=1)
    rho_matrix = spearman_matrix(combined.to_numpy(dtype=float), min_periods=min_n)
    position = {str(name): i for i, name in enumerate(combined.columns)}
    cells: list[CorrelationCell] = []
    for feature in CORRELATION_FEATURES:
        f = feats[feature].to_numpy(dtype=float)
        for target in targets:
            t = target_frame[target].to_numpy(dtype=float)
            ok = np.isfinite(f) & np.isfinite(t)
            n = int(ok.sum())
            if n < min_n:
                cells.append(
                    CorrelationCell(feature, target, n, None, None, None, False, f"fewer than {min_n} videos")
                )
            elif np.ptp(f[ok]) == 0 or np.ptp(t[ok]) == 0:
                cells.append(CorrelationCell(feature, target, n, None, None, None, False, "constant values"))
            else:
                # The matrix's rho for the pair (the same rows), so the cell and the chart agree.
                rho = float(rho_matrix[position[feature], position[target]])
                cells.append(CorrelationCell(feature, target, n, rho, spearman_p_value(rho, n), None, False))
    tested = [i for i, c in enumerate(cells) if c.p_value is not None]
    q = benjamini_hochberg(np.array([cells[i].p_value for i in tested], dtype=float))
    for i, qi in zip(tested, q, strict=True):
        c = cells[i]
        cells[i] = CorrelationCell(c.feature, c.target, c.n, c.rho, c.p_value, float(qi), bool(qi < alpha))
    constant = combined.nunique(dropna=True) <= 1
    matrix = pd.DataFrame(rho_matrix, index=combined.columns, columns=combined.columns)
    matrix.loc[constant, :] = np.nan
    matrix.loc[:, constant] = np.nan
    return CorrelationResult(
        method="spearman",
        alpha=alpha,
        targets=targets,
        cells=tuple(cells),
        matrix_labels=tuple(str(c) for c in matrix.columns),
        matrix=tuple(
            tuple(None if not np.isfinite(v) else float(v) for v in row) for row in matrix.to_numpy()
        ),
    )
