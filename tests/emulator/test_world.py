from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from tubescope.domain.durations import parse_duration_seconds
from tubescope.emulator.world import World, format_iso_duration, round_subscribers

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def test_same_seed_same_world_different_seed_different_world() -> None:
    a, b, c = World(seed=3, n_channels=4), World(seed=3, n_channels=4), World(seed=4, n_channels=4)
    assert a.truth.model_dump_json() == b.truth.model_dump_json()
    assert a.channel_ids() != c.channel_ids()
    cid = a.channel_id(2)
    ids_a = a.observe(NOW).uploads(cid)
    assert ids_a == b.observe(NOW).uploads(cid)
    assert a.observe(NOW).videos(ids_a[:20]) == b.observe(NOW).videos(ids_a[:20])


def test_ids_have_youtube_shapes_and_resolve_back(world: World) -> None:
    for index, cid in enumerate(world.channel_ids()):
        assert cid.startswith("UC") and len(cid) == 24
        assert world.channel_index(cid) == index
        assert world.find_handle(world.handle_of(index)) == cid
        assert world.find_handle(world.handle_of(index).upper()) == cid
    video_ids = world.observe(NOW).uploads(world.channel_id(0))
    assert video_ids and all(len(v) == 11 for v in video_ids)
    assert len(set(video_ids)) == len(video_ids)
    assert world.channel_index("UC" + "A" * 22) is None
    assert world.find_handle("@nosuchchannel") is None
    assert world.observe(NOW).video("AAAAAAAAAAA") is None


def test_views_grow_monotonically_and_saturate(world: World) -> None:
    cid = world.channel_id(1)
    first = world.observe(datetime(2025, 6, 1, tzinfo=UTC))
    video_ids = first.uploads(cid)[:40]
    previous = {v.video_id: v.view_count for v in first.videos(video_ids)}
    for day in range(1, 200, 3):
        observation = world.observe(datetime(2025, 6, 1, tzinfo=UTC) + timedelta(days=day, hours=day % 7))
        for video in observation.videos(video_ids):
            assert video.view_count >= previous[video.video_id]
            previous[video.video_id] = video.view_count


def test_videos_do_not_exist_before_they_are_published(world: World) -> None:
    cid = world.channel_id(0)
    late = world.observe(NOW)
    early = world.observe(datetime(2025, 1, 1, tzinfo=UTC))
    newest = late.videos(late.uploads(cid)[:1])[0]
    assert newest.published_at > early.at
    assert early.video(newest.video_id) is None
    assert newest.video_id not in early.uploads(cid)
    assert len(early.uploads(cid)) < len(late.uploads(cid))


def test_removed_videos_vanish_from_playlist_and_videos_list() -> None:
    world = World(seed=5, n_channels=8)
    removed = [(cid, vid) for cid in world.channel_ids() for vid in world.observe(NOW).removed_video_ids(cid)]
    assert removed, "the world should plant some private/deleted videos"
    cid, vid = removed[0]
    assert world.observe(NOW).video(vid) is None
    assert vid not in world.observe(NOW).uploads(cid)


def test_breakout_videos_have_about_ten_times_the_typical_views() -> None:
    world = World(seed=21, n_channels=10)
    ratios = []
    for truth in world.truth.channels:
        observation = world.observe(NOW)
        states = {v.video_id: v for v in observation.channel_video_states(truth.channel_id)}
        old = [v for v in states.values() if (NOW - v.published_at).days > 120]
        for breakout in truth.breakout_video_ids:
            video = states.get(breakout)
            if video is None or (NOW - video.published_at).days <= 120:
                continue
            peers = [
                v.view_count for v in old if v.video_format == video.video_format and v.video_id != breakout
            ]
            if len(peers) >= 10:
                ratios.append(video.view_count / float(np.median(peers)))
    assert len(ratios) >= 5
    assert 4 < float(np.median(ratios)) < 25


def test_question_titles_carry_the_planted_lift() -> None:
    world = World(seed=2, n_channels=30)
    lifted, flat = [], []
    for truth in world.truth.channels:
        videos = [
            v
            for v in world.observe(NOW).channel_video_states(truth.channel_id)
            if v.video_format == "long"
            and (NOW - v.published_at).days > 90
            and v.video_id not in truth.breakout_video_ids
        ]
        q = [np.log(v.view_count) for v in videos if "?" in v.title]
        n = [np.log(v.view_count) for v in videos if "?" not in v.title]
        if len(q) < 15 or len(n) < 15:
            continue
        (lifted if truth.title_lift > 1 else flat).append(float(np.mean(q) - np.mean(n)))
    assert lifted and flat
    # trend and noise add spread; pooled over channels the planted ~x1.2-1.6 lift shows up
    assert np.mean(lifted) > np.mean(flat) + 0.1


def test_truth_is_json_and_documents_the_planted_effects(world: World) -> None:
    truth = world.truth
    text = truth.model_dump_json()
    assert '"methodology_breaks"' in text and "2025-03-31" in text and "2026-08-27" in text
    assert len(truth.channels) == world.n_channels
    for channel in truth.channels:
        assert len(channel.weekday_multipliers) == 7
        assert abs(sum(channel.weekday_multipliers) / 7 - 1) < 1e-3
        assert channel.title_lift >= 1.0
        assert (channel.trend_break_date is None) == (channel.trend_break_size == 1.0)
    assert truth.channel(world.channel_id(3)).channel_index == 3


def test_channel_daily_views_show_the_weekly_season() -> None:
    world = World(seed=9, n_channels=12)
    truth = max(world.truth.channels, key=lambda c: max(c.weekday_multipliers) - min(c.weekday_multipliers))
    series = world.channel_daily_views(truth.channel_id, date(2025, 6, 2), date(2026, 5, 31))
    assert len(series) == 364 and (series >= 0).all()
    by_weekday = np.array([series.iloc[i::7].mean() for i in range(7)])  # 2025-06-02 is a Monday
    observed = by_weekday / by_weekday.mean()
    planted = np.array(truth.weekday_multipliers)
    assert np.corrcoef(observed, planted)[0, 1] > 0.8


def test_subscriber_counts_are_rounded_like_the_api() -> None:
    assert round_subscribers(999) == 999
    assert round_subscribers(123_456) == 123_000
    assert round_subscribers(1_234_567) == 1_230_000
    assert round_subscribers(9_999) == 9_990


def test_durations_round_trip_through_the_domain_parser(world: World) -> None:
    assert format_iso_duration(0) == "P0D"
    assert format_iso_duration(90_061) == "P1DT1H1M1S"
    for seconds in (8, 180, 181, 3600, 86_400, 100_000):
        assert parse_duration_seconds(format_iso_duration(seconds)) == seconds
    for video in world.observe(NOW).channel_video_states(world.channel_id(2)):
        if video.video_format == "short":
            assert video.duration_seconds is not None and video.duration_seconds <= 180
        elif video.video_format == "live":
            assert video.duration_iso == "P0D"


def test_channel_far_down_a_huge_world_is_generated_alone_and_fast() -> None:
    world = World(seed=1, n_channels=10_000)
    started = time.perf_counter()
    cid = world.channel_id(9_999)
    channel = world.observe(NOW).channel(cid)
    elapsed = time.perf_counter() - started
    assert channel is not None and channel.channel_index == 9_999
    assert len(world._channels) == 1  # nothing else was generated
    assert elapsed < 2.0


def test_world_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        World(n_channels=0)
    with pytest.raises(ValueError):
        World(start=datetime(2025, 1, 1, tzinfo=UTC), end=datetime(2024, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError):
        World(start=datetime(2024, 1, 1))  # naive: which timezone?
    with pytest.raises(ValueError):
        World(n_channels=2).observe(datetime(2026, 1, 1))


def test_trend_breaks_are_recoverable_from_video_views() -> None:
    world = World(seed=9, n_channels=30)
    late = datetime(2026, 12, 31, tzinfo=UTC)
    estimated, planted = [], []
    for truth in world.truth.channels:
        if truth.trend_break_date is None:
            continue
        videos = [
            v
            for v in world.observe(late).channel_video_states(truth.channel_id)
            if v.video_format == "long" and v.video_id not in truth.breakout_video_ids
        ]
        moment = datetime.combine(truth.trend_break_date, datetime.min.time(), UTC)
        window = timedelta(days=150)
        before = [np.log(v.view_count) for v in videos if moment - window <= v.published_at < moment]
        after = [
            np.log(v.view_count)
            for v in videos
            if moment <= v.published_at < moment + timedelta(days=150) and (late - v.published_at).days > 60
        ]
        if len(before) > 8 and len(after) > 8:
            estimated.append(float(np.median(after) - np.median(before)))
            planted.append(float(np.log(truth.trend_break_size)))
    assert len(planted) >= 5
    assert np.corrcoef(estimated, planted)[0, 1] > 0.8


def test_methodology_changes_scale_only_views_accrued_after_them() -> None:
    from tubescope.emulator.world import (
        ALL_METHODOLOGY_CHANGE,
        ALL_METHODOLOGY_MULTIPLIER,
        FORMAT_LONG,
        _base_views,
        _counted_views,
    )

    world = World(seed=2, n_channels=4)
    static = world._static(3)
    assert static.truth.trend_break_date is None  # a break would compound with the change
    n = static.pub_ts.size
    change = ALL_METHODOLOGY_CHANGE.timestamp()
    before = np.full(n, change - 86_400.0)
    at = np.full(n, change)
    later = np.full(n, change + 20 * 86_400.0)
    old_long = (static.fmt == FORMAT_LONG) & (static.pub_ts < datetime(2025, 1, 1, tzinfo=UTC).timestamp())
    assert old_long.any()
    counted_at, counted_later = _counted_views(static, at), _counted_views(static, later)
    base_at, base_later = _base_views(static, at), _base_views(static, later)
    # before the change nothing differs for long-form; after it the new views count 1.15x
    counted_before, base_before = _counted_views(static, before), _base_views(static, before)
    np.testing.assert_allclose(counted_before[old_long], base_before[old_long])
    np.testing.assert_allclose(
        (counted_later - counted_at)[old_long], ALL_METHODOLOGY_MULTIPLIER * (base_later - base_at)[old_long]
    )
    assert {b.date.isoformat() for b in world.truth.methodology_breaks} == {"2025-03-31", "2026-08-27"}


def test_a_trend_break_scales_the_views_every_video_accrues_from_its_date() -> None:
    from tubescope.emulator.world import FORMAT_LONG, _base_views, _counted_views

    world = World(seed=2, n_channels=4)
    static = world._static(0)
    truth = static.truth
    assert truth.trend_break_date == date(2025, 7, 9) and truth.trend_break_size > 1.5
    assert static.break_size == pytest.approx(truth.trend_break_size, abs=1e-4)
    n = static.pub_ts.size
    start = datetime.combine(truth.trend_break_date, datetime.min.time(), UTC).timestamp()
    before, at, later = (np.full(n, start + days * 86_400.0) for days in (-20, 0, 20))
    # long-form videos published well before the break: their views since the break count x size
    old_long = (static.fmt == FORMAT_LONG) & (static.pub_ts < start - 60 * 86_400.0)
    assert old_long.sum() > 50
    counted = {
        name: _counted_views(static, t)[old_long] for name, t in (("b", before), ("a", at), ("l", later))
    }
    base = {name: _base_views(static, t)[old_long] for name, t in (("b", before), ("a", at), ("l", later))}
    np.testing.assert_allclose(counted["a"] - counted["b"], base["a"] - base["b"])
    np.testing.assert_allclose(counted["l"] - counted["a"], static.break_size * (base["l"] - base["a"]))
    assert (counted["l"] >= counted["a"]).all()


def test_channel_daily_views_step_by_the_break_size_on_the_break_date() -> None:
    world = World(seed=9, n_channels=20)
    steps = []
    for truth in world.truth.channels:
        if truth.trend_break_date is None:
            continue
        day = truth.trend_break_date
        series = world.channel_daily_views(truth.channel_id, day - timedelta(days=1), day)
        weekday = (
            truth.weekday_multipliers[day.weekday()] / truth.weekday_multipliers[(day.weekday() - 1) % 7]
        )
        steps.append(float(np.log(series.iloc[1] / series.iloc[0] / weekday / truth.trend_break_size)))
    assert len(steps) >= 6
    # an upload on either day moves single channels; the step itself is the planted size
    assert abs(float(np.median(steps))) < 0.15, steps


def test_uploads_playlist_stops_at_twenty_thousand() -> None:
    world = World(seed=1, n_channels=1, videos_per_channel=21_000)
    observation = world.observe(datetime(2026, 12, 31, tzinfo=UTC))
    cid = world.channel_id(0)
    assert observation.uploads_count(cid) == 20_000
    assert len(observation.uploads(cid)) == 20_000
    channel = observation.channel(cid)
    assert channel is not None and channel.video_count > 20_000  # the channel still says how many exist


def test_comment_threads_and_replies_add_up_to_about_the_comment_count(world: World) -> None:
    observation = world.observe(NOW)
    ratios = []
    for cid in world.channel_ids()[:4]:
        for video in observation.videos(observation.uploads(cid)[::15][:15]):
            if video.comment_count is None or video.comment_count < 20:
                continue
            threads = observation.comment_threads(video.video_id, 0, 10_000)
            listed = len(threads) + sum(t.total_reply_count for t in threads)
            ratios.append(listed / video.comment_count)
            assert all(t.published_at <= NOW for t in threads)
    assert len(ratios) >= 10
    assert 0.7 < float(np.median(ratios)) < 1.4
