"""Where a channel stands among its peers, on KPIs normalised for channel size.

Input is a fleet KPI table (one row per channel, as built by :func:`tubescope.analysis.summary.fleet_kpis`
or its DuckDB twin). Raw views and subscribers mostly measure size; the benchmark therefore ranks
ratios: median views per video per subscriber, engagement, uploads per week and growth rates.
A percentile is the share of peers below the channel (ties count half), excluding the channel itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from tubescope.analysis.features import JsonMixin, require_columns
from tubescope.analysis.kpis import ChannelKpis, channel_kpis_from_row
from tubescope.errors import ChannelNotFound

BENCHMARK_KPIS: tuple[tuple[str, str], ...] = (
    ("views_per_subscriber", "median latest views per video / subscribers"),
    ("engagement_median", "median (likes + comments) / views per video, hidden likes excluded"),
    ("uploads_per_week_90d", "uploads in the 90 days to the channel's last observation / (90/7)"),
    ("subscriber_growth_28d", "subscriber gain over 28 days / subscribers 28 days ago"),
    ("view_growth_28d", "channel view gain over 28 days / channel views 28 days ago"),
)


@dataclass(frozen=True)
class BenchmarkKpi(JsonMixin):
    """One KPI of the subject channel placed among its peers (value, percentile, peer median)."""

    name: str
    definition: str
    value: float | None
    percentile: float | None
    """0-100: share of peers with a lower value (ties count half); None when not comparable."""
    peer_n: int
    peer_median: float | None
    higher_is_better: bool = True
    derived: bool = True


@dataclass(frozen=True)
class BenchmarkResult(JsonMixin):
    """The subject channel's KPIs benchmarked against its peer channels."""

    channel_id: str
    peer_count: int
    kpis: tuple[BenchmarkKpi, ...]
    derived: bool = True
    figures: ChannelKpis | None = None
    """The channel's key figures (as of its own last observation, with its staleness)."""
    title: str | None = None

    def kpi(self, name: str) -> BenchmarkKpi:
        """The benchmarked KPI called ``name``; raises KeyError when there is none."""
        for k in self.kpis:
            if k.name == name:
                return k
        raise KeyError(name)


def percentile_among(value: float, peers: np.ndarray) -> float:
    """The percentile (0–100) of ``value`` among ``peers``."""
    below = float(np.sum(peers < value))
    ties = float(np.sum(peers == value))
    return (below + 0.5 * ties) / len(peers) * 100.0


def benchmark_channel(
    fleet: pd.DataFrame,
    channel_id: str,
    peer_ids: Sequence[str] | None = None,
    *,
    reference: datetime | None = None,
) -> BenchmarkResult:
    """Percentiles of ``channel_id``'s KPIs among ``peer_ids`` (default: every other channel in ``fleet``).

    ``reference`` is the newest observation staleness is judged against (default: the newest
    ``as_of`` in ``fleet``, when it has that column).
    """
    require_columns(fleet, "fleet KPIs", ("channel_id", *(k for k, _ in BENCHMARK_KPIS)))
    table = fleet.set_index(fleet["channel_id"].astype(str))
    if channel_id not in table.index:
        raise ChannelNotFound(f"channel {channel_id} is not in the fleet KPI table")
    peers = table.drop(index=channel_id)
    if peer_ids is not None:
        peers = peers[peers.index.isin([p for p in peer_ids if p != channel_id])]
    own = table.loc[channel_id]
    kpis = []
    for name, definition in BENCHMARK_KPIS:
        raw = pd.to_numeric(peers[name], errors="coerce").to_numpy(dtype=float)
        values = raw[np.isfinite(raw)]
        mine = pd.to_numeric(pd.Series([own[name]]), errors="coerce").astype(float).iloc[0]
        comparable = bool(np.isfinite(mine)) and len(values) > 0
        kpis.append(
            BenchmarkKpi(
                name=name,
                definition=definition,
                value=float(mine) if np.isfinite(mine) else None,
                percentile=percentile_among(float(mine), values) if comparable else None,
                peer_n=len(values),
                peer_median=float(np.median(values)) if len(values) else None,
            )
        )
    if reference is None and "as_of" in fleet.columns and fleet["as_of"].notna().any():
        reference = pd.Timestamp(fleet["as_of"].max()).to_pydatetime()
    figures = (
        channel_kpis_from_row({str(k): v for k, v in own.to_dict().items()}, reference)
        if "as_of" in fleet.columns
        else None
    )
    return BenchmarkResult(channel_id=channel_id, peer_count=len(peers), kpis=tuple(kpis), figures=figures)
