"""Bootstrap medians drawn exactly, without materialising the resamples.

The classic bootstrap of a median draws ``B`` resamples of ``n`` values each (``B x n`` indices)
and takes each resample's median: ``O(B n log n)`` time and ``B x n`` memory. Its *distribution*
is known in closed form, so the same draws can be made in ``O(n log n + B)``:

- a resample picks indices ``floor(n U_i)`` with ``U_1..U_n`` uniform on (0, 1); over the sorted
  values the ``k``-th smallest pick is ``sorted[floor(n U_(k))]``, because ``floor`` is monotone;
- the ``k``-th order statistic of ``n`` uniforms is ``Beta(k, n - k + 1)``;
- given ``U_(k) = u``, the next one is ``u + (1 - u) Beta(1, n - k)`` (the smallest of the
  ``n - k`` uniforms left on ``(u, 1)``), which gives the second middle value when ``n`` is even.

So each draw below has exactly the distribution of ``np.median(values[rng.integers(0, n, n)])``
(the sorted-resampling bootstrap); only the random stream differs. ``tests/analysis/test_resample``
checks the distributions and the percentile CIs against the materialised bootstrap.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tubescope.errors import DataQualityError

FloatArray = npt.NDArray[np.float64]


def bootstrap_medians(values: npt.ArrayLike, n_draws: int, rng: np.random.Generator) -> FloatArray:
    """``n_draws`` bootstrap medians of ``values`` (non-empty, finite), each an exact draw."""
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    n = ordered.size
    if n == 0:
        raise DataQualityError("bootstrap_medians needs at least one value")
    k = (n + 1) // 2 if n % 2 else n // 2
    lower = rng.beta(k, n - k + 1, size=n_draws)
    low_index = np.minimum((lower * n).astype(np.int64), n - 1)
    if n % 2:
        return ordered[low_index]
    upper = lower + (1.0 - lower) * rng.beta(1, n - k, size=n_draws)
    high_index = np.maximum(np.minimum((upper * n).astype(np.int64), n - 1), low_index)
    return np.asarray((ordered[low_index] + ordered[high_index]) / 2.0, dtype=np.float64)
