"""The report in a real headless Chromium: charts draw, nothing errors, hostile titles stay text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tubescope.report.html import build_charts
from tubescope.report.model import ReportModel

from .browser_helpers import assert_every_chart_drew, keep_screenshot, open_report
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
