"""The watch planner's arithmetic: dense ages, units per bucket, what fits a key."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from tubescope.errors import ConfigError
from tubescope.watch.plan import (
    DenseSampling,
    ReplayWatch,
    Upload,
    WatchedChannel,
    pass_at,
    plan,
    replay,
    require_fit,
)


def test_dense_sampling_ages_are_hourly_then_six_hourly_until_72h() -> None:
    ages = DenseSampling().ages()
    assert ages[:3] == [timedelta(hours=1), timedelta(hours=2), timedelta(hours=3)]
    assert ages[23] == timedelta(hours=24)
    assert ages[24:] == [timedelta(hours=h) for h in (30, 36, 42, 48, 54, 60, 66, 72)]
    with pytest.raises(ConfigError):
        DenseSampling(hourly_until=timedelta(hours=80))


def test_one_weekly_channel_of_200_videos() -> None:
    result = plan([WatchedChannel("UCa", videos=200, uploads_per_day=1 / 7)])
    # 1 channels.list, 1 playlist page and 1 details call a day; 4 stats calls and one dense call
    # at each of the 24 hourly passes while a video is young
    assert result.breakdown == {
        "channel_stats": 1,
        "playlist_pages": 1,
        "new_video_details": 1,
        "daily_stats": 4,
        "dense_stats": 24,
    }
    assert result.units_per_day == {"default": 3, "batchGetStats": 28}
    assert result.fits


def test_two_thousand_channels_fit_one_key_through_batch_get_stats() -> None:
    channels = [WatchedChannel(f"UC{n}", videos=200, uploads_per_day=1 / 7) for n in range(2000)]
    result = plan(channels, quota_per_bucket=10_000)
    young_day, young_later = 2000 / 7, 2 * 2000 / 7
    # each hourly pass samples every video under 24 h and a sixth of those between 24 h and 72 h
    expected_dense = 24 * -(-(young_day + young_later / 6) // 50)
    assert result.units_per_day["default"] == 40 + 2000 + -(-young_day // 50)
    assert result.units_per_day["batchGetStats"] == 2000 * 200 // 50 + expected_dense
    assert result.fits
    assert 2000 <= result.max_channels < 2600
    # The bound is tight: one channel more than max_channels no longer fits.
    more = [WatchedChannel(f"UC{n}", 200, 1 / 7) for n in range(result.max_channels + 1)]
    assert not plan(more).fits
    assert plan(more[:-1]).fits
    # With WebSub push each upload is fetched when pushed: one videos.list call per upload.
    pushed = plan(channels, push=True)
    assert pushed.breakdown["new_video_details"] == math.ceil(2000 / 7)


def test_each_sampling_age_falls_in_exactly_one_hourly_pass() -> None:
    dense = DenseSampling()
    published = datetime(2026, 10, 1, 9, 20, tzinfo=UTC)
    passes = [datetime(2026, 10, 1, 9, tzinfo=UTC) + timedelta(hours=h) for h in range(0, 90)]
    taken = [(p, dense.slot_due(published, p)) for p in passes]
    slots = [slot for _, slot in taken if slot is not None]
    assert slots == [a / timedelta(hours=1) for a in dense.ages()]
    for at_pass, slot in taken:
        if slot is not None:  # taken in the hour after the age, never before it
            age = (at_pass - published) / timedelta(hours=1)
            assert slot <= age < slot + 1
    assert pass_at(datetime(2026, 10, 1, 9, 59, 59, tzinfo=UTC)) == passes[0]
    with pytest.raises(ConfigError, match="whole number of hours"):
        DenseSampling(then_every=timedelta(minutes=90))


def test_replay_counts_shared_batches_pushes_and_dense_passes() -> None:
    start = datetime(2026, 10, 1, 12, tzinfo=UTC)
    old = [Upload(f"old{n:03d}", "UCa", start - timedelta(days=n + 5)) for n in range(60)]
    old += [Upload(f"bold{n:02d}", "UCb", start - timedelta(days=n + 5)) for n in range(30)]
    new = [Upload("newa", "UCa", start + timedelta(hours=2, minutes=30))]
    ticks = [start + timedelta(hours=h) for h in range(49)]
    watches = [ReplayWatch("UCa"), ReplayWatch("UCb")]
    known = [u.video_id for u in old]
    pushed = replay(watches, old + new, known, ticks, push=True)
    # Day ticks at 0 h, 24 h, 48 h: 1 channels.list + 2 pages each; one push fetch.
    assert pushed.channel_ticks == {"UCa": 3, "UCb": 3}
    assert pushed.pushes == 1
    assert pushed.units["default"] == 3 * (1 + 2) + 1
    # 90 known videos (91 after the push) share 2 stats calls per day tick; the young video is
    # sampled at 1 h .. 24 h and 30 h .. 42 h (by the passes 4 h .. 45 h), on its own except at
    # the 24 h day tick, where its 21 h sample joins the refresh.
    ages = {slot for _, slot in pushed.dense_samples}
    assert ages == {float(h) for h in range(1, 25)} | {30.0, 36.0, 42.0}
    assert pushed.units["batchGetStats"] == 3 * 2 + (len(ages) - 1)
    # Without push the video is found by the 24 h day tick (at 21.5 h): sampled from 22 h on.
    polled = replay(watches, old + new, known, ticks, push=False)
    assert polled.pushes == 0
    assert {slot for _, slot in polled.dense_samples} == {22.0, 23.0, 24.0, 30.0, 36.0, 42.0}
    assert polled.units["default"] == 3 * (1 + 2) + 1  # its details came with the day tick


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
