"""Where a channel stands among its peers, on KPIs normalised for channel size.

Input is a fleet KPI table (one row per channel, as built by :func:`tubescope.analysis.summary.fleet_kpis`
or its DuckDB twin). Raw views and subscribers mostly measure size; the benchmark therefore ranks
ratios: median views per video per subscriber, engagement, uploads per week and growth rates.
A percentile is the share of peers below the channel (ties count half), excluding the channel itself.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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


@dataclass(frozen=True)
class PeerTable:
    """Fleet KPI rows made ready for benchmarking: the ids, the benchmark KPIs as one float matrix
    (NaN where a value is missing or not a number) and each row as a mapping.

    Built once per fleet table (:func:`peer_table`), a benchmark is then a few numpy comparisons
    over the matrix, not a pandas pipeline per channel: an ad-hoc REST comparison is a cheap miss.
    Tables of single channels combine (:meth:`combine`) into the table of their union.
    """

    channel_ids: tuple[str, ...]
    values: np.ndarray[Any, np.dtype[np.float64]]
    """One row per channel, one column per :data:`BENCHMARK_KPIS` entry, in that order."""
    rows: tuple[dict[str, Any], ...]
    has_as_of: bool
    """Whether the fleet table has the ``as_of`` column (then each result carries its figures)."""
    newest_as_of: datetime | None

    @classmethod
    def combine(cls, tables: Sequence[PeerTable]) -> PeerTable:
        """One table holding every row of ``tables``, in order (as ``pd.concat`` of their fleets)."""
        if not tables:
            raise ValueError("no peer tables to combine")
        newest = [t.newest_as_of for t in tables if t.newest_as_of is not None]
        return cls(
            channel_ids=tuple(cid for t in tables for cid in t.channel_ids),
            values=np.vstack([t.values for t in tables]),
            rows=tuple(row for t in tables for row in t.rows),
            has_as_of=any(t.has_as_of for t in tables),
            newest_as_of=max(newest) if newest else None,
        )


def peer_table(fleet: pd.DataFrame) -> PeerTable:
    """``fleet`` (one row per channel, with the :data:`BENCHMARK_KPIS` columns) as a :class:`PeerTable`."""
    require_columns(fleet, "fleet KPIs", ("channel_id", *(k for k, _ in BENCHMARK_KPIS)))
    columns = [
        pd.to_numeric(fleet[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        for name, _ in BENCHMARK_KPIS
    ]
    has_as_of = "as_of" in fleet.columns
    newest = None
    if has_as_of and fleet["as_of"].notna().any():
        newest = pd.Timestamp(fleet["as_of"].max()).to_pydatetime()
    return PeerTable(
        channel_ids=tuple(fleet["channel_id"].astype(str)),
        values=np.column_stack(columns) if len(fleet) else np.empty((0, len(BENCHMARK_KPIS))),
        rows=tuple({str(k): v for k, v in row.items()} for row in fleet.to_dict("records")),
        has_as_of=has_as_of,
        newest_as_of=newest,
    )


def benchmark_among(
    table: PeerTable,
    channel_id: str,
    peer_ids: Collection[str] | None = None,
    *,
    reference: datetime | None = None,
) -> BenchmarkResult:
    """:func:`benchmark_channel` over a prepared :class:`PeerTable` (the same result)."""
    ids = np.asarray(table.channel_ids, dtype=object)
    own_at = np.flatnonzero(ids == channel_id)
    if not len(own_at):
        raise ChannelNotFound(f"channel {channel_id} is not in the fleet KPI table")
    chosen = ids != channel_id
    if peer_ids is not None:
        wanted = set(peer_ids)
        chosen &= np.fromiter((cid in wanted for cid in table.channel_ids), dtype=bool, count=len(ids))
    peers = table.values[chosen]
    mine = table.values[own_at[0]]
    finite = np.isfinite(peers)
    counts = finite.sum(axis=0)
    below = ((peers < mine) & finite).sum(axis=0)
    ties = ((peers == mine) & finite).sum(axis=0)
    kpis = []
    for k, (name, definition) in enumerate(BENCHMARK_KPIS):
        n = int(counts[k])
        value = float(mine[k])
        comparable = bool(np.isfinite(value)) and n > 0
        kpis.append(
            BenchmarkKpi(
                name=name,
                definition=definition,
                value=value if np.isfinite(value) else None,
                # the arithmetic of percentile_among, term for term, so the figures are equal to the bit
                percentile=(float(below[k]) + 0.5 * float(ties[k])) / n * 100.0 if comparable else None,
                peer_n=n,
                peer_median=float(np.median(peers[finite[:, k], k])) if n else None,
            )
        )
    if reference is None:
        reference = table.newest_as_of
    row = table.rows[own_at[0]]
    figures = channel_kpis_from_row(row, reference) if table.has_as_of else None
    return BenchmarkResult(
        channel_id=channel_id, peer_count=int(chosen.sum()), kpis=tuple(kpis), figures=figures
    )


def compare_peers(
    table: PeerTable, channel_ids: Sequence[str], *, reference: datetime | None = None
) -> list[BenchmarkResult]:
    """Each of ``channel_ids`` benchmarked among the others (a peer comparison)."""
    return [benchmark_among(table, cid, channel_ids, reference=reference) for cid in channel_ids]


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
    return benchmark_among(peer_table(fleet), channel_id, peer_ids, reference=reference)
