"""The HTML report: one self-contained page, every section present, YouTube strings inert."""

from __future__ import annotations

import dataclasses
import re
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.report.conftest import HOSTILE_CHANNEL, HOSTILE_TITLE
from tubescope.report import html as report_html
from tubescope.report.html import render_html
from tubescope.report.model import ReportModel


class _Page(HTMLParser):
    """Collects what a browser would act on: script elements, external references, text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[dict[str, str | None]] = []
        self.external: list[str] = []
        self.elements_with_handlers: list[str] = []
        self.text: list[str] = []
        self.ids: set[str] = set()
        self.img_tags = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(attributes["id"])
        if tag == "script":
            self.scripts.append(attributes)
            self._in_script = True
        if tag == "img":
            self.img_tags += 1
        for name, value in attrs:
            if name.startswith("on"):
                self.elements_with_handlers.append(tag)
            if name in ("src", "href") and value and not value.startswith("#"):
                self.external.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if not self._in_script:
            self.text.append(data)


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    return parser


def test_page_is_self_contained_with_plotlyjs_inlined_once(model: ReportModel) -> None:
    page = render_html(model)
    parsed = _parse(page)
    assert parsed.external == [], "the report must work offline: no src/href to anything"
    assert all(script.get("src") is None for script in parsed.scripts)
    # plotly.js announces its version banner once; a second copy would double the file size.
    assert len(re.findall(r"plotly\.js v\d+\.\d+\.\d+", page)) == 1
    # plotly.js mentions a topojson CDN for geo maps, which the report never draws; nothing else may.
    without_bundle = re.sub(r"<script>/\*\*\s*\n?\s*\* plotly\.js.*?</script>", "", page, flags=re.S)
    assert len(without_bundle) < len(page) // 10
    assert "cdn.plot.ly" not in without_bundle and "<link" not in without_bundle
    assert "https://" not in without_bundle


def test_every_section_and_chart_is_present(model: ReportModel) -> None:
    parsed = _parse(render_html(model))
    for section in (
        "kpis",
        "recommendations",
        "growth",
        "bands",
        "formats",
        "timing",
        "outliers",
        "correlation",
        "ab",
        "peers",
        "methods",
        "lineage",
    ):
        assert section in parsed.ids, section
    for chart in (
        "chart-growth-0",
        "chart-bands",
        "chart-formats",
        "chart-heatmap",
        "chart-correlation",
        "chart-ab",
        "chart-peers",
    ):
        assert chart in parsed.ids, chart


def test_hostile_titles_render_as_text_not_markup(model: ReportModel) -> None:
    page = render_html(model)
    parsed = _parse(page)
    text = " ".join(parsed.text)
    assert HOSTILE_TITLE in text  # shown verbatim to the reader...
    assert HOSTILE_CHANNEL in text
    # ...and never as elements: the only scripts are plotly.js, its config and chart drawing code.
    assert parsed.img_tags == 0
    assert parsed.elements_with_handlers == []
    assert "<script>alert(1)" not in page
    assert "<b>bold</b>" not in page
    for script in parsed.scripts:
        assert script.get("src") is None


def test_chart_json_cannot_close_its_script_element(model: ReportModel) -> None:
    page = render_html(model)
    bodies = re.findall(r"<script[^>]*>(.*?)</script>", page, flags=re.S)
    drawing = [body for body in bodies if "Plotly.newPlot" in body and len(body) < 1_000_000]
    assert len(drawing) == 7
    # The hostile title is inside the chart data (legend of the percentile chart) only in escaped form.
    assert any("alert(1)" in body for body in drawing)
    assert all("</" not in body for body in drawing)


def test_kpis_show_value_and_delta_against_previous_period(model: ReportModel) -> None:
    page = render_html(model)
    block = re.search(r'data-kpi="views".*?</div>\s*</div>', page, flags=re.S)
    assert block is not None
    assert "120k" in block.group(0) and "+20.0%" in block.group(0) and "100k" in block.group(0)
    engagement = re.search(r'data-kpi="engagement_rate".*?</div>\s*</div>', page, flags=re.S)
    assert engagement is not None and "derived" in engagement.group(0) and "+0.5 pp" in engagement.group(0)


def test_methods_appendix_states_definitions(model: ReportModel) -> None:
    text = " ".join(_parse(render_html(model)).text)
    assert "Engagement rate" in text and "(likes + comments) / views" in text
    assert "Derived metric" in text and "Previous equal period" in text


def test_sparse_model_renders_with_clear_empty_sections(model: ReportModel) -> None:
    sparse = dataclasses.replace(
        model,
        growth=(),
        percentile_bands=None,
        formats=(),
        heatmap=None,
        outliers=(),
        correlation=None,
        ab_tests=(),
        peers=None,
        methods=(),
    )
    page = render_html(sparse)
    text = " ".join(_parse(page).text)
    assert "Plotly.newPlot" not in page
    assert "No peers were compared" in text and "No A/B comparisons were run" in text
    assert "Not enough channel snapshots" in text


def test_compiled_templates_cache_gives_the_same_page(
    model: ReportModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The templates compiled once are reused by the next process (a fresh environment here), and
    a damaged cache file is compiled afresh: the page is the same every time."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # as TMPDIR would
    report_html._environment.cache_clear()
    try:
        compiled = render_html(model)
        cached = list(tmp_path.glob("_jinja2-cache-*/*.cache"))
        assert cached  # the report template, compiled, for the next process
        report_html._environment.cache_clear()
        assert render_html(model) == compiled
        for path in cached:
            path.write_bytes(path.read_bytes()[:40])  # truncated mid-way
        report_html._environment.cache_clear()
        assert render_html(model) == compiled
    finally:
        report_html._environment.cache_clear()
