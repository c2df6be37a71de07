"""A full ReportModel built by hand, with hostile YouTube strings, for the renderers' tests."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.report.browser_helpers import CHROMIUM, CHROMIUM_ARGS
from tubescope.report.model import (
    AbResult,
    ChannelHeader,
    CorrelationMatrix,
    DataWindow,
    ForecastBand,
    FormatStat,
    GrowthTrajectory,
    Kpi,
    MethodNote,
    OutlierRow,
    PeerChannel,
    PeerComparison,
    PeerMetric,
    PercentileBands,
    PublishHeatmap,
    ReportModel,
    TimeSeries,
    TimeSlotEffect,
    Unit,
    VideoTrajectory,
)

HOSTILE_TITLE = '<script>alert(1)</script> & "quotes" </script><img src=x onerror=alert(2)>'
HOSTILE_CHANNEL = "Chan <b>bold</b> [red]rich markup[/red]"
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _heatmap() -> PublishHeatmap:
    values: list[list[float | None]] = []
    counts: list[list[int]] = []
    for weekday in range(7):
        row_v: list[float | None] = []
        row_c: list[int] = []
        for hour in range(24):
            if hour < 6:
                row_v.append(None)
                row_c.append(0)
            else:
                row_v.append(round(0.8 + 0.4 * math.sin(weekday + hour / 4), 3))
                row_c.append(3 + (weekday + hour) % 5)
        values.append(row_v)
        counts.append(row_c)
    values[1][17] = 1.8
    counts[1][17] = 42
    return PublishHeatmap(
        values=tuple(tuple(r) for r in values),
        counts=tuple(tuple(r) for r in counts),
        best_slots=(
            TimeSlotEffect(weekday=1, hour=17, lift=1.8, ci_low=1.3, ci_high=2.4, n=42, video_format="short"),
            TimeSlotEffect(weekday=4, hour=9, lift=1.3, ci_low=0.9, ci_high=1.7, n=12, video_format="long"),
        ),
    )


def build_model(*, title: str = HOSTILE_TITLE, channel: str = HOSTILE_CHANNEL) -> ReportModel:
    start = NOW - timedelta(days=28)
    days = [start - timedelta(days=60) + timedelta(days=i) for i in range(89)]
    subs = [10_000 + 40 * i for i in range(89)]
    future = [NOW + timedelta(days=i) for i in range(1, 31)]
    mean = [subs[-1] + 40 * i for i in range(1, 31)]
    ages = tuple(float(a) for a in (1, 2, 3, 7, 14, 28))
    median = tuple(1000 * math.log1p(a) + 500 for a in ages)
    variables = ("views_7d", "tag_count", "title_length", "duration_min")
    coefficients = (
        (1.0, 0.42, -0.05, 0.12),
        (0.42, 1.0, 0.1, 0.0),
        (-0.05, 0.1, 1.0, 0.2),
        (0.12, 0.0, 0.2, 1.0),
    )
    p_values = (
        (0.0, 0.001, 0.6, 0.2),
        (0.001, 0.0, 0.3, 0.9),
        (0.6, 0.3, 0.0, 0.04),
        (0.2, 0.9, 0.04, 0.0),
    )
    return ReportModel(
        header=ChannelHeader(
            channel_id="UCabcdefghijklmnopqrstuv",
            title=channel,
            handle="@chan",
            subscriber_count=13_520,
            view_count=4_200_000,
            video_count=210,
        ),
        window=DataWindow(
            start=start,
            end=NOW,
            previous_start=start - timedelta(days=28),
            previous_end=start,
            generated_at=NOW,
            n_videos=210,
            n_video_snapshots=5400,
            n_channel_snapshots=89,
            sources=("youtube-data-api-v3",),
            run_ids=("run-1", "run-2"),
            notes=("YouTube changed how Shorts views count on 2025-03-31.",),
        ),
        kpis=(
            Kpi("views", "Views in window", 120_000, 100_000),
            Kpi("subscribers_gained", "Subscribers gained", 1_120, 1_300),
            Kpi("uploads", "Uploads", 12, 12),
            Kpi("engagement_rate", "Median engagement rate", 0.041, 0.036, unit=Unit.PERCENT, derived=True),
        ),
        growth=(
            GrowthTrajectory(
                metric="Subscribers",
                observed=TimeSeries("Subscribers", tuple(days), tuple(float(s) for s in subs)),
                forecast=ForecastBand(
                    times=tuple(future),
                    mean=tuple(float(m) for m in mean),
                    lower=tuple(m - 30.0 * i for i, m in enumerate(mean, 1)),
                    upper=tuple(m + 30.0 * i for i, m in enumerate(mean, 1)),
                    level=0.8,
                    method="ETS",
                ),
                changepoints=(days[40],),
            ),
        ),
        percentile_bands=PercentileBands(
            metric="Views",
            age_days=ages,
            percentiles=(10, 25, 50, 75, 90),
            bands=tuple(tuple(m * f for m in median) for f in (0.3, 0.6, 1.0, 1.6, 2.8)),
            highlights=(
                VideoTrajectory("vid00000001", title, ages[:4], tuple(m * 2 for m in median[:4]), 88.0),
            ),
        ),
        formats=(
            FormatStat("short", 120, 300_000, 1500.0, 0.25, 0.05, (1300.0, 1700.0)),
            FormatStat("long", 80, 900_000, 8000.0, 0.75, 0.03, (7000.0, 9500.0)),
            FormatStat("live", 2, 1000, 500.0, 0.0, None, None),
        ),
        heatmap=_heatmap(),
        outliers=(
            OutlierRow("vid00000001", title, NOW - timedelta(days=10), "short", 52_000, 6_500.0, 4.2),
            OutlierRow("vid00000002", "A quiet one", NOW - timedelta(days=12), "long", 900, 7_000.0, -3.1),
        ),
        correlation=CorrelationMatrix(variables, coefficients, p_values, n=180, p_adjustment="holm"),
        ab_tests=(
            AbResult(
                "title contains '?'",
                "views at 7 days",
                "the rest",
                "title contains '?'",
                n_a=90,
                n_b=60,
                estimate_a=1500,
                estimate_b=2100,
                effect=1.4,
                ci_low=1.15,
                ci_high=1.7,
                p_value=0.001,
                p_adjusted=0.003,
                method="Mann-Whitney U, bootstrap CI",
                scope="Shorts",
            ),
            AbResult(
                "title contains '!'",
                "views at 7 days",
                "the rest",
                "title contains '!'",
                n_a=100,
                n_b=50,
                estimate_a=1500,
                estimate_b=1560,
                effect=1.04,
                ci_low=0.85,
                ci_high=1.25,
                p_value=0.6,
                p_adjusted=0.6,
                method="Mann-Whitney U, bootstrap CI",
            ),
        ),
        peers=PeerComparison(
            channels=(
                PeerChannel("UCabcdefghijklmnopqrstuv", channel, is_subject=True),
                PeerChannel("UCpeer000000000000000001", "Peer <i>One</i>"),
                PeerChannel("UCpeer000000000000000002", "Peer Two"),
                PeerChannel("UCpeer000000000000000003", "Peer Three"),
            ),
            metrics=(
                PeerMetric(
                    "median_views",
                    "Median views per video",
                    (1800.0, 5000.0, 4200.0, 3900.0),
                    subject_percentile=10.0,
                ),
                PeerMetric(
                    "uploads_per_week",
                    "Uploads per week",
                    (3.0, 1.0, 2.0, 2.5),
                    unit=Unit.PER_WEEK,
                    subject_percentile=90.0,
                ),
                PeerMetric(
                    "engagement",
                    "Engagement rate",
                    (0.041, 0.03, 0.05, 0.02),
                    unit=Unit.PERCENT,
                    derived=True,
                    subject_percentile=60.0,
                ),
            ),
        ),
        methods=(
            MethodNote(
                "Engagement rate", "(likes + comments) / views per video, median over videos; derived."
            ),
            MethodNote(
                "Outlier", "Robust z-score of log views against same-age, same-format videos; |z| >= 3."
            ),
        ),
    )


@pytest.fixture
def model() -> ReportModel:
    return build_model()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not at /usr/bin/chromium: run `make browser` (needs root apt-get)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()
