from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tubescope.domain.durations import format_duration, parse_duration_seconds
from tubescope.domain.models import VideoFormat, classify_format


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT21M7S", 1267),
        ("PT2H7M14S", 7634),
        ("P1W2DT3H4M5S", 7 * 86400 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5),
        ("P1D", 86400),
        ("PT59S", 59),
        ("3725s", 3725),  # videos.batchGetStats uses the protobuf Duration form
        ("P0D", None),
        ("PT0S", None),
        ("", None),
        (None, None),
        ("garbage", None),
        ("PT", None),
    ],
)
def test_durations_parse_including_weeks_and_unknown_live(text: str | None, seconds: int | None) -> None:
    assert parse_duration_seconds(text) == seconds


@given(st.integers(min_value=1, max_value=10_000_000))
def test_format_then_parse_round_trips(seconds: int) -> None:
    assert parse_duration_seconds(format_duration(seconds)) == seconds


def test_format_prefers_shorts_playlist_over_duration() -> None:
    assert classify_format(600, in_shorts_playlist=True) is VideoFormat.SHORT
    assert classify_format(60, in_shorts_playlist=False) is VideoFormat.LONG
    assert classify_format(180, in_shorts_playlist=None) is VideoFormat.SHORT
    assert classify_format(181, in_shorts_playlist=None) is VideoFormat.LONG
    assert classify_format(None, in_shorts_playlist=None) is VideoFormat.LIVE
    assert classify_format(3600, in_shorts_playlist=False, was_live=True) is VideoFormat.LIVE
