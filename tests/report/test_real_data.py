"""A report of a real channel (yt-channel-tracker-2026): sparse snapshots, rounded subscribers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest

from tubescope.analysis.benchmark import benchmark_channel
from tubescope.analysis.summary import analyze_channel, fleet_kpis
from tubescope.report.adapter import build_report_model
from tubescope.report.html import build_charts
from tubescope.report.model import ReportModel
from tubescope.report.recommendations import build_recommendations

from .browser_helpers import assert_every_chart_drew, keep_screenshot, open_report
from .real_frames import TRACKER, busiest_channels, real_frames

NOW = datetime(2026, 2, 15, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def real_model() -> tuple[str, ReportModel]:
    ids = busiest_channels(4)
    frames = real_frames(ids)
    fleet = fleet_kpis(frames, NOW)
    model = build_report_model(
        analyze_channel(frames, ids[0], NOW),
        frames,
        now=NOW,
        benchmark=benchmark_channel(fleet, ids[0]),
        fleet=fleet,
    )
    return ids[0], model


def test_kpis_agree_with_the_raw_daily_file(real_model: tuple[str, ReportModel]) -> None:
    channel_id, model = real_model
    daily = pd.read_csv(TRACKER / "youtube_daily_snapshots.csv", encoding="utf-8-sig")
    mine = daily[daily["channel_id"] == channel_id].sort_values("date_utc")
    in_window = mine[pd.to_datetime(mine["date_utc"], utc=True) + pd.Timedelta(hours=12) <= NOW]
    start_day = (model.window.start - pd.Timedelta(hours=12)).strftime("%Y-%m-%d")
    at_start = mine[mine["date_utc"] <= start_day]
    kpis = {k.key: k for k in model.kpis}
    if len(at_start):
        expected = in_window["subscribers"].iloc[-1] - at_start["subscribers"].iloc[-1]
        assert kpis["subscribers_gained"].value == expected
    # The tracker starts 2026-01-17: the previous period has no start value, so no made-up delta.
    assert kpis["views_gained"].previous is None and kpis["views_gained"].delta is None
    assert model.header.subscriber_count == int(in_window["subscribers"].iloc[-1])


def test_real_report_has_growth_timing_formats_and_peers(real_model: tuple[str, ReportModel]) -> None:
    _, model = real_model
    assert {"growth", "formats", "heatmap", "correlation", "peers"} <= set(build_charts(model))
    assert model.peers is not None and len(model.peers.channels) == 4
    # Two snapshots a week apart cannot place videos at 1..28 days of age for bands: none are invented.
    assert model.percentile_bands is None or len(model.percentile_bands.age_days) >= 2
    for rec in build_recommendations(model):
        assert any(ch.isdigit() for ch in rec.evidence)


@pytest.mark.browser
def test_real_report_renders_in_chromium(
    real_model: tuple[str, ReportModel], browser: Any, tmp_path: Any
) -> None:
    _, model = real_model
    opened = open_report(browser, model, tmp_path / "real.html")
    assert_every_chart_drew(opened, model)
    assert model.header.title in opened.page.inner_text("#channel-title")
    keep_screenshot(opened, "report-real-channel.png")
    opened.page.close()
