from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.analysis.planted_frames import NOW, Planted, build_channel, combine
from tubescope.analysis.benchmark import BENCHMARK_KPIS, benchmark_channel
from tubescope.analysis.summary import fleet_kpis
from tubescope.errors import ChannelNotFound, DataQualityError


def _fleet(values: dict[str, list[float]]) -> pd.DataFrame:
    table = pd.DataFrame({"channel_id": [f"UC{i}" for i in range(len(next(iter(values.values()))))]})
    for name, _ in BENCHMARK_KPIS:
        table[name] = values.get(name, [np.nan] * len(table))
    return table


def test_percentile_is_the_share_of_peers_below_with_ties_half() -> None:
    fleet = _fleet({"views_per_subscriber": [0.5, 0.1, 0.2, 0.5, 0.9], "engagement_median": [0.04] * 5})
    result = benchmark_channel(fleet, "UC0")
    vps = result.kpi("views_per_subscriber")
    assert vps.percentile == pytest.approx((2 + 0.5) / 4 * 100)  # two below, one tie, among 4 peers
    assert vps.peer_n == 4 and vps.peer_median == pytest.approx(0.35) and vps.derived
    assert result.kpi("engagement_median").percentile == pytest.approx(50.0)
    growth = result.kpi("view_growth_28d")
    assert growth.value is None and growth.percentile is None and growth.peer_n == 0
    json.dumps(result.to_dict(), allow_nan=False)


def test_peer_set_can_be_restricted() -> None:
    fleet = _fleet({"views_per_subscriber": [0.5, 0.1, 0.2, 0.6, 0.9]})
    result = benchmark_channel(fleet, "UC0", peer_ids=["UC3", "UC4", "UC0"])
    assert result.peer_count == 2 and result.kpi("views_per_subscriber").percentile == 0.0


def test_size_normalisation_ranks_a_small_efficient_channel_above_a_big_one() -> None:
    # Same audience engagement per subscriber, very different size: the small one gets more views per sub.
    big = build_channel(
        Planted(channel_id="UCbig00000000000000000001", base_views=20_000, subscribers=2_000_000)
    )
    small = build_channel(
        Planted(channel_id="UCsmall000000000000000002", base_views=20_000, subscribers=20_000)
    )
    mid = build_channel(
        Planted(channel_id="UCmid000000000000000000003", base_views=5_000, subscribers=100_000)
    )
    fleet = fleet_kpis(combine(big, small, mid), NOW)
    assert (
        benchmark_channel(fleet, "UCsmall000000000000000002").kpi("views_per_subscriber").percentile == 100.0
    )
    assert benchmark_channel(fleet, "UCbig00000000000000000001").kpi("views_per_subscriber").percentile == 0.0


def test_unknown_channel_and_bad_table_raise_typed_errors() -> None:
    with pytest.raises(ChannelNotFound):
        benchmark_channel(_fleet({"views_per_subscriber": [1.0]}), "UCnope")
    with pytest.raises(DataQualityError, match="engagement_median"):
        benchmark_channel(pd.DataFrame({"channel_id": ["UC0"], "views_per_subscriber": [1.0]}), "UC0")
