"""Plotly figures for each part of a :class:`ReportModel`, rendered as HTML fragments.

Fragments never load plotly.js themselves: the page inlines it once. Plotly serialises figure data
with ``<``, ``>`` and ``/`` as ``\\u003c`` etc., so a title holding ``</script>`` cannot end the
script element; plotly also renders a small subset of HTML tags inside labels, so every YouTube
string that reaches a label is HTML-escaped first (plotly shows the entities as the original text).
"""

from __future__ import annotations

import html
import json
import math
import pkgutil
from dataclasses import dataclass
from functools import cache
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from tubescope.report import formatting as fmt
from tubescope.report.model import (
    WEEKDAY_NAMES,
    AbResult,
    CorrelationMatrix,
    FormatStat,
    GrowthTrajectory,
    PeerComparison,
    PercentileBands,
    PublishHeatmap,
)

CHART_HEIGHT = 380
_CONFIG: dict[str, Any] = {"displaylogo": False, "responsive": True}
_BAND_COLOUR = "rgba(66, 133, 244, {alpha})"
TEMPLATE = "plotly_white"
"""The plotly template every chart is drawn with; it is added to each figure's JSON when the page
is written (see :meth:`Chart.plotly_json`), not validated into every figure."""
_NO_TEMPLATE = "none"
"""What the figures hold while they are built: plotly's empty template (a figure without one gets
plotly's default template, validated object by object: a quarter of a second per report)."""
_LAYOUT: dict[str, Any] = {
    "height": CHART_HEIGHT,
    "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
    "legend": {"orientation": "h", "y": -0.18},
    "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
}


@dataclass(frozen=True)
class Chart:
    """One chart of the report: its id, title and Plotly figure."""

    chart_id: str  # also the DOM id of the chart's div
    title: str
    figure: go.Figure

    def plotly_json(self) -> dict[str, Any]:
        """The figure as plotly.js draws it: its data and layout, with :data:`TEMPLATE` in place.

        The same figure as one built with ``template=TEMPLATE`` (the test checks), without
        validating the template's hundreds of properties into plotly objects once per chart.
        """
        figure: dict[str, Any] = self.figure.to_plotly_json()
        figure["layout"] = {**figure.get("layout", {}), "template": _template_json(TEMPLATE)}
        return figure

    def to_html(self) -> str:
        """A ``<div>`` plus the script that draws it; needs plotly.js already on the page."""
        fragment: str = pio.to_html(
            self.plotly_json(),
            validate=False,
            full_html=False,
            include_plotlyjs=False,
            div_id=self.chart_id,
            config=_CONFIG,
            default_width="100%",
            default_height=f"{CHART_HEIGHT}px",
        )
        return fragment


@cache
def _template_json(name: str) -> dict[str, Any]:
    """plotly's named template as the JSON it ships (what ``pio.templates[name]`` is built from)."""
    data = pkgutil.get_data("plotly", f"package_data/templates/{name}.json")
    if data is None:
        raise RuntimeError(f"plotly ships no template {name!r}")
    loaded: dict[str, Any] = json.loads(data)
    return loaded


def _figure(data: Any = None) -> go.Figure:
    """A figure holding ``data`` (a trace or None), with the empty template (see :data:`_NO_TEMPLATE`)."""
    return go.Figure(data, layout={"template": _NO_TEMPLATE})


def label(text: str) -> str:
    """A YouTube string made safe for a plotly label (plotly would otherwise interpret tags)."""
    return html.escape(text, quote=False)  # plotly decodes &lt; &gt; &amp; but shows &quot; raw


def _none_to_nan(values: tuple[float | None, ...]) -> list[float]:
    return [math.nan if v is None else v for v in values]


def growth_chart(trajectory: GrowthTrajectory, chart_id: str) -> Chart:
    """The observed trajectory with its forecast band (views or subscribers per day or in total)."""
    fig = _figure()
    observed = trajectory.observed
    fig.add_trace(go.Scatter(x=list(observed.times), y=list(observed.values), mode="lines", name="Observed"))
    band = trajectory.forecast
    if band is not None and band.times:
        level = f"{band.level * 100:.0f}% interval (derived)"
        if band.measured_coverage is not None:
            covered = f"covered {band.measured_coverage:.1%} in backtests"
            level = f"{band.level * 100:.0f}% interval (derived; {covered})"
        fig.add_trace(
            go.Scatter(
                x=list(band.times),
                y=list(band.upper),
                mode="lines",
                line={"width": 0},
                showlegend=False,
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=list(band.times),
                y=list(band.lower),
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor=_BAND_COLOUR.format(alpha=0.2),
                name=level,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=list(band.times),
                y=list(band.mean),
                mode="lines",
                line={"dash": "dash"},
                name="Forecast (derived)",
            )
        )
        # A log-scale interval can reach far above anything observed; keep the data readable and
        # let the reader zoom out (the band's full extent is in the hover and the evidence text).
        ceiling = max([*observed.values, *band.mean], default=0.0) * 2.5
        if ceiling > 0 and max(band.upper) > ceiling:
            fig.update_yaxes(range=[0, ceiling])
    # The shapes add_vline would make, set in one layout update: add_vline re-validates the whole
    # layout once per line (tens of milliseconds each on a channel with many change points).
    breaks = [
        {"type": "line", "x0": x, "x1": x, "xref": "x", "y0": 0, "y1": 1, "yref": "y domain",
         "line": {"dash": "dot", "color": "#999"}}
        for x in (moment.timestamp() * 1000 for moment in trajectory.changepoints)
    ]  # fmt: skip
    fig.update_layout(
        **_LAYOUT,
        title=f"{trajectory.metric}: observed and forecast",
        yaxis_title=trajectory.metric,
        **({"shapes": breaks} if breaks else {}),
    )
    return Chart(chart_id, f"{trajectory.metric} trajectory", fig)


def percentile_chart(bands: PercentileBands, chart_id: str) -> Chart:
    """Views by age against the channel's same-age percentile bands (log views axis)."""
    fig = _figure()
    rows = dict(zip(bands.percentiles, bands.bands, strict=True))
    x = list(bands.age_days)
    pairs = [(p, 100 - p) for p in sorted(rows) if p < 50 and (100 - p) in rows]
    for index, (low, high) in enumerate(pairs):
        alpha = 0.12 + 0.12 * index
        fig.add_trace(
            go.Scatter(
                x=x, y=list(rows[high]), mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip"
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=list(rows[low]),
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor=_BAND_COLOUR.format(alpha=alpha),
                name=f"p{low}–p{high}",
            )
        )
    if 50 in rows:
        fig.add_trace(
            go.Scatter(x=x, y=list(rows[50]), mode="lines", name="Median", line={"color": "#1a56c4"})
        )
    for video in bands.highlights:
        suffix = f" (p{video.percentile_now:.0f})" if video.percentile_now is not None else ""
        fig.add_trace(
            go.Scatter(
                x=list(video.age_days),
                y=list(video.values),
                mode="lines+markers",
                name=label(_shorten(video.title)) + suffix,
            )
        )
    fig.update_layout(
        **_LAYOUT,
        title=f"{bands.metric} by age: {bands.reference}",
        xaxis_title="Days since publishing",
        yaxis_title=f"{bands.metric} (log scale)",
        yaxis_type="log",
        xaxis_type="log" if bands.age_days and max(bands.age_days) > 90 else "linear",
    )
    # Log axes label 1, 2 and 5 of each decade (1k, 2k, 5k…), never leave a decade unlabelled.
    fig.update_yaxes(dtick="D2", tickformat="~s")
    if bands.age_days and max(bands.age_days) > 90:
        fig.update_xaxes(dtick="D2", tickformat="~g")
    return Chart(chart_id, "Same-age percentile bands", fig)


def format_chart(formats: tuple[FormatStat, ...], chart_id: str) -> Chart:
    """Median views per video and share of views, per format."""
    names = [fmt.format_name(f.video_format) for f in formats]
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("Median views per video", "Share of views"), figure=_figure()
    )
    fig.add_trace(
        go.Bar(
            x=names,
            y=[f.median_views for f in formats],
            name="Median views",
            text=[f"n={f.n_videos}" for f in formats],
            textposition="auto",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(x=names, y=[f.share_of_views * 100 for f in formats], name="Share of views (%)"),
        row=1,
        col=2,
    )
    fig.update_layout(**_LAYOUT, title="Format split", showlegend=False)
    fig.update_yaxes(title_text="views", tickformat="~s", row=1, col=1)
    fig.update_yaxes(title_text="share of views", ticksuffix="%", rangemode="tozero", row=1, col=2)
    return Chart(chart_id, "Format split", fig)


def heatmap_chart(heatmap: PublishHeatmap, chart_id: str) -> Chart:
    """Median performance by publish weekday and hour (in the report's time zone)."""
    hours = [f"{h:02d}" for h in range(24)]
    fig = _figure(
        go.Heatmap(
            z=[_none_to_nan(row) for row in heatmap.values],
            x=hours,
            y=list(WEEKDAY_NAMES),
            customdata=[list(row) for row in heatmap.counts],
            colorscale="RdYlGn",
            zmid=1.0,
            hoverongaps=False,
            hovertemplate="%{y} %{x}:00<br>%{z:.2f}x median views<br>n=%{customdata}<extra></extra>",
            colorbar={"title": "x median"},
        )
    )
    fig.update_layout(
        **_LAYOUT,
        title=f"Publish time: {heatmap.metric} (derived; hours in {heatmap.timezone})",
        xaxis_title=f"Hour ({heatmap.timezone})",
    )
    fig.update_yaxes(autorange="reversed")
    return Chart(chart_id, "Best publish time", fig)


def correlation_chart(matrix: CorrelationMatrix, chart_id: str) -> Chart:
    """The correlation matrix as a heatmap, starred where adjusted p is small."""
    text = [
        ["" if r is None else f"{r:.2f}{_stars(p)}" for r, p in zip(row_r, row_p, strict=True)]
        for row_r, row_p in zip(matrix.coefficients, matrix.p_values, strict=True)
    ]
    # A variable with no coefficient at all (constant over the videos) would be a blank row.
    keep = [
        i
        for i, row in enumerate(matrix.coefficients)
        if any(r is not None and math.isfinite(r) for j, r in enumerate(row) if j != i)
    ]
    text = [[text[i][j] for j in keep] for i in keep]
    names = [label(matrix.variables[i]) for i in keep]
    fig = _figure(
        go.Heatmap(
            z=[_none_to_nan(tuple(matrix.coefficients[i][j] for j in keep)) for i in keep],
            x=names,
            y=names,
            text=text,
            texttemplate="%{text}",
            zmin=-1,
            zmax=1,
            colorscale="RdBu",
            customdata=[_none_to_nan(tuple(matrix.p_values[i][j] for j in keep)) for i in keep],
            hovertemplate="%{y} × %{x}<br>r=%{z:.2f}<br>p=%{customdata:.3g}<extra></extra>",
        )
    )
    fig.update_layout(
        **_LAYOUT, title=f"{matrix.method.capitalize()} correlations (n={matrix.n}; * p<0.05, ** p<0.01)"
    )
    fig.update_yaxes(autorange="reversed")
    return Chart(chart_id, "Correlations", fig)


def ab_chart(tests: tuple[AbResult, ...], chart_id: str) -> Chart:
    """Each A/B comparison's effect with its interval (log ratio axis)."""
    names = [label(f"{t.scope + ': ' if t.scope else ''}{t.group_b} vs {t.group_a}") for t in tests]
    fig = _figure(
        go.Scatter(
            x=[t.effect for t in tests],
            y=names,
            mode="markers",
            marker={"size": 11, "color": ["#1a7f37" if t.significant else "#888" for t in tests]},
            error_x={
                "type": "data",
                "symmetric": False,
                "color": "#555",
                "array": [t.ci_high - t.effect for t in tests],
                "arrayminus": [t.effect - t.ci_low for t in tests],
            },
            name="Effect with interval",
        )
    )
    ratio_scale = all(t.effect_scale == "ratio" for t in tests)
    fig.add_vline(x=1.0 if ratio_scale else 0.0, line={"dash": "dash", "color": "#444"})
    fig.update_layout(
        **_LAYOUT,
        title="A/B comparisons: effect and 95% interval (green: significant)",
        xaxis_title="ratio treatment / control (log scale)" if ratio_scale else "difference",
        xaxis_type="log" if ratio_scale else "linear",
    )
    if ratio_scale:
        ticks = (0.25, 0.5, 0.67, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0, 4.0)
        fig.update_xaxes(tickvals=list(ticks), ticktext=[f"{t:g}x" for t in ticks])
    return Chart(chart_id, "A/B results", fig)


def peer_chart(peers: PeerComparison, chart_id: str) -> Chart:
    """The channel's percentile among its peers on each size-normalised KPI."""
    metrics = [m for m in peers.metrics if m.subject_percentile is not None]
    fig = _figure(
        go.Bar(
            # A 0th percentile still draws a sliver, so the bar is seen, not missing.
            x=[max(m.subject_percentile or 0.0, 1.5) for m in metrics],
            y=[m.label + (" (derived)" if m.derived else "") for m in metrics],
            orientation="h",
            text=[f"{m.subject_percentile:.0f}th" for m in metrics],
            textposition="outside",
            cliponaxis=False,
        )
    )
    fig.add_vline(x=50, line={"dash": "dash", "color": "#444"})
    fig.update_layout(
        **_LAYOUT,
        title="Percentile among peers (50 = peer median)",
        xaxis_range=[0, 100],
        xaxis_title="percentile among peers (0–100)",
    )
    return Chart(chart_id, "Competitive position", fig)


def _stars(p: float | None) -> str:
    if p is None or not math.isfinite(p):
        return ""
    return "**" if p < 0.01 else "*" if p < 0.05 else ""


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
