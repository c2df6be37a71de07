"""Daily channel views as a time series: the weekly season, forecasts and breaks that were planted
are recovered, intervals cover what happens next at about their nominal rate, and short or
gappy histories are handled and explained."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tubescope.analysis.frames import ChannelFrames
from tubescope.analysis.timeseries import (
    WEEKDAY_NAMES,
    ChangePointResult,
    DailyViews,
    InsufficientHistory,
    SeasonalDecomposition,
    ViewsForecast,
    analyze_timeseries,
    daily_channel_views,
    decompose_weekly,
    detect_change_points,
    forecast_views,
)
from tubescope.emulator.world import World
from tubescope.errors import ConfigError, DataQualityError

REAL_DAILY = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared"
    / "data"
    / "real"
    / "yt-channel-tracker-2026"
    / "youtube_daily_snapshots.csv"
)


def simulated_daily(
    seed: int,
    *,
    days: int = 400,
    start: str = "2025-06-01",
    peak_weekday: int = 5,
    amplitude: float = 0.25,
    break_day: int | None = None,
    break_size: float = 0.4,
    noise_sd: float = 0.15,
    autocorrelation: float = 0.5,
    growth_per_year: float = 0.4,
) -> DailyViews:
    """Log daily views = level + growth + weekly cosine peaking on ``peak_weekday`` + AR(1) noise
    (+ a level step at ``break_day``)."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(start, periods=days, freq="D")
    weekly = amplitude * np.cos(2 * np.pi * (index.day_of_week.to_numpy() - peak_weekday) / 7)
    noise = np.zeros(days)
    shocks = rng.normal(0, noise_sd, days)
    for t in range(1, days):
        noise[t] = autocorrelation * noise[t - 1] + shocks[t]
    log_views = math.log(4000) + growth_per_year * np.arange(days) / 365 + weekly + noise
    if break_day is not None:
        log_views = log_views + np.where(np.arange(days) >= break_day, break_size, 0.0)
    return DailyViews("UCsimulated000000000000", pd.Series(np.expm1(log_views), index=index), 0, 0)


def snapshots_from_daily(daily: pd.Series, channel_id: str, *, hour: int = 0) -> pd.DataFrame:
    """Channel snapshots a daily collector would have stored for a known daily-views series."""
    totals = np.concatenate([[1_000_000.0], 1_000_000.0 + np.cumsum(daily.to_numpy())])
    observed = pd.date_range(daily.index[0], periods=len(totals), freq="D", tz="UTC") + pd.Timedelta(
        hours=hour
    )
    return pd.DataFrame(
        {
            "channel_id": channel_id,
            "observed_at": observed,
            "subscriber_count": pd.array([None] * len(totals), dtype="Int64"),
            "view_count": pd.array(np.round(totals).astype(np.int64), dtype="Int64"),
            "video_count": pd.array([10] * len(totals), dtype="Int64"),
        }
    )


# --- daily views from snapshots --------------------------------------------------------------


def test_daily_views_are_the_daily_gains_of_the_total() -> None:
    truth = pd.Series([100.0, 250.0, 80.0, 0.0, 40.0], index=pd.date_range("2026-01-01", periods=5, freq="D"))
    daily = daily_channel_views(snapshots_from_daily(truth, "UCa"), "UCa")
    assert daily.views.tolist() == truth.tolist()
    assert list(daily.views.index) == list(truth.index)
    assert daily.interpolated_days == 0 and daily.negative_days == 0 and daily.notes == ()


def test_gaps_are_filled_by_interpolation_and_said_so() -> None:
    truth = pd.Series([100.0] * 10, index=pd.date_range("2026-01-01", periods=10, freq="D"))
    snapshots = snapshots_from_daily(truth, "UCa").drop(index=[3, 4, 5]).reset_index(drop=True)
    daily = daily_channel_views(snapshots)
    assert daily.n_days == 10
    assert daily.views.sum() == pytest.approx(1000.0)
    assert daily.views.iloc[2:6].tolist() == pytest.approx([100.0] * 4)  # the 400 views shared evenly
    assert daily.interpolated_days == 3
    assert any("linear interpolation" in note for note in daily.notes)


def test_a_falling_total_counts_as_zero_views_and_is_reported() -> None:
    snapshots = snapshots_from_daily(
        pd.Series([100.0, -30.0, 50.0], index=pd.date_range("2026-01-01", periods=3, freq="D")), "UCa"
    )
    daily = daily_channel_views(snapshots)
    assert daily.views.tolist() == [100.0, 0.0, 50.0]
    assert daily.negative_days == 1
    assert any("went down" in note for note in daily.notes)


def test_snapshots_taken_mid_morning_are_split_at_midnight() -> None:
    truth = pd.Series([240.0] * 6, index=pd.date_range("2026-01-01", periods=6, freq="D"))
    daily = daily_channel_views(snapshots_from_daily(truth, "UCa", hour=6))
    # Collected at 06:00 each day: full UTC days run from the first to the last midnight covered.
    assert daily.views.index[0] == pd.Timestamp("2026-01-02")
    assert daily.views.tolist() == pytest.approx([240.0] * 5)


def test_choosing_among_several_channels_is_explicit() -> None:
    truth = pd.Series([1.0, 2.0], index=pd.date_range("2026-01-01", periods=2, freq="D"))
    both = pd.concat([snapshots_from_daily(truth, "UCa"), snapshots_from_daily(truth, "UCb")])
    with pytest.raises(ConfigError, match="2 channels"):
        daily_channel_views(both)
    with pytest.raises(ConfigError, match="UCc"):
        daily_channel_views(both, "UCc")
    assert daily_channel_views(both, "UCb").channel_id == "UCb"
    with pytest.raises(ConfigError, match="no channel snapshots"):
        daily_channel_views(pd.DataFrame())
    with pytest.raises(DataQualityError, match="view_count"):
        daily_channel_views(both.drop(columns=["view_count"]))


@pytest.fixture(scope="module")
def emulator_channel() -> tuple[ChannelFrames, str, pd.Series]:
    """Sixty daily collections of one emulator channel, and the daily views the world generated."""
    from tubescope.emulator.world import World
    from tubescope.testing import world_frames

    world = World(seed=5, n_channels=8)
    channel_id = world.channel_id(2)
    times = [datetime(2025, 5, 1, tzinfo=UTC) + timedelta(days=k) for k in range(61)]
    frames = ChannelFrames(**world_frames(world, [channel_id], times))
    return frames, channel_id, world.channel_daily_views(channel_id, date(2025, 5, 1), date(2025, 6, 29))


def test_daily_views_from_the_emulator_match_its_own_daily_series(
    emulator_channel: tuple[ChannelFrames, str, pd.Series],
) -> None:
    frames, channel_id, truth = emulator_channel
    daily = daily_channel_views(frames.channel_snapshots, channel_id)
    assert daily.n_days == 60
    assert daily.views.to_numpy() == pytest.approx(truth.to_numpy(dtype="float64"), abs=1.0)


def test_everything_at_once_is_one_plain_json_document(
    emulator_channel: tuple[ChannelFrames, str, pd.Series],
) -> None:
    frames, channel_id, _ = emulator_channel
    result = analyze_timeseries(frames, channel_id=channel_id, now=datetime(2025, 6, 20, tzinfo=UTC), rng=4)
    assert result.daily.n_days == 50  # snapshots after "now" are not looked at
    assert isinstance(result.season, SeasonalDecomposition)
    assert isinstance(result.forecast, ViewsForecast)
    assert [total.days for total in result.forecast.totals] == [30, 90]
    assert result.forecast.totals[0].median < result.forecast.totals[1].median
    assert isinstance(result.change_points, ChangePointResult)
    payload = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert payload["forecast"]["dates"][0] == "2025-06-20"
    assert payload["season"]["peak_weekday"] in WEEKDAY_NAMES
    unknown = analyze_timeseries(
        frames, channel_id="UCnot0collected000000000", now=datetime(2025, 7, 1, tzinfo=UTC)
    )
    assert isinstance(unknown.season, InsufficientHistory) and unknown.daily.n_days == 0


def test_real_daily_channel_snapshots_become_a_gap_free_series() -> None:
    if not REAL_DAILY.exists():
        pytest.skip(f"real data not available at {REAL_DAILY}")
    raw = pd.read_csv(REAL_DAILY, encoding="utf-8-sig")
    counts = raw["channel_id"].value_counts()
    channel_id = str(counts.index[0])
    rows = raw[raw["channel_id"] == channel_id]
    snapshots = pd.DataFrame(
        {
            "channel_id": rows["channel_id"],
            # The tracker records a UTC date; a daily job at noon is the honest reading of it.
            "observed_at": pd.to_datetime(rows["date_utc"], utc=True) + pd.Timedelta(hours=12),
            "view_count": rows["views"].astype("Int64"),
        }
    )
    daily = daily_channel_views(snapshots, channel_id)
    assert daily.n_days == len(rows) - 2  # full UTC days between the first and last noon
    assert (daily.views >= 0).all()
    totals = rows["views"].to_numpy(dtype="float64")
    # Each midnight sits halfway between two noon snapshots: the sum telescopes to these halves.
    expected = (totals[-1] + totals[-2]) / 2 - (totals[0] + totals[1]) / 2
    if daily.negative_days == 0:
        assert daily.views.sum() == pytest.approx(expected)
    result = decompose_weekly(daily)
    assert isinstance(result, SeasonalDecomposition)
    assert set(result.weekday_factors) == set(WEEKDAY_NAMES)
    json.dumps(result.to_dict(), allow_nan=False)


# --- weekly season ---------------------------------------------------------------------------


@pytest.mark.parametrize("peak", range(7))
def test_stl_finds_the_planted_peak_weekday(peak: int) -> None:
    result = decompose_weekly(simulated_daily(peak, peak_weekday=peak, days=120))
    assert isinstance(result, SeasonalDecomposition)
    assert result.peak_weekday == WEEKDAY_NAMES[peak]
    assert result.trough_weekday in {WEEKDAY_NAMES[(peak + 3) % 7], WEEKDAY_NAMES[(peak + 4) % 7]}
    # A cosine of amplitude 0.25 on the log scale: the peak day is about e^0.25 = 1.28x typical.
    assert result.weekday_factors[WEEKDAY_NAMES[peak]] == pytest.approx(math.exp(0.25), rel=0.15)
    assert result.seasonal_strength > 0.5 and result.clear_weekly_pattern


def test_a_flat_week_is_not_dressed_up_as_a_pattern() -> None:
    result = decompose_weekly(simulated_daily(4, days=120, amplitude=0.0))
    assert isinstance(result, SeasonalDecomposition)
    assert not result.clear_weekly_pattern
    assert any("No clear weekly pattern" in note for note in result.notes)


def test_the_emulators_weekly_season_is_recovered_from_daily_snapshots() -> None:
    from tubescope.emulator.world import World

    world = World(seed=5, n_channels=40)
    chosen = []
    for index in range(40):
        truth = world.channel_truth(index)
        ranked = sorted(truth.weekday_multipliers, reverse=True)
        # A peak that stands out from the runner-up, on a channel that uploads at least weekly.
        if ranked[0] - ranked[1] >= 0.05 and truth.uploads_per_week >= 1.0:
            chosen.append(truth)
        if len(chosen) == 6:
            break
    assert len(chosen) == 6
    first = datetime(2025, 3, 1, 1, tzinfo=UTC)  # a daily job just after midnight
    found = []
    for truth in chosen:
        rows = []
        for day in range(366):
            at = first + timedelta(days=day)
            channel = world.observe(at).channel(truth.channel_id)
            assert channel is not None
            rows.append({"channel_id": truth.channel_id, "observed_at": at, "view_count": channel.view_count})
        result = decompose_weekly(daily_channel_views(pd.DataFrame(rows)))
        assert isinstance(result, SeasonalDecomposition)
        planted = WEEKDAY_NAMES[int(np.argmax(truth.weekday_multipliers))]
        found.append((planted, result.peak_weekday))
    matches = sum(planted == recovered for planted, recovered in found)
    assert matches >= 5, found


def test_too_short_a_history_is_a_typed_answer() -> None:
    short = simulated_daily(1, days=10)
    for result in (decompose_weekly(short), forecast_views(short), detect_change_points(short)):
        assert isinstance(result, InsufficientHistory)
        assert result.days_available == 10 and result.days_needed > 10
        payload = result.to_dict()
        assert payload["status"] == "insufficient_data"
        assert "days of views" in payload["reason"]


# --- forecast --------------------------------------------------------------------------------


def simulated_ets(seed: int, days: int, horizon: int) -> tuple[DailyViews, np.ndarray]:
    """A local level with a drifting weekly season (an ETS(A,N,A) process on log views)."""
    rng = np.random.default_rng(seed)
    season = list(rng.normal(0, 0.2, 7) - 0)
    level = math.log(5000)
    values = []
    for t in range(days + horizon):
        shock = rng.normal(0, 0.2)
        values.append(level + season[t % 7] + shock)
        level += 0.2 * shock
        season[t % 7] += 0.05 * shock
    index = pd.date_range("2025-01-01", periods=days, freq="D")
    history = pd.Series(np.expm1(values[:days]), index=index)
    return DailyViews("UCsim", history, 0, 0), np.expm1(np.array(values[days:]))


@pytest.mark.slow
def test_forecast_intervals_cover_held_out_days_at_about_their_nominal_rate() -> None:
    inside = {0.8: 0, 0.95: 0}
    totals_inside = 0
    trials, horizon = 16, 30
    for seed in range(trials):
        history, future = simulated_ets(seed, 150, horizon)
        forecast = forecast_views(history, horizon_days=horizon, rng=seed, n_paths=400)
        assert isinstance(forecast, ViewsForecast)
        for level in inside:
            interval = forecast.interval(level)
            inside[level] += int(
                ((future >= np.array(interval.lower)) & (future <= np.array(interval.upper))).sum()
            )
        _, low, high = forecast.total.intervals[1]
        totals_inside += low <= future.sum() <= high
    points = trials * horizon
    # Days within a series are correlated, so the tolerance is wider than a binomial one.
    assert 0.70 <= inside[0.8] / points <= 0.90, inside
    assert 0.88 <= inside[0.95] / points <= 0.995, inside
    assert totals_inside >= trials - 3


def test_a_forecast_is_ordered_dated_and_plain_json() -> None:
    history = simulated_daily(3, days=200, break_day=None)
    forecast = forecast_views(history, horizon_days=90, levels=(0.8, 0.95), rng=1, n_paths=300)
    assert isinstance(forecast, ViewsForecast)
    assert forecast.horizon_days == 90
    assert forecast.dates[0] == date(2025, 6, 1) + timedelta(days=200)
    narrow, wide = forecast.interval(0.8), forecast.interval(0.95)
    for k in range(90):
        assert wide.lower[k] <= narrow.lower[k] <= forecast.median[k] <= narrow.upper[k] <= wide.upper[k]
    # The planted weekly season carries into the forecast: Saturdays above Tuesdays.
    by_weekday = pd.Series(forecast.median, index=pd.DatetimeIndex(forecast.dates)).groupby(
        lambda d: d.weekday()
    )
    assert by_weekday.mean()[5] > by_weekday.mean()[1]
    again = forecast_views(history, horizon_days=90, rng=1, n_paths=300)
    assert isinstance(again, ViewsForecast) and again.total == forecast.total
    payload = json.loads(json.dumps(forecast.to_dict(), allow_nan=False))
    assert payload["status"] == "ok" and len(payload["dates"]) == 90
    with pytest.raises(ConfigError):
        forecast_views(history, horizon_days=0)
    with pytest.raises(ConfigError):
        forecast_views(history, levels=(1.5,))


# --- change points ---------------------------------------------------------------------------


def test_a_planted_break_is_located_within_a_few_days() -> None:
    located = 0
    trials = 16
    for seed in range(trials):
        size = 0.4 if seed % 2 else -0.4
        result = detect_change_points(simulated_daily(100 + seed, break_day=200, break_size=size))
        assert isinstance(result, ChangePointResult)
        offsets = [(point.date - date(2025, 6, 1)).days - 200 for point in result.change_points]
        near = [
            point for point, offset in zip(result.change_points, offsets, strict=True) if abs(offset) <= 3
        ]
        if near:
            located += 1
            assert (near[0].level_ratio > 1) == (size > 0)
            assert near[0].level_ratio == pytest.approx(math.exp(size), rel=0.2)
    assert located >= trials - 3


def test_steady_growth_and_noise_are_not_called_breaks() -> None:
    false_breaks = 0
    for seed in range(16):
        result = detect_change_points(simulated_daily(seed))
        assert isinstance(result, ChangePointResult)
        false_breaks += len(result.change_points)
    assert false_breaks <= 2


def _surge(seed: int, *, size: float = 1.2, half_life_days: float = 7.0, day: int = 150) -> DailyViews:
    """A steady series whose log views jump by ``size`` on ``day`` and decay back exponentially."""
    base = simulated_daily(seed, days=300, break_day=None)
    t = np.arange(300)
    bump = np.where(t >= day, size * np.exp(-np.log(2) * (t - day) / half_life_days), 0.0)
    views = np.expm1(np.log1p(base.views.to_numpy()) + bump)
    return DailyViews(base.channel_id, pd.Series(views, index=base.views.index), 0, 0)


def test_a_persistent_shift_is_told_from_a_surge_that_decays() -> None:
    planted = date(2025, 6, 1) + timedelta(days=150)
    steps, surges = [], []
    for seed in range(8):
        step = detect_change_points(simulated_daily(seed, days=300, break_day=150, break_size=0.5))
        surge = detect_change_points(_surge(seed))
        assert isinstance(step, ChangePointResult) and isinstance(surge, ChangePointResult)
        steps += [p for p in step.change_points if abs((p.date - planted).days) <= 3]
        near = [p for p in surge.change_points if abs((p.date - planted).days) <= 3]
        surges += near
        # The end of a surge is part of it, not a second (downward) regime change.
        assert len(surge.change_points) == len(near), surge.change_points
    assert len(steps) >= 7 and all(p.persistent and p.kind == "persistent shift" for p in steps), steps
    assert len(surges) >= 5 and all(p.kind == "decaying surge" for p in surges), surges
    assert all(p.retained_share < 0.5 < q.retained_share for p in surges for q in steps)
    assert "decaying surge" in surges[0].describe()
    payload = json.loads(json.dumps(detect_change_points(_surge(0)).to_dict(), allow_nan=False))
    assert payload["method"].startswith("binary segmentation") and payload["break_test_p"] < 0.05
    assert payload["change_points"][0]["persistent"] is False


def test_breaks_are_checked_against_the_view_counting_changes() -> None:
    # 2026-08-27: all formats start counting a view when playback starts.
    start = date(2026, 3, 1)
    at_change = (date(2026, 8, 27) - start).days
    result = detect_change_points(
        simulated_daily(7, start=start.isoformat(), days=300, break_day=at_change, break_size=0.5)
    )
    assert isinstance(result, ChangePointResult)
    point = min(result.change_points, key=lambda p: abs((p.date - date(2026, 8, 27)).days))
    assert point.coincides_with_methodology_change
    assert point.methodology_change is not None and point.methodology_change.formats == "all"
    assert "view-counting change of 2026-08-27" in point.describe()
    assert [c.date for c in result.methodology_changes_in_range] == [date(2026, 8, 27)]
    assert result.undetected_methodology_changes == ()

    elsewhere = detect_change_points(
        simulated_daily(8, start="2025-01-01", days=400, break_day=300, break_size=0.5)
    )
    assert isinstance(elsewhere, ChangePointResult)
    assert any(not p.coincides_with_methodology_change for p in elsewhere.change_points)
    # The Shorts change of 2025-03-31 lies in range but nothing moved then: said plainly.
    assert [c.date for c in elsewhere.undetected_methodology_changes] == [date(2025, 3, 31)]
    assert any("Shorts-only" in note for note in elsewhere.notes)
    payload = json.loads(json.dumps(elsewhere.to_dict(), allow_nan=False))
    assert payload["change_points"][0]["description"].startswith("2025-")
    assert "coincides_with_methodology_change" in payload["change_points"][0]


def _daily_collections(world: World, channel_id: str, middle: date, half_days: int = 60) -> DailyViews:
    """Daily views from a collector that read the channel's total at 01:00 UTC every day."""
    first = datetime.combine(middle, datetime.min.time(), UTC) - timedelta(days=half_days, hours=-1)
    rows = []
    for day in range(2 * half_days + 1):
        at = first + timedelta(days=day)
        channel = world.observe(at).channel(channel_id)
        assert channel is not None
        rows.append({"channel_id": channel_id, "observed_at": at, "view_count": channel.view_count})
    return daily_channel_views(pd.DataFrame(rows))


@pytest.fixture(scope="module")
def steady_uploaders() -> World:
    """Channels that upload about ten times a week for three years.

    A channel that uploads once a week has daily views made of one or two recent videos, and a
    x2 break is no bigger than its swings from one upload to the next; breaks are a question for
    channels whose daily views are not one video's curve.
    """
    return World(seed=9, n_channels=40, videos_per_channel=1500)


def test_the_emulators_planted_trend_breaks_are_located_within_a_few_days(steady_uploaders: World) -> None:
    world = steady_uploaders
    offsets: dict[str, list[int]] = {}
    for truth in world.truth.channels:
        planted = truth.trend_break_date
        if planted is None or truth.published_at.date() > planted - timedelta(days=60):
            continue
        result = detect_change_points(_daily_collections(world, truth.channel_id, planted))
        assert isinstance(result, ChangePointResult)
        offsets[truth.channel_id] = [(point.date - planted).days for point in result.change_points]
        near = [p for p in result.change_points if abs((p.date - planted).days) <= 5]
        if near:
            # the step goes the planted way (sizes are x0.41-0.55 or x1.8-2.5)
            assert (near[0].level_ratio > 1) == (truth.trend_break_size > 1), (truth, near)
    located = sum(any(abs(offset) <= 5 for offset in found) for found in offsets.values())
    assert len(offsets) >= 15
    assert located / len(offsets) >= 0.8, offsets


def test_channels_without_a_planted_break_rarely_show_one_near_a_random_date(steady_uploaders: World) -> None:
    world = steady_uploaders
    rng = np.random.default_rng(9)
    near_random, checked = 0, 0
    for truth in world.truth.channels:
        day = date(2024, 8, 1) + timedelta(days=int(rng.integers(0, 700)))
        if truth.trend_break_date is not None or truth.published_at.date() > day - timedelta(days=60):
            continue
        result = detect_change_points(_daily_collections(world, truth.channel_id, day))
        assert isinstance(result, ChangePointResult)
        checked += 1
        near_random += any(abs((point.date - day).days) <= 5 for point in result.change_points)
    assert checked >= 15
    assert near_random / checked <= 0.3, (near_random, checked)


def test_line_residuals_equal_numpys_least_squares_fit() -> None:
    from tubescope.analysis.timeseries import _line_residual

    rng = np.random.default_rng(5)
    for n in (1, 2, 3, 8, 56):
        values = rng.normal(1000.0, 300.0, n) + 40.0 * np.arange(n)
        x = np.arange(n, dtype=float)
        fitted = np.polyval(np.polyfit(x, values, 1), x) if n >= 2 else np.full(n, values.mean())
        assert _line_residual(values) == pytest.approx(values - fitted, abs=1e-9)


def test_change_points_reused_within_a_run_equal_a_fresh_detection() -> None:
    import dataclasses

    from tubescope.analysis import timeseries

    days = pd.date_range("2025-01-01", periods=150, freq="D")
    rng = np.random.default_rng(11)
    views = 1000.0 * np.where(np.arange(150) < 90, 1.0, 2.5) * rng.lognormal(0.0, 0.1, 150)
    daily = DailyViews("UCchangepoints000000000", pd.Series(views, index=days), 0, 0)
    timeseries._FITS.clear()
    fresh = detect_change_points(daily)
    assert isinstance(fresh, ChangePointResult) and fresh.change_points  # the step is found
    assert detect_change_points(daily) == fresh  # from the run's cache
    twin = detect_change_points(dataclasses.replace(daily, channel_id="UCtwin"))
    assert isinstance(twin, ChangePointResult) and twin.channel_id == "UCtwin"
    assert twin.change_points == fresh.change_points
    stiffer = detect_change_points(daily, penalty_scale=8.0)  # other settings: not the cached answer
    assert isinstance(stiffer, ChangePointResult) and stiffer.penalty == pytest.approx(2 * fresh.penalty)
