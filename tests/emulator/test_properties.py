"""Invariants of the simulator's building blocks, over generated inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tubescope.domain.durations import parse_duration_seconds
from tubescope.domain.refs import CHANNEL_ID, VIDEO_ID
from tubescope.emulator import ids
from tubescope.emulator.server import decode_page_token, encode_page_token
from tubescope.emulator.world import World, format_iso_duration, round_subscribers

INDEX = st.integers(min_value=0, max_value=(1 << 22) - 1)
SEED = st.integers(min_value=0, max_value=2**63)
WORLD = World(seed=23, n_channels=4)


@given(SEED, INDEX, INDEX)
def test_video_and_channel_ids_round_trip_and_look_real(seed: int, channel: int, video: int) -> None:
    video_id = ids.video_id(seed, channel, video)
    assert VIDEO_ID.match(video_id)
    assert ids.decode_video_id(seed, video_id) == (channel, video)
    channel_id = ids.channel_id(seed, channel)
    assert CHANNEL_ID.match(channel_id)
    assert ids.decode_channel_id(seed, channel_id) == channel


@given(
    SEED, INDEX, INDEX, st.integers(min_value=0, max_value=100_000), st.integers(min_value=0, max_value=500)
)
def test_comment_ids_round_trip(seed: int, channel: int, video: int, thread: int, reply: int) -> None:
    thread_id = ids.thread_id(seed, channel, video, thread)
    assert ids.decode_thread_id(seed, thread_id) == (channel, video, thread)
    reply_id = ids.reply_id(seed, thread_id, reply)
    assert ids.decode_reply_id(seed, reply_id) == (thread_id, reply)


@given(
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=11, max_size=11
    )
)
def test_random_video_ids_almost_never_resolve(text: str) -> None:
    # a 16-bit check field: a random id resolves to a real video with probability ~1/65536
    found = WORLD.resolve_video(text)
    assert found is None or ids.video_id(WORLD.seed, *found) == text


@given(st.integers(min_value=1, max_value=10 * 86_400))
def test_durations_round_trip_through_the_domain_parser(seconds: int) -> None:
    text = format_iso_duration(seconds)
    assert parse_duration_seconds(text) == seconds


@given(st.integers(min_value=0, max_value=10**10))
def test_subscriber_rounding_keeps_three_significant_figures(count: int) -> None:
    rounded = round_subscribers(count)
    assert rounded <= count
    if count < 1000:
        assert rounded == count
    else:
        assert len(str(rounded).rstrip("0")) <= 3
        assert count - rounded < 10 ** (len(str(count)) - 3)


@given(st.integers(min_value=0, max_value=10**7))
def test_page_tokens_round_trip(offset: int) -> None:
    assert decode_page_token(encode_page_token(offset)) == offset


@settings(max_examples=40, deadline=None)
@given(
    st.integers(min_value=0, max_value=3),
    st.integers(min_value=0, max_value=900 * 86_400),
    st.integers(min_value=1, max_value=60 * 86_400),
)
def test_views_never_decrease_and_videos_never_unpublish_early(channel: int, offset: int, step: int) -> None:
    first = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=offset)
    second = first + timedelta(seconds=step)
    cid = WORLD.channel_id(channel)
    earlier = {v.video_id: v for v in WORLD.observe(first).channel_video_states(cid, include_removed=True)}
    later = {v.video_id: v for v in WORLD.observe(second).channel_video_states(cid, include_removed=True)}
    assert set(earlier) <= set(later)
    for video_id, video in earlier.items():
        assert later[video_id].view_count >= video.view_count
        assert video.published_at <= first


@given(SEED, SEED, INDEX, INDEX, st.integers(min_value=0, max_value=500))
def test_ids_of_another_world_never_decode_here(
    seed: int, other: int, channel: int, video: int, n: int
) -> None:
    if seed == other:
        return
    video_id = ids.video_id(other, channel, video)
    found = ids.decode_video_id(seed, video_id)
    # the 16-bit check: a foreign id decodes with probability ~1/65536, and then only to its own text
    assert found is None or ids.video_id(seed, *found) == video_id
    assert ids.decode_channel_id(seed, ids.channel_id(other, channel)) is None  # 128 bits: never
    thread = ids.thread_id(other, channel, video, n)
    decoded = ids.decode_thread_id(seed, thread)
    assert decoded is None or ids.thread_id(seed, *decoded) == thread


def test_malformed_ids_are_none_not_errors() -> None:
    seed = 11
    video = ids.video_id(seed, 3, 4)
    thread = ids.thread_id(seed, 3, 4, 5)
    for bad_video in ("short", video[:-1] + "*", "A" * 11 + "B"):
        assert ids.decode_video_id(seed, bad_video) is None
    for bad_channel in ("UC" + "A" * 21, "XX" + ids.channel_id(seed, 3)[2:], "UC" + "*" * 22):
        assert ids.decode_channel_id(seed, bad_channel) is None
    for bad_thread in ("Ug" + "A" * 29, thread[:-1] + "X", "Ug" + "*" * 22 + "4AaABAg"):
        assert ids.decode_thread_id(seed, bad_thread) is None
    assert ids.decode_reply_id(seed, thread) is None  # no "." tail
    assert ids.decode_reply_id(seed, thread + ".*") is None
    assert ids.decode_reply_id(seed, thread + "." + "A" * 11) is None  # a tail that fails its check
    with pytest.raises(ValueError, match="index out of range"):
        ids.video_id(seed, 1 << 22, 0)
