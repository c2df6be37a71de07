"""The watch planner's arithmetic: dense ages, units per bucket, what fits a key."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tubescope.errors import ConfigError
from tubescope.watch.plan import DenseSampling, WatchedChannel, plan, require_fit


def test_dense_sampling_ages_are_hourly_then_six_hourly_until_72h() -> None:
    ages = DenseSampling().ages()
    assert ages[:3] == [timedelta(hours=1), timedelta(hours=2), timedelta(hours=3)]
    assert ages[23] == timedelta(hours=24)
    assert ages[24:] == [timedelta(hours=h) for h in (30, 36, 42, 48, 54, 60, 66, 72)]
    with pytest.raises(ConfigError):
        DenseSampling(hourly_until=timedelta(hours=80))


def test_one_weekly_channel_of_200_videos() -> None:
    result = plan([WatchedChannel("UCa", videos=200, uploads_per_day=1 / 7)])
    # 1 playlist page + 1 details call a day; 4 stats calls + 24 hourly + 4 six-hourly dense calls
    assert result.breakdown == {
        "playlist_pages": 1,
        "new_video_details": 1,
        "daily_stats": 4,
        "dense_stats": 28,
    }
    assert result.units_per_day == {"default": 2, "batchGetStats": 32}
    assert result.fits


def test_two_thousand_channels_fit_one_key_through_batch_get_stats() -> None:
    channels = [WatchedChannel(f"UC{n}", videos=200, uploads_per_day=1 / 7) for n in range(2000)]
    result = plan(channels, quota_per_bucket=10_000)
    young_day, young_later = 2000 / 7, 2 * 2000 / 7
    expected_dense = 24 * -(-young_day // 50) + 4 * -(-young_later // 50)
    assert result.units_per_day["default"] == 2000 + -(-young_day // 50)
    assert result.units_per_day["batchGetStats"] == 2000 * 200 // 50 + expected_dense
    assert result.fits
    assert 2000 <= result.max_channels < 2600
    # The bound is tight: one channel more than max_channels no longer fits.
    more = [WatchedChannel(f"UC{n}", 200, 1 / 7) for n in range(result.max_channels + 1)]
    assert not plan(more).fits
    assert plan(more[:-1]).fits


def test_a_schedule_that_does_not_fit_is_refused_with_how_many_would() -> None:
    channels = [
        WatchedChannel(f"UC{n}", videos=2000, uploads_per_day=1, every=timedelta(hours=6)) for n in range(500)
    ]
    result = plan(channels, quota_per_bucket=10_000)
    assert not result.fits
    with pytest.raises(ConfigError, match=rf"about {result.max_channels} such channels fit"):
        require_fit(result)
    assert plan(channels, quota_per_bucket=10_000, keys=20).fits


def test_an_empty_watch_list_costs_nothing() -> None:
    result = plan([])
    assert result.units_per_day == {"default": 0, "batchGetStats": 0}
    assert result.max_channels == 0 and result.fits
