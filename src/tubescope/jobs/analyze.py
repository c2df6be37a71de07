"""The ``analyze`` and ``compare`` jobs: read the warehouse, run the pure analysis."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.console import RenderableType
from rich.table import Table

from tubescope.analysis.benchmark import BenchmarkResult
from tubescope.analysis.summary import ChannelAnalysis, analyze_channel
from tubescope.jobs.catalog import peer_comparison
from tubescope.jobs.common import (
    last_observed,
    load_channel_frames,
    open_for_reading,
    resolve_stored_channel,
    utc_now,
)
from tubescope.report.adapter import build_report_model
from tubescope.report.terminal import render_summary
from tubescope.warehouse.target import WarehouseTarget


def analyze(
    db_path: WarehouseTarget, ref: str, *, since: datetime | None = None, now: datetime | None = None
) -> ChannelAnalysis:
    """Every analysis of one collected channel as of ``now`` (default: the current time)."""
    with open_for_reading(db_path) as warehouse:
        channel_id = resolve_stored_channel(warehouse, ref)
        frames = load_channel_frames(warehouse, [channel_id])
    return analyze_channel(
        frames, channel_id, now or last_observed(frames, channel_id) or utc_now(), since=since
    )


def compare(
    db_path: WarehouseTarget, refs: Sequence[str], *, now: datetime | None = None
) -> list[BenchmarkResult]:
    """Each channel's KPIs as percentiles among the other channels named (size-normalised KPIs)."""
    with open_for_reading(db_path) as warehouse:
        return peer_comparison(warehouse, refs, now=now)


def analysis_summary(
    analysis: ChannelAnalysis, db_path: WarehouseTarget, *, now: datetime | None = None
) -> RenderableType:
    """The Rich summary of ``analysis`` a person reads in a terminal (the report's components)."""
    with open_for_reading(db_path) as warehouse:
        frames = load_channel_frames(warehouse, [analysis.channel_id])
    model = build_report_model(analysis, frames, now=now or datetime.fromisoformat(analysis.now))
    return render_summary(model)


def comparison_table(results: Sequence[BenchmarkResult]) -> Table:
    """KPI percentiles, one column per channel (derived metrics, labelled as such)."""
    table = Table(title="Peer comparison — percentile among the channels named (derived metrics)")
    table.add_column("KPI")
    for result in results:
        table.add_column(result.channel_id, justify="right")
    for index, kpi in enumerate(results[0].kpis):
        cells = []
        for result in results:
            own = result.kpis[index]
            cells.append("n/a" if own.percentile is None else f"{own.value:.3g} (p{own.percentile:.0f})")
        table.add_row(kpi.name, *cells)
    return table
