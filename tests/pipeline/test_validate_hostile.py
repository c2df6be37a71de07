"""Property test: whatever a hostile or broken API answer holds, validation returns a record whose
values fit storage, or a rejection with a reason; it never raises."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tubescope.domain.durations import parse_duration_seconds
from tubescope.pipeline.validate import (
    MAX_CLOCK_SKEW,
    MAX_COUNT,
    MAX_DURATION_SECONDS,
    Accepted,
    Rejected,
    validate_channel,
    validate_video,
)

NOW = datetime(2026, 10, 1, 12, tzinfo=UTC)
CHANNEL = "UC" + "a" * 22
VIDEO: dict[str, Any] = {
    "id": "abcdefghijk",
    "snippet": {
        "channelId": CHANNEL,
        "title": "A title",
        "publishedAt": "2026-09-01T10:00:00Z",
        "tags": ["x"],
        "liveBroadcastContent": "none",
    },
    "contentDetails": {"duration": "PT4M13S"},
    "statistics": {"viewCount": "1000", "likeCount": "10", "commentCount": "2"},
}
CHANNEL_ITEM: dict[str, Any] = {
    "id": CHANNEL,
    "snippet": {"title": "Chan", "publishedAt": "2015-01-01T00:00:00Z", "customUrl": "@chan"},
    "contentDetails": {"relatedPlaylists": {"uploads": "UU" + "a" * 22}},
    "statistics": {"viewCount": "10", "videoCount": "3", "subscriberCount": "7"},
}

_hostile_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            str(2**63),
            "9" * 5000,
            "²",
            "１２３",
            "-1",
            " 12 ",
            "2099-01-01T00:00:00Z",
            "1900-01-01T00:00:00Z",
            "9999-12-31T23:59:59+00:00",
            "0001-01-01T00:00:00-01:00",
            "2026-09-01T10:00:00",
            "P" + "9" * 400 + "W",
            "P99999D",
            "PT0S",
            "P0D",
            "",
            "\x1b]0;pwned\x07",
        ]
    ),
    st.text(max_size=30),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)

_VIDEO_FIELDS = [
    ("snippet", "publishedAt"),
    ("snippet", "title"),
    ("snippet", "tags"),
    ("snippet", "liveBroadcastContent"),
    ("contentDetails", "duration"),
    ("statistics", "viewCount"),
    ("statistics", "likeCount"),
    ("statistics", "commentCount"),
]
_CHANNEL_FIELDS = [
    ("snippet", "publishedAt"),
    ("statistics", "viewCount"),
    ("statistics", "videoCount"),
    ("statistics", "subscriberCount"),
    ("statistics", "hiddenSubscriberCount"),
]


def _spoil(base: dict[str, Any], edits: list[tuple[tuple[str, str], Any]]) -> dict[str, Any]:
    item = copy.deepcopy(base)
    for (section, name), value in edits:
        item[section][name] = value
    return item


def _fits_storage(value: int | None) -> bool:
    return value is None or 0 <= value <= MAX_COUNT


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_VIDEO_FIELDS), _hostile_scalar), min_size=1, max_size=4))
def test_a_hostile_video_is_stored_in_range_or_quarantined_with_a_reason(
    edits: list[tuple[tuple[str, str], Any]],
) -> None:
    result = validate_video(_spoil(VIDEO, edits), channel_id=CHANNEL, observed_at=NOW)
    if isinstance(result, Rejected):
        assert result.reason and result.kind == "video"
        return
    assert isinstance(result, Accepted)
    video, snapshot = result.record.video, result.record.snapshot
    assert all(_fits_storage(v) for v in (snapshot.view_count, snapshot.like_count, snapshot.comment_count))
    assert video.published_at <= NOW + MAX_CLOCK_SKEW
    assert video.published_at.year >= 2005
    assert video.duration_seconds is None or 0 < video.duration_seconds <= MAX_DURATION_SECONDS


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_CHANNEL_FIELDS), _hostile_scalar), min_size=1, max_size=3))
def test_a_hostile_channel_is_stored_in_range_or_quarantined_with_a_reason(
    edits: list[tuple[tuple[str, str], Any]],
) -> None:
    result = validate_channel(_spoil(CHANNEL_ITEM, edits), observed_at=NOW)
    if isinstance(result, Rejected):
        assert result.reason
        return
    channel = result.record.channel
    assert all(_fits_storage(v) for v in (channel.view_count, channel.video_count, channel.subscriber_count))
    assert channel.published_at is None or channel.published_at <= NOW + MAX_CLOCK_SKEW


def test_the_three_reproduced_cases_are_quarantined_with_their_reason() -> None:
    too_many = validate_video(
        _spoil(VIDEO, [(("statistics", "viewCount"), str(2**63))]), channel_id=CHANNEL, observed_at=NOW
    )
    year_2099 = validate_video(
        _spoil(VIDEO, [(("snippet", "publishedAt"), "2099-01-01T00:00:00Z")]),
        channel_id=CHANNEL,
        observed_at=NOW,
    )
    forever = validate_video(
        _spoil(VIDEO, [(("contentDetails", "duration"), "P400D")]), channel_id=CHANNEL, observed_at=NOW
    )
    assert isinstance(too_many, Rejected) and "out of range" in too_many.reason
    assert isinstance(year_2099, Rejected) and "future" in year_2099.reason
    assert isinstance(forever, Rejected) and "impossibly long" in forever.reason
    skewed = (NOW + MAX_CLOCK_SKEW - timedelta(minutes=1)).isoformat()
    assert isinstance(
        validate_video(
            _spoil(VIDEO, [(("snippet", "publishedAt"), skewed)]), channel_id=CHANNEL, observed_at=NOW
        ),
        Accepted,
    )


@given(st.text(alphabet="PTWDHMS0123456789.", max_size=600))
def test_duration_parsing_never_raises(text: str) -> None:
    seconds = parse_duration_seconds(text)
    assert seconds is None or seconds > 0
