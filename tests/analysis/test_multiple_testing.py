"""Holm's adjustment against statsmodels' ``multipletests``, the reference implementation."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from tubescope.analysis.multiple_testing import holm


def test_holm_equals_statsmodels_on_random_p_values_with_ties() -> None:
    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 40):
        raw = np.round(rng.uniform(0, 1, n) ** 3, 2)  # rounded: ties, zeros and values near 1
        assert holm(raw) == pytest.approx(multipletests(raw, method="holm")[1], abs=1e-15)


def test_holm_keeps_the_input_order_and_accepts_a_list() -> None:
    adjusted = holm([0.04, 0.01, 0.03])
    # Sorted: 0.01*3 = 0.03, then max(0.03, 0.03*2) = 0.06, then max(0.06, 0.04*1) = 0.06.
    assert adjusted.tolist() == pytest.approx([0.06, 0.03, 0.06])
    assert holm([]).size == 0
