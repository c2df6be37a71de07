from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from tests.analysis.pandas_benchmark import pandas_benchmark
from tests.analysis.planted_frames import NOW, Planted, build_channel, combine
from tubescope.analysis.benchmark import (
    BENCHMARK_KPIS,
    PeerTable,
    benchmark_channel,
    compare_peers,
    peer_table,
)
from tubescope.analysis.summary import fleet_kpis
from tubescope.errors import ChannelNotFound, DataQualityError

NOW_REAL = datetime(2026, 2, 15, 12, tzinfo=UTC)


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


def _random_fleet(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """KPI values with ties, NaN, infinities, a hidden count and stale channels."""
    table = pd.DataFrame({"channel_id": [f"UCr{i:03d}" for i in range(n)]})
    for name, _ in BENCHMARK_KPIS:
        values = rng.choice([0.0, 0.1, 0.25, 0.5, 1.0, np.nan, np.inf, -np.inf, *rng.random(4)], size=n)
        table[name] = values
    table["subscriber_count"] = pd.array(
        [None if rng.random() < 0.2 else int(rng.integers(0, 10**6)) for _ in range(n)], dtype="Int64"
    )
    table["as_of"] = pd.Timestamp("2026-02-15", tz="UTC") - pd.to_timedelta(rng.integers(0, 20, n), unit="D")
    return table


def test_the_vectorised_benchmark_equals_the_pandas_computation_on_random_fleets() -> None:
    rng = np.random.default_rng(7)
    for trial in range(40):
        fleet = _random_fleet(rng, int(rng.integers(2, 12)))
        ids = list(fleet["channel_id"])
        peer_ids = None if trial % 3 == 0 else [str(i) for i in rng.choice(ids, size=min(4, len(ids)))]
        reference = None if trial % 2 else datetime(2026, 2, 20, tzinfo=UTC)
        for channel_id in ids:
            expected = pandas_benchmark(fleet, channel_id, peer_ids, reference)
            assert benchmark_channel(fleet, channel_id, peer_ids, reference=reference) == expected


def test_a_comparison_of_combined_peer_rows_equals_one_over_the_concatenated_fleet() -> None:
    rng = np.random.default_rng(11)
    fleet = _random_fleet(rng, 6)
    ids = list(fleet["channel_id"])[:4]
    rows = [peer_table(fleet[fleet["channel_id"] == cid]) for cid in ids]
    expected = [pandas_benchmark(fleet[fleet["channel_id"].isin(ids)], cid, ids, None) for cid in ids]
    assert compare_peers(PeerTable.combine(rows), ids) == expected


def test_the_vectorised_benchmark_equals_the_pandas_computation_on_real_channels() -> None:
    from tests.report.real_frames import busiest_channels, real_frames

    ids = busiest_channels(6)
    fleet = fleet_kpis(real_frames(ids), NOW_REAL)
    for channel_id in ids:
        for peers in (None, ids[:3], ids[2:]):
            expected = pandas_benchmark(fleet, channel_id, peers, None)
            assert benchmark_channel(fleet, channel_id, peers) == expected
