"""The pandas computation ``benchmark_channel`` replaced (before the vectorised :class:`PeerTable`),
kept as the independent reference the new one must equal (tests) and the peer it is timed against
(``benchmarks/service_misses.py``)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from tubescope.analysis.benchmark import BENCHMARK_KPIS, BenchmarkKpi, BenchmarkResult, percentile_among
from tubescope.analysis.kpis import channel_kpis_from_row


def pandas_benchmark(
    fleet: pd.DataFrame, channel_id: str, peer_ids: list[str] | None, reference: datetime | None
) -> BenchmarkResult:
    """The pandas computation ``benchmark_channel`` replaced, kept as the reference it must equal."""
    table = fleet.set_index(fleet["channel_id"].astype(str))
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
