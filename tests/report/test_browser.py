"""The report in a real headless Chromium: charts draw, nothing errors, hostile titles stay text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tubescope.report.html import render_html
from tubescope.report.model import ReportModel

from .conftest import HOSTILE_TITLE

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Marks a chart draws only when it has data: lines and fills, bars, heatmap images, error bars.
_PLOT_MARKS = (
    ".scatterlayer path.js-line, .scatterlayer path.js-fill, .scatterlayer .point, "
    ".barlayer path, .hm image, .errorbar path"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not at /usr/bin/chromium: run `make browser` (needs root apt-get)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _open(browser: Any, path: Path) -> tuple[Any, dict[str, list[str]]]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    seen: dict[str, list[str]] = {"errors": [], "dialogs": [], "requests": []}
    page.on(
        "console", lambda message: seen["errors"].append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))

    def on_dialog(dialog: Any) -> None:
        seen["dialogs"].append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("request", lambda request: seen["requests"].append(request.url))
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function("document.querySelectorAll('.plotly-graph-div svg.main-svg').length > 0")
    return page, seen


def test_report_renders_every_chart_without_errors(browser: Any, model: ReportModel, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    report.write_text(render_html(model), encoding="utf-8")
    page, seen = _open(browser, report)

    charts = page.evaluate(
        """(marks) => Array.from(document.querySelectorAll('.plotly-graph-div')).map(div => ({
            id: div.id,
            svgs: div.querySelectorAll('svg.main-svg').length,
            marks: div.querySelectorAll(marks).length,
        }))""",
        _PLOT_MARKS,
    )
    assert {chart["id"] for chart in charts} == {
        "chart-growth-0",
        "chart-bands",
        "chart-formats",
        "chart-heatmap",
        "chart-correlation",
        "chart-ab",
        "chart-peers",
    }
    for chart in charts:
        assert chart["svgs"] >= 1 and chart["marks"] >= 1, f"{chart['id']} drew no data: {chart}"

    assert seen["errors"] == []
    assert seen["dialogs"] == [], "a title's <script> ran"
    assert seen["requests"] == [report.as_uri()], "the report fetched something beyond itself"

    # The hostile title is visible as text in the outliers table and in the chart legend.
    assert HOSTILE_TITLE in page.inner_text("#outliers")
    legend = page.evaluate(
        "Array.from(document.querySelectorAll('#chart-bands .legendtext')).map(t => t.textContent)"
    )
    assert any("<script>alert(1)</script>" in text for text in legend)
    assert page.evaluate("document.querySelectorAll('main img').length") == 0

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report-full.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000
    page.close()
