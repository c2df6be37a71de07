"""The ``analyze`` and ``compare`` jobs: read the warehouse, run the pure analysis."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tubescope.analysis.benchmark import BenchmarkResult
from tubescope.analysis.comments import summarize_comments
from tubescope.analysis.frames import ChannelFrames
from tubescope.analysis.kpis import KPI_DEFINITIONS, format_kpi
from tubescope.analysis.summary import AnalysisOptions, ChannelAnalysis, analyze_channel
from tubescope.analysis.timing import TimingOptions
from tubescope.jobs.catalog import list_channels, peer_comparison
from tubescope.jobs.common import (
    last_observed,
    load_channel_frames,
    newest_observation,
    open_for_reading,
    resolve_stored_channel,
    utc_now,
)
from tubescope.report.adapter import build_report_model
from tubescope.report.terminal import render_summary
from tubescope.warehouse.target import WarehouseTarget


def analyze(
    db_path: WarehouseTarget,
    ref: str,
    *,
    since: datetime | None = None,
    now: datetime | None = None,
    timezone: str = "UTC",
) -> ChannelAnalysis:
    """Every analysis of one collected channel as of ``now`` (default: its last observation)."""
    return analyze_with_frames(db_path, ref, since=since, now=now, timezone=timezone)[0]


def analyze_with_frames(
    db_path: WarehouseTarget,
    ref: str,
    *,
    since: datetime | None = None,
    now: datetime | None = None,
    timezone: str = "UTC",
) -> tuple[ChannelAnalysis, ChannelFrames]:
    """:func:`analyze`, and the channel's frames it read (for :func:`analysis_summary`, so the
    CLI reads the warehouse once)."""
    with open_for_reading(db_path) as warehouse:
        channel_id = resolve_stored_channel(warehouse, ref)
        frames = load_channel_frames(warehouse, [channel_id])
        reference = now or newest_observation(warehouse)
        comments = summarize_comments(warehouse.query(_COMMENTS_SQL, [channel_id]))
    analysis = analyze_channel(
        frames,
        channel_id,
        now or last_observed(frames, channel_id) or reference or utc_now(),
        since=since,
        options=AnalysisOptions(timing=TimingOptions(timezone=timezone)),
        reference=reference,
    )
    return dataclasses.replace(analysis, extras={**analysis.extras, "comments": comments.to_dict()}), frames


_COMMENTS_SQL = """
SELECT c.comment_id, c.video_id, c.parent_id, c.author, c.like_count, c.published_at
FROM comments c JOIN videos v USING (video_id) WHERE v.channel_id = ?
"""


def comments_table(summary: dict[str, Any]) -> RenderableType:
    """The comments summary of ``analyze`` (``extras["comments"]``) for a terminal."""
    if not summary.get("n_comments"):
        return Text("No comments collected (collect with --comments to see the audience's).", style="dim")
    table = Table(title="Comments collected", show_header=False, title_justify="left")
    table.add_column("", style="dim")
    table.add_column("", overflow="fold")
    share = summary.get("reply_share")
    table.add_row("comments / replies", f"{summary['n_comments']} / {summary['n_replies']}")
    table.add_row("reply share", "—" if share is None else f"{share * 100:.0f}%")
    table.add_row("videos / commenters", f"{summary['n_videos']} / {summary['n_authors']}")
    recent = summary.get("monthly", [])[-6:]
    table.add_row("per month", ", ".join(f"{m['month']}: {m['comments']}" for m in recent) or "—")
    top = summary.get("top_commenters", [])
    table.add_row("most active", ", ".join(f"{c['author']} ({c['comments']})" for c in top) or "—")
    return table


def compare(
    db_path: WarehouseTarget, refs: Sequence[str], *, now: datetime | None = None
) -> list[BenchmarkResult]:
    """Each channel's KPIs as percentiles among the other channels named (size-normalised KPIs)."""
    with open_for_reading(db_path) as warehouse:
        results = peer_comparison(warehouse, refs, now=now)
        titles = {str(c["channel_id"]): c.get("title") for c in list_channels(warehouse)}
    return [dataclasses.replace(r, title=titles.get(r.channel_id)) for r in results]


def analysis_summary(
    analysis: ChannelAnalysis,
    db_path: WarehouseTarget,
    *,
    now: datetime | None = None,
    frames: ChannelFrames | None = None,
) -> RenderableType:
    """The Rich summary of ``analysis`` a person reads in a terminal (the report's components).

    ``frames``: the channel's frames the analysis read (:func:`analyze_with_frames`); None reads
    them again from ``db_path``.
    """
    if frames is None:
        with open_for_reading(db_path) as warehouse:
            frames = load_channel_frames(warehouse, [analysis.channel_id])
    model = build_report_model(analysis, frames, now=now or datetime.fromisoformat(analysis.now))
    comments = analysis.extras.get("comments")
    if isinstance(comments, dict):
        return Group(render_summary(model), comments_table(comments))
    return render_summary(model)


COMPARE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("views_per_subscriber", "Views/sub"),
    ("engagement_median", "Engage."),
    ("uploads_per_week_90d", "Uploads/wk"),
    ("subscriber_growth_28d", "Subs 28d"),
    ("view_growth_28d", "Views 28d"),
)
"""Short headers, so the table reads at 80 columns (one row per channel, not one column)."""


def comparison_table(results: Sequence[BenchmarkResult]) -> Table:
    """KPI percentiles, one row per channel (named, with the date its figures end and a stale flag)."""
    table = Table(
        title="Peer comparison: value (percentile among the channels named)",
        caption="derived metrics; each channel as of its last observation",
        expand=False,
    )
    table.add_column("Channel", overflow="fold", ratio=2)
    table.add_column("As of", no_wrap=True)
    for _, header in COMPARE_COLUMNS:
        table.add_column(header, justify="right")
    units = {d.name: d.unit for d in KPI_DEFINITIONS}
    for result in results:
        figures = result.figures
        as_of = figures.as_of[:10] if figures is not None and figures.as_of else "—"
        if figures is not None and figures.stale:
            as_of += " (stale)"
        cells = []
        for name, _ in COMPARE_COLUMNS:
            own = result.kpi(name)
            shown = format_kpi(own.value, units.get(name, "count"))
            cells.append(shown if own.percentile is None else f"{shown} p{own.percentile:.0f}")
        table.add_row(result.title or result.channel_id, as_of, *cells)
    return table
