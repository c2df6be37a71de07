"""Opening a rendered report in headless Chromium and checking what a reader would see."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tubescope.report.html import build_charts, render_html
from tubescope.report.model import ReportModel

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Marks a chart draws only when it has data: lines and fills, bars, heatmap images, error bars.
_PLOT_MARKS = (
    ".scatterlayer path.js-line, .scatterlayer path.js-fill, .scatterlayer .point, "
    ".barlayer path, .hm image, .errorbar path"
)


class OpenedReport:
    def __init__(self, page: Any, url: str) -> None:
        self.page = page
        self.url = url
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []


def open_report(browser: Any, model: ReportModel, path: Path, width: int = 1280) -> OpenedReport:
    path.write_text(render_html(model), encoding="utf-8")
    page = browser.new_page(viewport={"width": width, "height": 900})
    opened = OpenedReport(page, path.as_uri())
    page.on(
        "console", lambda message: opened.errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: opened.errors.append(str(error)))

    def on_dialog(dialog: Any) -> None:
        opened.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("request", lambda request: opened.requests.append(request.url))
    page.goto(opened.url, wait_until="load")
    page.wait_for_function(
        "Array.from(document.querySelectorAll('.plotly-graph-div'))"
        ".every(d => d.querySelector('svg.main-svg'))"
    )
    return opened


def assert_every_chart_drew(opened: OpenedReport, model: ReportModel) -> None:
    charts = opened.page.evaluate(
        """(marks) => Array.from(document.querySelectorAll('.plotly-graph-div')).map(div => ({
            id: div.id,
            svgs: div.querySelectorAll('svg.main-svg').length,
            marks: div.querySelectorAll(marks).length,
        }))""",
        _PLOT_MARKS,
    )
    expected = {chart.chart_id for section in build_charts(model).values() for chart in section}
    assert {chart["id"] for chart in charts} == expected
    for chart in charts:
        assert chart["svgs"] >= 1 and chart["marks"] >= 1, f"{chart['id']} drew no data: {chart}"
    assert opened.errors == []
    assert opened.dialogs == [], "a title's <script> ran"
    assert opened.requests == [opened.url], "the report fetched something beyond itself"


def keep_screenshot(opened: OpenedReport, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / name
    opened.page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000
    return shot
