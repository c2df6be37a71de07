"""Analysis results of planted channels, mapped into a ReportModel: the planted truth shows up."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from tests.analysis.planted_frames import NOW, Planted, PlantedChannel, build_channel, combine
from tubescope.analysis.abtest import run_ab_test
from tubescope.analysis.benchmark import benchmark_channel
from tubescope.analysis.frames import ChannelFrames
from tubescope.analysis.summary import ChannelAnalysis, analyze_channel, fleet_kpis
from tubescope.analysis.timeseries import DAILY_FORECAST_METHOD
from tubescope.report.adapter import ReportOptions, build_report_model
from tubescope.report.html import build_charts, render_html
from tubescope.report.model import ReportModel
from tubescope.report.recommendations import build_recommendations

from .conftest import HOSTILE_TITLE

TUESDAY = 1
_ANALYSES: dict[str, ChannelAnalysis] = {}  # the fixture's analysis, for tests that re-map it


@pytest.fixture(scope="module")
def planted() -> tuple[PlantedChannel, ChannelFrames, ReportModel]:
    subject = build_channel(Planted(weekday_lift={TUESDAY: 1.8}, seed=3))
    # A breakout's title is hostile: it must travel to the page as text.
    videos = subject.frames.videos.copy()
    videos.loc[videos["video_id"] == subject.breakout_ids[0], "title"] = HOSTILE_TITLE
    subject = dataclasses.replace(subject, frames=dataclasses.replace(subject.frames, videos=videos))
    peers = [
        build_channel(Planted(channel_id=f"UCpeer{i:018d}", seed=10 + i, base_views=5_000.0 * (i + 1)))
        for i in range(4)
    ]
    frames = combine(subject, *peers)
    channel_id = "UCplanted000000000000000"
    analysis = analyze_channel(frames, channel_id, NOW)
    _ANALYSES[channel_id] = analysis
    fleet = fleet_kpis(frames, NOW)
    ab = run_ab_test(combine(subject), "weekday = tue", now=NOW)
    model = build_report_model(
        analysis, frames, now=NOW, benchmark=benchmark_channel(fleet, channel_id), fleet=fleet, ab_tests=[ab]
    )
    return subject, frames, model


def test_kpis_match_an_independent_count(planted: tuple[PlantedChannel, ChannelFrames, ReportModel]) -> None:
    subject, _, model = planted
    kpis = {k.key: k for k in model.kpis}
    published = pd.to_datetime(subject.frames.videos["published_at"], utc=True)
    start, previous = NOW - timedelta(days=28), NOW - timedelta(days=56)
    assert kpis["uploads"].value == ((published > start) & (published <= NOW)).sum()
    assert kpis["uploads"].previous == ((published > previous) & (published <= start)).sum()

    snaps = subject.frames.channel_snapshots.sort_values("observed_at")

    def total_at(moment: object) -> float:
        return float(snaps[snaps["observed_at"] <= moment]["view_count"].iloc[-1])

    assert kpis["views_gained"].value == pytest.approx(total_at(NOW) - total_at(start))
    assert kpis["views_gained"].previous == pytest.approx(total_at(start) - total_at(previous))
    assert kpis["engagement_median"].derived and kpis["median_views_7d"].derived
    assert model.window.previous_end == model.window.start
    assert model.window.end - model.window.start == model.window.previous_end - model.window.previous_start


def test_planted_tuesday_lift_is_found_and_recommended(
    planted: tuple[PlantedChannel, ChannelFrames, ReportModel],
) -> None:
    _, _, model = planted
    assert model.heatmap is not None
    weekday_slot = next(s for s in model.heatmap.best_slots if s.weekday is not None)
    assert weekday_slot.weekday == TUESDAY and weekday_slot.ci_low > 1.0
    tuesday_cells = [v for v in model.heatmap.values[TUESDAY] if v is not None]
    other_cells = [v for day in (0, 2, 3, 4) for v in model.heatmap.values[day] if v is not None]
    assert np.median(tuesday_cells) > np.median(other_cells)
    timing = [r for r in build_recommendations(model) if r.topic == "timing"]
    assert timing and "Tue" in timing[0].headline and "95% CI" in timing[0].evidence


def test_planted_breakouts_are_the_top_outliers(
    planted: tuple[PlantedChannel, ChannelFrames, ReportModel],
) -> None:
    subject, _, model = planted
    over = {o.video_id for o in model.outliers if o.direction == "over"}
    breakouts = set(subject.breakout_ids)
    assert len(over & breakouts) >= 0.6 * len(breakouts)
    top = model.outliers[0]
    assert top.ratio is not None and top.ratio > 3


def test_ab_result_keeps_the_tested_feature_as_treatment(
    planted: tuple[PlantedChannel, ChannelFrames, ReportModel],
) -> None:
    _, _, model = planted
    assert model.ab_tests
    headline = max(model.ab_tests, key=lambda t: min(t.n_a, t.n_b))
    assert headline.name == "weekday = tue" and headline.group_b == "weekday = tue"
    assert headline.scope in ("Shorts", "Long-form videos")
    assert headline.effect > 1.2 and headline.ci_low > 1.0 and headline.significant


def test_peers_hold_every_channel_with_the_benchmark_percentiles(
    planted: tuple[PlantedChannel, ChannelFrames, ReportModel],
) -> None:
    _, frames, model = planted
    assert model.peers is not None
    assert len(model.peers.channels) == frames.channels["channel_id"].nunique() == 5
    assert model.peers.channels[model.peers.subject_index].channel_id == "UCplanted000000000000000"
    # The subject has the highest base views: it leads on views per subscriber.
    views = next(m for m in model.peers.metrics if m.key == "views_per_subscriber")
    assert views.subject_percentile == 100.0


def test_growth_forecast_continues_the_trajectory(
    planted: tuple[PlantedChannel, ChannelFrames, ReportModel],
) -> None:
    _, _, model = planted
    subscribers = next(g for g in model.growth if g.metric == "Subscribers")
    band = subscribers.forecast
    assert band is not None and len(band.times) == 28
    assert band.times[0] > subscribers.observed.times[-1]
    assert all(lo <= m <= hi for lo, m, hi in zip(band.lower, band.mean, band.upper, strict=True))
    assert band.mean[0] == pytest.approx(subscribers.observed.values[-1], rel=0.01)


def test_percentile_bands_are_ordered_and_grow_with_age(
    planted: tuple[PlantedChannel, ChannelFrames, ReportModel],
) -> None:
    _, _, model = planted
    bands = model.percentile_bands
    assert bands is not None and len(bands.age_days) >= 5
    rows = dict(zip(bands.percentiles, bands.bands, strict=True))
    for i in range(len(bands.age_days)):
        assert rows[10][i] <= rows[25][i] <= rows[50][i] <= rows[75][i] <= rows[90][i]
    assert list(rows[50]) == sorted(rows[50])  # cumulative views never shrink with age


def test_format_split_accounts_for_every_video(
    planted: tuple[PlantedChannel, ChannelFrames, ReportModel],
) -> None:
    subject, _, model = planted
    assert sum(f.n_videos for f in model.formats) == len(subject.frames.videos)
    assert sum(f.share_of_views for f in model.formats) == pytest.approx(1.0)
    for stat in model.formats:
        assert stat.median_views_ci is not None
        assert stat.median_views_ci[0] <= stat.median_views <= stat.median_views_ci[1]


def test_full_report_from_planted_data_has_every_chart_and_escapes_titles(
    planted: tuple[PlantedChannel, ChannelFrames, ReportModel],
) -> None:
    _, _, model = planted
    charts = build_charts(model)
    assert set(charts) == {"growth", "bands", "formats", "heatmap", "correlation", "ab", "peers"}
    page = render_html(model)
    assert HOSTILE_TITLE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert {o.title for o in model.outliers} & {HOSTILE_TITLE}


def test_window_days_sets_both_compared_periods(
    planted: tuple[PlantedChannel, ChannelFrames, ReportModel],
) -> None:
    _, frames, _ = planted
    week = ReportOptions(window_days=7)
    analysis = _ANALYSES["UCplanted000000000000000"]
    window = build_report_model(analysis, frames, now=NOW, options=week).window
    assert window.end - window.start == window.previous_end - window.previous_start == timedelta(days=7)
    assert window.previous_end == window.start and window.end == NOW


def test_ab_p_values_are_holm_adjusted_like_statsmodels() -> None:
    from statsmodels.stats.multitest import multipletests

    from tubescope.report.adapter import holm_adjusted
    from tubescope.report.model import AbResult

    raw = [0.01, 0.04, 0.03, 0.5, 0.002]
    results = [
        AbResult(f"t{i}", "views", "a", "b", 30, 30, 1.0, 1.5, 1.5, 1.1, 2.0, p_value=p)
        for i, p in enumerate(raw)
    ]
    expected = multipletests(raw, method="holm")[1]
    assert [r.p_adjusted for r in holm_adjusted(results)] == pytest.approx(list(expected))
    # 0.04 alone would pass; after adjusting for five comparisons it does not.
    assert not holm_adjusted(results)[1].significant


def test_analysis_summary_for_the_terminal(
    planted: tuple[PlantedChannel, ChannelFrames, ReportModel],
) -> None:
    from rich.console import Console

    from tubescope.report.terminal import render_analysis_summary

    _, frames, _ = planted
    analysis = _ANALYSES["UCplanted000000000000000"]
    console = Console(width=160, record=True, color_system=None)
    console.print(render_analysis_summary(analysis, frames))
    text = console.export_text()
    assert "Planted channel" in text and "Key figures" in text and "Best publish time: Videos at Tue" in text


def test_short_histories_get_a_window_that_fits_and_say_so(
    planted: tuple[PlantedChannel, ChannelFrames, ReportModel],
) -> None:
    _, frames, _ = planted
    recent = frames.channel_snapshots[frames.channel_snapshots["observed_at"] > NOW - timedelta(days=10)]
    short = dataclasses.replace(frames, channel_snapshots=recent)
    analysis = analyze_channel(short, "UCplanted000000000000000", NOW)
    model = build_report_model(analysis, short, now=NOW)
    assert model.window.end - model.window.start == timedelta(days=4)
    assert any(
        w.startswith("Only 9 days of channel snapshots: the key figures compare the last 4")
        for w in model.warnings
    )
    gained = next(k for k in model.kpis if k.key == "views_gained")
    assert gained.value is not None and gained.previous is not None


def test_daily_views_come_with_the_calibrated_forecast(
    planted: tuple[PlantedChannel, ChannelFrames, ReportModel],
) -> None:
    subject, _, model = planted
    daily = next(g for g in model.growth if g.metric == "Daily views")
    band = daily.forecast
    assert band is not None and band.method == DAILY_FORECAST_METHOD and band.level == 0.8
    assert all(lo <= m <= hi for lo, m, hi in zip(band.lower, band.mean, band.upper, strict=True))
    # Independent check: daily gains straight from the channel's total view count; the forecast
    # starts within the range the last four weeks actually moved in.
    snaps = subject.frames.channel_snapshots.sort_values("observed_at")
    gains = snaps["view_count"].astype(float).diff().iloc[-28:]
    assert gains.min() <= band.mean[0] <= gains.max()
    assert daily.observed.values[-1] == pytest.approx(gains.iloc[-1], rel=0.35)
    assert any("daily views" in r.headline for r in build_recommendations(model) if r.topic == "growth")


def test_without_young_snapshots_the_bands_are_a_labelled_cross_section(
    planted: tuple[PlantedChannel, ChannelFrames, ReportModel],
) -> None:
    subject, frames, _ = planted
    last_only = frames.video_snapshots.sort_values("observed_at").drop_duplicates("video_id", keep="last")
    sparse = dataclasses.replace(frames, video_snapshots=last_only)
    model = build_report_model(analyze_channel(sparse, "UCplanted000000000000000", NOW), sparse, now=NOW)
    bands = model.percentile_bands
    assert bands is not None and "cross-section" in bands.reference
    # Independent: the median of long-form videos aged 30-60 days, from the raw frame.
    videos = subject.frames.videos[subject.frames.videos["video_format"] == "long"]
    age = (pd.Timestamp(NOW) - pd.to_datetime(videos["published_at"], utc=True)).dt.total_seconds() / 86400
    expected = float(np.median(videos[(age >= 30) & (age < 60)]["view_count"].astype(float)))
    median = dict(zip(bands.percentiles, bands.bands, strict=True))[50]
    assert median[bands.age_days.index(pytest.approx((30 * 60) ** 0.5))] == pytest.approx(expected)


def _small() -> ChannelFrames:
    return build_channel(Planted(n_videos=30, days=40)).frames


def test_a_channel_without_videos_still_gets_a_report() -> None:
    frames = _small()
    empty = dataclasses.replace(
        frames, videos=frames.videos.iloc[0:0], video_snapshots=frames.video_snapshots.iloc[0:0]
    )
    model = build_report_model(analyze_channel(empty, "UCplanted000000000000000", NOW), empty, now=NOW)
    assert model.formats == () and model.heatmap is None and model.outliers == ()
    assert next(k for k in model.kpis if k.key == "uploads").value == 0
    assert "No videos in the window." in render_html(model)


def test_hidden_subscribers_are_shown_as_hidden_not_zero() -> None:
    frames = _small()
    hidden = dataclasses.replace(
        frames,
        channels=frames.channels.assign(hidden_subscriber_count=True),
        channel_snapshots=frames.channel_snapshots.assign(subscriber_count=pd.NA).astype(
            {"subscriber_count": "Int64"}
        ),
    )
    model = build_report_model(analyze_channel(hidden, "UCplanted000000000000000", NOW), hidden, now=NOW)
    assert model.header.subscriber_count is None
    kpis = {k.key: k for k in model.kpis}
    assert kpis["subscribers"].value is None and kpis["subscribers_gained"].value is None
    assert "subscribers hidden" in render_html(model)
    assert all(g.metric != "Subscribers" for g in model.growth)


def test_a_report_dated_after_the_last_collection_says_so_and_invents_no_gains(
    planted: tuple[PlantedChannel, ChannelFrames, ReportModel],
) -> None:
    _, frames, _ = planted
    later = NOW + timedelta(days=40)
    model = build_report_model(_ANALYSES["UCplanted000000000000000"], frames, now=later)
    kpis = {k.key: k for k in model.kpis}
    assert kpis["views_gained"].value is None and kpis["subscribers_gained"].value is None
    assert any("40 days before this report's date" in w for w in model.warnings)


def test_observed_early_points_set_the_first_day_band(
    planted: tuple[PlantedChannel, ChannelFrames, ReportModel],
) -> None:
    subject, frames, _ = planted
    videos = subject.frames.videos
    published = pd.to_datetime(videos["published_at"], utc=True)
    sampled = videos[published + timedelta(hours=24.5) <= NOW]
    observed = np.arange(len(sampled)) + 10_000_000  # far above any interpolated first-day figure
    early = pd.DataFrame(
        {
            "video_id": sampled["video_id"].astype(str).to_numpy(),
            "slot_hours": 24.0,
            "view_count": observed,
            "observed_at": pd.to_datetime(sampled["published_at"], utc=True) + timedelta(hours=24.5),
        }
    )
    watched = dataclasses.replace(frames, early_points=early)
    analysis = _ANALYSES["UCplanted000000000000000"]
    model = build_report_model(analysis, watched, now=NOW)
    bands = model.percentile_bands
    assert bands is not None and bands.age_days[0] == 1
    main_format = str(videos["video_format"].astype(str).value_counts().idxmax())
    own = sampled["video_format"].astype(str).to_numpy() == main_format
    rows = dict(zip(bands.percentiles, bands.bands, strict=True))
    assert rows[50][0] == pytest.approx(float(np.median(observed[own])))


def test_early_curves_mark_stored_samples_observed_and_the_rest_interpolated_or_missing(
    planted: tuple[PlantedChannel, ChannelFrames, ReportModel],
) -> None:
    subject, frames, unwatched = planted
    assert unwatched.early_curves == ()  # nothing watched young: no table of fake early curves
    videos = subject.frames.videos
    newest = videos.assign(published_at=pd.to_datetime(videos["published_at"], utc=True)).nlargest(
        3, "published_at"
    )
    sampled = newest[newest["published_at"] + timedelta(hours=24.5) <= NOW]
    assert len(sampled)
    early = pd.DataFrame(
        {
            "video_id": sampled["video_id"].astype(str).to_numpy(),
            "slot_hours": 24.0,
            "view_count": np.arange(len(sampled)) + 5_000_000,
            "observed_at": sampled["published_at"] + timedelta(hours=24.5),
        }
    )
    model = build_report_model(
        _ANALYSES["UCplanted000000000000000"], dataclasses.replace(frames, early_points=early), now=NOW
    )
    curves = {curve.video_id: curve for curve in model.early_curves}
    assert set(curves) == set(early["video_id"])
    for video_id, views in zip(early["video_id"], early["view_count"], strict=True):
        points = {p.age_label: p for p in curves[video_id].points}
        assert (points["24h"].source, points["24h"].views) == ("observed", float(views))
        for label in ("1h", "6h", "72h"):
            assert points[label].source in {"interpolated", "missing"}
            assert (points[label].views is None) == (points[label].source == "missing")
            assert points[label].source != "missing" or points[label].note
    published = [curve.published_at for curve in model.early_curves]
    assert published == sorted(published, reverse=True)


def test_without_channel_snapshots_and_across_a_view_counting_change_the_report_says_so() -> None:
    frames = _small()
    bare = dataclasses.replace(frames, channel_snapshots=frames.channel_snapshots.iloc[0:0])
    analysis = analyze_channel(bare, "UCplanted000000000000000", NOW)
    model = build_report_model(analysis, bare, now=NOW, options=ReportOptions(window_days=500))
    assert "No channel snapshots: growth and the key figures need at least two collections." in model.warnings
    kpis = {k.key: k for k in model.kpis}
    assert kpis["subscribers"].value is None  # unknown, not 0
    # the compared periods reach back past 2025-03-31, when Shorts views changed meaning
    shorts = [n for n in model.window.notes if "2025-03-31" in n]
    assert len(shorts) == 1 and "(Shorts: Shorts views count when playback starts)" in shorts[0]
    assert "not directly comparable" in render_html(model)
