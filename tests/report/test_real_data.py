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
    mine = daily[daily["channel_id"] == channel_id].assign(
        at=lambda d: pd.to_datetime(d["date_utc"], utc=True) + pd.Timedelta(hours=12)
    )

    def at(moment: object, column: str) -> int:
        return int(mine[mine["at"] <= moment].sort_values("at")[column].iloc[-1])

    window = model.window
    # 29 days from the first to the last snapshot: the last 14 days against the 14 before, said so.
    assert window.end - window.start == window.previous_end - window.previous_start == pd.Timedelta(days=14)
    assert any(w.startswith("Only 29 days of channel snapshots") for w in model.warnings)
    kpis = {k.key: k for k in model.kpis}
    for key, column in (("views_gained", "views"), ("subscribers_gained", "subscribers")):
        assert kpis[key].value == at(window.end, column) - at(window.start, column)
        assert kpis[key].previous == at(window.start, column) - at(window.previous_start, column)
    assert model.header.subscriber_count == at(window.end, "subscribers")


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
