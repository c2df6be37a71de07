"""The terminal summary: a Rich renderable with the KPIs, top outliers, best time and recommendations.

YouTube strings are wrapped in :class:`rich.text.Text`, never interpolated into markup, so a title
such as ``[bold]x[/bold]`` prints literally.
"""

from __future__ import annotations

from datetime import datetime

from rich import box
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tubescope.analysis.frames import ChannelFrames
from tubescope.analysis.kpis import ChannelKpis, format_kpi
from tubescope.analysis.summary import ChannelAnalysis
from tubescope.report import formatting as fmt
from tubescope.report.adapter import ReportOptions, build_report_model
from tubescope.report.model import Confidence, Recommendation, ReportModel
from tubescope.report.recommendations import build_recommendations

TOP_OUTLIERS = 5
TOP_RECOMMENDATIONS = 6
_TONE_STYLE = {"good": "green", "bad": "red", "flat": "dim"}
_CONFIDENCE_STYLE = {Confidence.HIGH: "bold green", Confidence.MEDIUM: "yellow", Confidence.LOW: "dim"}


def render_summary(
    model: ReportModel, recommendations: tuple[Recommendation, ...] | None = None
) -> RenderableType:
    """A summary a person can read in a terminal (``Console().print(render_summary(model))``)."""
    if recommendations is None:
        recommendations = build_recommendations(model)
    parts: list[RenderableType] = [_header(model), _kpis(model)]
    if model.channel_kpis is not None:
        parts.append(_figures(model.channel_kpis))
    if model.outliers:
        parts.append(_outliers(model))
    best_time = _best_time(model)
    if best_time is not None:
        parts.append(best_time)
    parts.append(_recommendations(recommendations))
    for warning in (*model.warnings, *model.window.notes):
        parts.append(Text.assemble(("note: ", "yellow"), warning))
    return Group(*parts)


def render_analysis_summary(
    analysis: ChannelAnalysis,
    frames: ChannelFrames,
    *,
    now: datetime | None = None,
    options: ReportOptions | None = None,
) -> RenderableType:
    """The summary of one :func:`~tubescope.analysis.summary.analyze_channel` result (``tubescope analyze``).

    ``now`` defaults to the analysis' own clock; ``frames`` are the frames it ran on.
    """
    clock = now or datetime.fromisoformat(analysis.now)
    return render_summary(build_report_model(analysis, frames, now=clock, options=options))


def _header(model: ReportModel) -> RenderableType:
    header, window = model.header, model.window
    title = Text(header.title, style="bold")
    if header.handle:
        title.append(f"  {header.handle}", style="dim")
    subscribers = (
        f"{fmt.compact(header.subscriber_count)} subscribers"
        if header.subscriber_count is not None
        else "subscribers hidden"
    )
    details = Text(
        f"{header.channel_id} · {subscribers} · window {fmt.day(window.start)} – {fmt.day(window.end)} "
        f"vs {fmt.day(window.previous_start)} – {fmt.day(window.previous_end)}",
        style="dim",
    )
    return Panel(Group(title, details), box=box.ROUNDED, expand=False)


def _kpis(model: ReportModel) -> RenderableType:
    table = Table(title="Key figures", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("Metric")
    table.add_column("Value", justify="right")
    table.add_column("Previous", justify="right")
    table.add_column("Change", justify="right")
    for kpi in model.kpis:
        name = Text(kpi.label)
        if kpi.derived:
            name.append(" (derived)", style="dim")
        table.add_row(
            name,
            fmt.number(kpi.value, kpi.unit),
            fmt.number(kpi.previous, kpi.unit),
            Text(fmt.delta(kpi), style=_TONE_STYLE[fmt.delta_tone(kpi)]),
        )
    if not model.kpis:
        table.add_row(Text("no figures for this window", style="dim"), "", "", "")
    return table


def _figures(kpis: ChannelKpis) -> RenderableType:
    """The channel's figures (the ones every surface shows), with the reason for each gap."""
    as_of = kpis.as_of[:16].replace("T", " ") + " UTC" if kpis.as_of else "never"
    title = f"Channel figures as of {as_of}" + (" (stale)" if kpis.stale else "")
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("Figure (derived)")
    table.add_column("Value", justify="right")
    table.add_column("Why missing", style="dim", overflow="fold")
    for figure in kpis.figures:
        table.add_row(figure.label, format_kpi(figure.value, figure.unit), figure.reason or "")
    if kpis.stale_note:
        return Group(table, Text(kpis.stale_note, style="yellow"))
    return table


def _outliers(model: ReportModel) -> RenderableType:
    table = Table(title="Top outliers", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("Video", overflow="fold", max_width=60)
    table.add_column("Format")
    table.add_column("Views", justify="right")
    table.add_column("Expected", justify="right")
    table.add_column("z", justify="right")
    ranked = sorted(model.outliers, key=lambda o: abs(o.score), reverse=True)[:TOP_OUTLIERS]
    for row in ranked:
        table.add_row(
            Text(row.title),
            fmt.format_name(row.video_format),
            fmt.compact(row.views),
            fmt.compact(row.expected_views),
            Text(f"{row.score:+.1f}", style="green" if row.score > 0 else "red"),
        )
    return table


def _best_time(model: ReportModel) -> RenderableType | None:
    heatmap = model.heatmap
    if heatmap is None or not heatmap.best_slots:
        return None
    best = max(heatmap.best_slots, key=lambda s: s.ci_low)
    verdict = "" if best.ci_low > 1 else " (interval includes 1x: may be chance)"
    return Text.assemble(
        ("Best publish time: ", "bold"),
        f"{fmt.format_name(best.video_format)} at "
        f"{fmt.slot(best.weekday, best.hour, heatmap.timezone, best.hours)}: "
        f"{fmt.ratio(best.lift)} {best.baseline} ({fmt.interval(best.ci_low, best.ci_high, best.ci_level)}, "
        f"n={best.n}){verdict}",
    )


def _recommendations(recommendations: tuple[Recommendation, ...]) -> RenderableType:
    if not recommendations:
        return Text("No recommendation has enough evidence yet.", style="dim")
    lines: list[RenderableType] = [Text("Recommendations (derived)", style="bold underline")]
    for number, rec in enumerate(recommendations[:TOP_RECOMMENDATIONS], 1):
        lines.append(
            Text.assemble(
                f"{number}. ",
                (rec.headline, "bold"),
                "  ",
                (f"[{rec.confidence.value}]", _CONFIDENCE_STYLE[rec.confidence]),
            )
        )
        lines.append(Padding(Text(rec.evidence, style="dim"), (0, 0, 0, 3)))
    return Group(*lines)
