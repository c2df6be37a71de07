"""The terminal summary as a person reads it."""

from __future__ import annotations

import dataclasses

from rich.console import Console

from tubescope.report.model import ReportModel
from tubescope.report.terminal import render_summary

from .conftest import HOSTILE_CHANNEL


def _text(model: ReportModel, width: int = 200) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(render_summary(model))
    return console.export_text()


def test_summary_shows_kpis_outliers_best_time_and_recommendations(model: ReportModel) -> None:
    text = _text(model)
    assert "Views in window" in text and "120k" in text and "+20.0%" in text
    assert "Median engagement rate (derived)" in text
    assert "Top outliers" in text and "A quiet one" in text
    assert "Best publish time: Shorts at Tue 17:00 UTC: 1.80x the channel's median views" in text
    assert "(95% CI 1.30–2.40, n=42)" in text
    assert "Recommendations (derived)" in text and "Schedule shorts for Tue 17:00 UTC" in text
    assert "note: YouTube changed how Shorts views count" in text


def test_rich_markup_in_youtube_strings_prints_literally(model: ReportModel) -> None:
    text = _text(model)
    assert HOSTILE_CHANNEL in text  # "[red]...[/red]" is not swallowed as markup


def test_summary_of_an_empty_window_says_so(model: ReportModel) -> None:
    empty = dataclasses.replace(
        model,
        kpis=(),
        outliers=(),
        heatmap=None,
        formats=(),
        ab_tests=(),
        correlation=None,
        peers=None,
        growth=(),
    )
    text = _text(empty)
    assert "no figures for this window" in text
    assert "No recommendation has enough evidence yet." in text
    assert "Top outliers" not in text and "Best publish time" not in text
