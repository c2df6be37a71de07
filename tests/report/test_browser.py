"""The report in a real headless Chromium: charts draw, nothing errors, hostile titles stay text."""

from __future__ import annotations

import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tubescope.jobs.report import PDF_LAYOUT_WIDTH_PX, ReportFormat, print_html
from tubescope.report.html import build_charts, render_html
from tubescope.report.model import ReportModel

from .browser_helpers import CHROMIUM, assert_every_chart_drew, keep_screenshot, open_report
from .conftest import HOSTILE_TITLE

pytestmark = pytest.mark.browser


def test_report_renders_every_chart_without_errors(browser: Any, model: ReportModel, tmp_path: Path) -> None:
    opened = open_report(browser, model, tmp_path / "report.html")
    assert len(build_charts(model)) == 7
    assert_every_chart_drew(opened, model)
    # The hostile title is visible as text in the outliers table and in the chart legend.
    assert HOSTILE_TITLE in opened.page.inner_text("#outliers")
    legend = opened.page.evaluate(
        "Array.from(document.querySelectorAll('#chart-bands .legendtext')).map(t => t.textContent)"
    )
    assert any("<script>alert(1)</script>" in text for text in legend)
    assert opened.page.evaluate("document.querySelectorAll('main img').length") == 0
    keep_screenshot(opened, "report-full.png")
    opened.page.close()


# Boxes a reader sees (HTML leaves, and each chart's texts) must not cover one another, and a
# chart's texts must stay inside the chart's own box (else they run under the next element).
# Tick labels that Plotly itself turned (rotated) are skipped among themselves: their bounding
# boxes overlap by construction while the glyphs do not.
_PHONE_CHECK = """
() => {
  const drawn = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const crossing = (r, s) => Math.min(r.right, s.right) - Math.max(r.left, s.left) > 1
    && Math.min(r.bottom, s.bottom) - Math.max(r.top, s.top) > 1;
  const name = e => `${e.tagName}.${e.getAttribute('class') || ''} "${e.textContent.trim().slice(0, 30)}"`;
  const hits = [];
  const leaves = Array.from(document.querySelectorAll(
      'h1, h2, h3, p, li, dt, dd, .kpi, nav a, .plotly-graph-div'))
    .filter(drawn)
    .filter(e => !Array.from(e.children).some(c => c.matches('h1, h2, h3, p, li, .kpi, .plotly-graph-div')));
  for (let i = 0; i < leaves.length; i++) {
    for (let j = i + 1; j < leaves.length; j++) {
      const a = leaves[i], b = leaves[j];
      if (a.contains(b) || b.contains(a)) continue;
      if (crossing(a.getBoundingClientRect(), b.getBoundingClientRect()))
        hits.push(`${name(a)} / ${name(b)}`);
    }
  }
  const turned = t => /rotate/.test(t.getAttribute('transform') || '');
  for (const chart of document.querySelectorAll('.plotly-graph-div')) {
    const box = chart.getBoundingClientRect();
    const texts = Array.from(chart.querySelectorAll('text')).filter(t => drawn(t) && t.textContent.trim());
    for (const t of texts) {
      const r = t.getBoundingClientRect();
      if (r.left < box.left - 1 || r.right > box.right + 1
          || r.top < box.top - 1 || r.bottom > box.bottom + 1)
        hits.push(`${chart.id}: ${name(t)} outside the chart`);
    }
    for (let i = 0; i < texts.length; i++) {
      for (let j = i + 1; j < texts.length; j++) {
        if (turned(texts[i]) && turned(texts[j])) continue;
        if (crossing(texts[i].getBoundingClientRect(), texts[j].getBoundingClientRect()))
          hits.push(`${chart.id}: ${name(texts[i])} / ${name(texts[j])}`);
      }
    }
  }
  return hits.slice(0, 8);
}
"""


@pytest.mark.parametrize("width", [390, 1280])
def test_report_fits_a_phone_and_a_desktop_without_scroll_or_overlap(
    browser: Any, model: ReportModel, tmp_path: Path, width: int
) -> None:
    opened = open_report(browser, model, tmp_path / "report.html", width=width)
    opened.page.wait_for_load_state("load")
    # The fitting script relayouts the charts on load; wait until Plotly has redrawn them.
    opened.page.wait_for_timeout(800)
    scroll = opened.page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{scroll}px wide in a {width}px window"
    assert opened.page.evaluate(_PHONE_CHECK) == []
    assert_every_chart_drew(opened, model)
    if width == 390:
        titles = opened.page.evaluate(
            "Array.from(document.querySelectorAll('.gtitle'))"
            ".map(t => t.querySelectorAll('tspan.line').length)"
        )
        assert max(titles) >= 2, "long chart titles are wrapped on a phone, not cut"
    keep_screenshot(opened, f"report-{width}px.png")
    opened.page.close()


_CHART_ENDS = """
() => Array.from(document.querySelectorAll('.plotly-graph-div')).map(chart => {
  const texts = Array.from(chart.querySelectorAll('text'))
    .filter(t => t.getBoundingClientRect().height > 0 && t.textContent.trim().length >= 4);
  const lowest = texts.reduce((a, b) => {
    const ra = a.getBoundingClientRect(), rb = b.getBoundingClientRect();
    if (Math.abs(ra.bottom - rb.bottom) > 2) return ra.bottom > rb.bottom ? a : b;
    return a.textContent.length >= b.textContent.length ? a : b;
  });
  return {id: chart.id, top: chart.querySelector('.gtitle').textContent, bottom: lowest.textContent};
})
"""


def _words(text: str) -> str:
    """PDF text as comparable words: ligatures unfolded (ﬁ → fi), whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def test_pdf_page_breaks_never_cut_a_chart(browser: Any, model: ReportModel, tmp_path: Path) -> None:
    pypdf = pytest.importorskip("pypdf", reason="the pypdf package is not installed")
    out = tmp_path / "report.pdf"
    # Printed as `tubescope report --format pdf` prints it; in a thread of its own, since the
    # module's browser holds this thread's Playwright loop.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(print_html, render_html(model), out, ReportFormat.PDF, CHROMIUM).result()
    pages = [_words(page.extract_text()) for page in pypdf.PdfReader(out).pages]
    assert len(pages) >= 3, "the report spans several pages, so there are breaks to check"
    # Each chart's title (its top) and its lowest text (an axis title or the last legend entry)
    # as laid out at the PDF's width; a chart cut by a break has them on different pages.
    opened = open_report(browser, model, tmp_path / "report.html", width=PDF_LAYOUT_WIDTH_PX)
    ends = opened.page.evaluate(_CHART_ENDS)
    opened.page.close()
    assert len(ends) == len({c.chart_id for s in build_charts(model).values() for c in s})
    for chart in ends:
        top, bottom = _words(chart["top"]), _words(chart["bottom"])
        on = [i for i, text in enumerate(pages) if top in text]
        assert on, f"{chart['id']}: title {top!r} is not in the PDF"
        assert any(bottom in pages[i] for i in on), (
            f"{chart['id']} is cut by a page break: {top!r} on page {on[0] + 1}, {bottom!r} elsewhere"
        )
