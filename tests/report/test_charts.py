"""The charts' figures as the page draws them: the template is added when the page is written."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import plotly.io as pio

from tubescope.report.charts import TEMPLATE
from tubescope.report.html import build_charts
from tubescope.report.model import ReportModel


def test_each_chart_draws_as_the_same_figure_built_with_the_template(model: ReportModel) -> None:
    charts = [chart for section in build_charts(model).values() for chart in section]
    assert len(charts) >= 6  # growth, bands, formats, heatmap, correlation, A/B, peers
    for chart in charts:
        # The reference: the figure validated into plotly objects with the named template, the
        # way plotly builds it when ``template=`` is given (what every chart did before).
        reference = go.Figure(chart.figure).update_layout(template=TEMPLATE)
        expected = json.loads(pio.to_json(reference))
        drawn = json.loads(pio.to_json(chart.plotly_json(), validate=False))
        assert drawn == expected, chart.chart_id
        assert drawn["layout"]["template"]["layout"]["plot_bgcolor"] == "white"


def test_the_page_embeds_the_template_in_each_chart(model: ReportModel) -> None:
    charts = [chart for section in build_charts(model).values() for chart in section]
    for chart in charts:
        fragment = chart.to_html()
        assert f'id="{chart.chart_id}"' in fragment
        assert '"plot_bgcolor":"white"' in fragment.replace(" ", "")
