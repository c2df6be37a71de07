from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from tubescope.analysis.growth import analyze_growth
from tubescope.errors import ConfigError, DataQualityError

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
START = NOW - timedelta(days=120)


def _channel_snapshots(hours: list[float], views_per_day: float = 1000.0, subs_per_day: float = 10.0,
                       hidden_subs: bool = False) -> pd.DataFrame:  # fmt: skip
    times = [START + timedelta(hours=h) for h in hours]
    return pd.DataFrame(
        {
            "channel_id": "UCx",
            "observed_at": pd.to_datetime(times, utc=True),
            "view_count": pd.array([int(1_000_000 + views_per_day * h / 24) for h in hours], dtype="Int64"),
            "subscriber_count": pd.array(
                [None if hidden_subs else int(5000 + subs_per_day * h / 24) for h in hours], dtype="Int64"
            ),
            "video_count": pd.array([10] * len(hours), dtype="Int64"),
        }
    )


def _no_videos() -> tuple[pd.DataFrame, pd.DataFrame]:
    videos = pd.DataFrame({"video_id": [], "published_at": pd.to_datetime([], utc=True), "video_format": []})
    snaps = pd.DataFrame({"video_id": [], "observed_at": pd.to_datetime([], utc=True), "view_count": []})
    return videos, snaps


def test_irregular_snapshots_give_exact_daily_gains_and_growth_rates() -> None:
    # Observed at irregular hours (every 7-41 h); counts grow exactly 1000 views and 10 subs a day.
    hours, h = [], 0.0
    while h <= 120 * 24:
        hours.append(h)
        h += 7 + (len(hours) * 13) % 35
    result = analyze_growth(_channel_snapshots(hours), *_no_videos(), NOW)
    assert len(result.daily) > 100
    assert all(d.view_gain == pytest.approx(1000.0, abs=1.0) for d in result.daily)
    assert all(d.subscriber_gain == pytest.approx(10.0, abs=1.0) for d in result.daily)
    last_hour = hours[-1]
    end_views = 1_000_000 + 1000 * last_hour / 24
    rate28 = result.rate("views", 28)
    assert rate28.gain == pytest.approx(28_000, abs=2)
    assert rate28.rate == pytest.approx(28_000 / (end_views - 28_000), rel=1e-4)
    assert rate28.per_day == pytest.approx(1000, abs=0.1)
    assert result.rate("subscribers", 7).gain == pytest.approx(70, abs=2)
    assert all(r.derived for r in result.rates)


def test_window_longer_than_history_says_so_instead_of_guessing() -> None:
    result = analyze_growth(_channel_snapshots([0, 24 * 30, 24 * 60]), *_no_videos(), NOW)
    rate = result.rate("views", 90)
    assert rate.rate is None and rate.reason == "history shorter than window"
    assert result.rate("views", 28).rate is not None


def test_hidden_subscriber_counts_give_no_subscriber_growth() -> None:
    result = analyze_growth(_channel_snapshots([0, 24 * 50, 24 * 100], hidden_subs=True), *_no_videos(), NOW)
    assert result.rate("subscribers", 28).rate is None
    assert result.rate("subscribers", 28).reason == "subscriber count hidden"
    assert all(d.subscriber_gain is None for d in result.daily)


def test_snapshots_after_now_are_ignored() -> None:
    snaps = _channel_snapshots([0, 24 * 100, 24 * 119.5])
    future = _channel_snapshots([24 * 200], views_per_day=10**6)
    result = analyze_growth(pd.concat([snaps, future]), *_no_videos(), NOW)
    assert result.as_of == (START + timedelta(hours=24 * 119.5)).isoformat()
    assert result.rate("views", 7).per_day == pytest.approx(1000, abs=0.1)


def test_recent_video_velocity_is_between_the_last_two_snapshots_not_lifetime() -> None:
    published = NOW - timedelta(days=3)
    videos = pd.DataFrame(
        {
            "video_id": ["fastfastfas", "oldoldoldol"],
            "published_at": pd.to_datetime([published, NOW - timedelta(days=40)], utc=True),
            "video_format": ["long", "long"],
        }
    )
    # 90,000 views in the first day, then 100 views an hour: lifetime views/age would say ~1300/h.
    times = [
        published + timedelta(hours=24),
        published + timedelta(hours=48),
        published + timedelta(hours=60),
    ]
    snaps = pd.DataFrame(
        {
            "video_id": ["fastfastfas"] * 3 + ["oldoldoldol"] * 2,
            "observed_at": pd.to_datetime([*times, times[0], times[1]], utc=True),
            "view_count": pd.array([90_000, 92_400, 93_600, 5, 6], dtype="Int64"),
        }
    )
    result = analyze_growth(_channel_snapshots([0, 24]), videos, snaps, NOW)
    assert [v.video_id for v in result.recent_velocity] == ["fastfastfas"]
    velocity = result.recent_velocity[0]
    assert velocity.views_per_hour == pytest.approx(100.0)
    assert velocity.from_observed_at == times[1].isoformat() and velocity.latest_views == 93_600
    json.dumps(result.to_dict(), allow_nan=False)


def test_bad_inputs_raise_typed_errors() -> None:
    with pytest.raises(ConfigError, match="timezone-aware"):
        analyze_growth(_channel_snapshots([0]), *_no_videos(), datetime(2026, 1, 1))
    with pytest.raises(DataQualityError, match="subscriber_count"):
        analyze_growth(pd.DataFrame({"observed_at": [], "view_count": []}), *_no_videos(), NOW)
