"""The self-contained HTML report: one file, plotly.js inlined once, no network access needed.

Jinja2 autoescapes every value, so titles, tags and channel names from YouTube render as text.
Only two things are inserted unescaped, both produced by code, never by YouTube: plotly.js itself
and plotly's chart fragments, whose JSON escapes ``<``, ``>`` and ``/``.
"""

from __future__ import annotations

import contextlib
import pickle
import re
from functools import cache

import jinja2
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from tubescope.analysis.kpis import ChannelKpis, format_kpi
from tubescope.report import formatting as fmt
from tubescope.report.charts import (
    Chart,
    ab_chart,
    correlation_chart,
    format_chart,
    growth_chart,
    heatmap_chart,
    peer_chart,
    percentile_chart,
)
from tubescope.report.model import Recommendation, ReportModel
from tubescope.report.recommendations import build_recommendations


class _CompiledTemplates(jinja2.FileSystemBytecodeCache):
    """Jinja2's cache of compiled templates (keyed by each template's source checksum and the
    Python version), in a folder of the user's own under the temporary directory: compiling the
    report's template took ~0.05 s of every report. A cache that cannot be read or written is
    simply not used."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, ValueError, EOFError, pickle.UnpicklingError):  # unreadable or truncated
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):  # read-only or full: the next run compiles again
            super().dump_bytecode(bucket)


def _template_cache() -> jinja2.BytecodeCache | None:
    try:
        return _CompiledTemplates()
    except (OSError, RuntimeError):  # no usable temporary directory of this user's own
        return None


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tubescope.report", "templates"),
        bytecode_cache=_template_cache(),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["fmt"] = fmt
    env.globals["format_kpi"] = format_kpi
    env.globals["kpi_figures"] = kpi_figures_html
    return env


def kpi_figures_html(kpis: ChannelKpis) -> Markup:
    """The channel's key figures as an HTML block (the report and the dashboard show this same
    block): each figure carries ``data-figure`` and its exact ``data-value``; a missing one says why."""
    html = _environment().get_template("kpi_figures.html.j2").render(k=kpis)
    return Markup(html)  # noqa: S704 - rendered by an autoescaping template


@cache
def _plotlyjs() -> Markup:
    source: str = get_plotlyjs()
    # plotly.js holds no "</script"; checked here so a future bundle cannot silently break the page
    # (a case-blind search: lower-casing the 4.8 MB bundle first took 0.03 s of every report).
    if re.search("</script", source, re.IGNORECASE):
        raise RuntimeError("the bundled plotly.js contains '</script' and cannot be inlined")
    return Markup(source)  # noqa: S704 - plotly's own bundle, not user data


def build_charts(model: ReportModel) -> dict[str, list[Chart]]:
    """Charts by report section; a section with no data has no charts."""
    charts: dict[str, list[Chart]] = {
        "growth": [
            growth_chart(t, f"chart-growth-{i}") for i, t in enumerate(model.growth) if t.observed.times
        ]
    }
    if model.percentile_bands is not None and model.percentile_bands.age_days:
        charts["bands"] = [percentile_chart(model.percentile_bands, "chart-bands")]
    if model.formats:
        charts["formats"] = [format_chart(model.formats, "chart-formats")]
    if model.heatmap is not None:
        charts["heatmap"] = [heatmap_chart(model.heatmap, "chart-heatmap")]
    if model.correlation is not None and model.correlation.variables:
        charts["correlation"] = [correlation_chart(model.correlation, "chart-correlation")]
    if model.ab_tests:
        charts["ab"] = [ab_chart(model.ab_tests, "chart-ab")]
    if model.peers is not None and any(m.subject_percentile is not None for m in model.peers.metrics):
        charts["peers"] = [peer_chart(model.peers, "chart-peers")]
    return charts


def render_html(model: ReportModel, recommendations: tuple[Recommendation, ...] | None = None) -> str:
    """The whole report page as one string (the caller writes it)."""
    if recommendations is None:
        recommendations = build_recommendations(model)
    charts = build_charts(model)
    fragments = {
        section: [Markup(chart.to_html()) for chart in section_charts]  # noqa: S704 - plotly output
        for section, section_charts in charts.items()
    }
    template = _environment().get_template("report.html.j2")
    return template.render(
        model=model,
        recommendations=recommendations,
        charts=fragments,
        chart_ids=[chart.chart_id for section in charts.values() for chart in section],
        plotlyjs=_plotlyjs(),
    )
