"""The YouTube API source against the emulator over loopback HTTP, checked against the world's truth."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tubescope.domain.refs import parse_channel_ref
from tubescope.sources.youtube_api import YouTubeApiSource
from tubescope.youtube.client import ClientOptions
from tubescope.youtube.errors import ResourceUnavailable

testing = pytest.importorskip("tubescope.testing", reason="the emulator (tubescope.testing) is not available")
if not hasattr(testing, "running_emulator"):
    pytest.skip("tubescope.testing has no running_emulator yet", allow_module_level=True)

FAST = ClientOptions(requests_per_second=500, max_concurrency=4)


@pytest.fixture(scope="module")
def emulator() -> Iterator[testing.EmulatorHandle]:
    with testing.running_emulator(seed=7, n_channels=4) as handle:
        yield handle


async def test_channel_uploads_shorts_and_videos_match_the_world(emulator: testing.EmulatorHandle) -> None:
    world = emulator.world
    channel_id = world.channel_ids()[3]  # seed 7: long videos, Shorts and live streams
    observation = world.observe(emulator.clock())
    truth_channel = observation.channel(channel_id)
    truth = observation.uploads_frame(channel_id)
    assert truth_channel is not None

    source = YouTubeApiSource.create(emulator.base_url, emulator.keys[:1], FAST, now=emulator.clock)
    async with source:
        fetched = await source.fetch_channel(parse_channel_ref(world.handle_of(3)))
        upload_ids = [i async for page in source.iter_upload_ids(fetched.channel) for i in page.video_ids]
        shorts = await source.fetch_shorts_ids(channel_id)
        videos = await source.fetch_videos(upload_ids, shorts_ids=shorts)

    assert fetched.channel.channel_id == channel_id and fetched.channel.title == truth_channel.title
    assert fetched.snapshot.view_count == truth_channel.view_count
    assert fetched.snapshot.subscriber_count == (
        None if truth_channel.hidden_subscriber_count else truth_channel.subscriber_count
    )
    assert upload_ids == truth["video_id"].tolist()
    expected_formats = dict(zip(truth["video_id"], truth["video_format"], strict=True))
    assert {v.video_id: v.video_format.value for v in videos.videos} == expected_formats
    assert shorts == {i for i, f in expected_formats.items() if f == "short"}
    assert {"short", "long", "live"} <= set(expected_formats.values())
    assert {s.video_id: s.view_count for s in videos.snapshots} == dict(
        zip(truth["video_id"], truth["view_count"].astype(int), strict=True)
    )
    assert all(s.observed_at == emulator.clock() for s in videos.snapshots)
    assert videos.missing_ids == []


async def test_comments_are_complete_with_replies_and_disabled_ones_are_skippable(
    emulator: testing.EmulatorHandle,
) -> None:
    world = emulator.world
    observation = world.observe(emulator.clock())
    states = observation.channel_video_states(world.channel_ids()[0])  # seed 7: some have comments off
    with_comments = [
        v for v in states if not v.comments_disabled and observation.thread_count(v.video_id) > 0
    ]
    disabled = [v for v in states if v.comments_disabled]
    video = max(with_comments, key=lambda v: observation.thread_count(v.video_id))
    threads = observation.comment_threads(video.video_id, 0, observation.thread_count(video.video_id))
    expected = len(threads) + sum(t.total_reply_count for t in threads)
    assert disabled and max(t.total_reply_count for t in threads) > 5  # replies beyond the inline few

    source = YouTubeApiSource.create(emulator.base_url, emulator.keys[:1], FAST)
    async with source:
        comments = [c async for c in source.fetch_comments(video.video_id)]
        with pytest.raises(ResourceUnavailable) as caught:
            _ = [c async for c in source.fetch_comments(disabled[0].video_id)]
        assert caught.value.reason == "commentsDisabled"

    top_ids = {c.comment_id for c in comments if c.parent_id is None}
    assert len(comments) == expected and len({c.comment_id for c in comments}) == expected
    assert all(c.parent_id in top_ids for c in comments if c.parent_id is not None)
    assert all(c.video_id == video.video_id for c in comments)
