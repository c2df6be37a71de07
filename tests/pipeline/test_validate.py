from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tubescope.domain.models import VideoFormat
from tubescope.pipeline.validate import (
    Accepted,
    Rejected,
    playlist_video_id,
    thread_parts,
    validate_channel,
    validate_comment,
    validate_video,
)

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "api-fixtures"
SNS = FIXTURES / "sns-sdks-python-youtube"
NOW = datetime(2026, 10, 1, 12, tzinfo=UTC)


def _load(relative: str) -> Any:
    path = SNS / relative
    if not path.is_file():
        pytest.skip(f"real API fixtures not present at {path} (see shared/data/real/INDEX.md)")
    return json.loads(path.read_text(encoding="utf-8"))


def _real_video() -> dict[str, Any]:
    item: dict[str, Any] = _load("modeldata/videos/video_api_response.json")["items"][0]
    return item


def test_a_real_recorded_video_becomes_a_record_and_a_snapshot() -> None:
    item = _real_video()
    result = validate_video(item, channel_id=item["snippet"]["channelId"], observed_at=NOW)
    assert isinstance(result, Accepted)
    video, snapshot = result.record.video, result.record.snapshot
    assert video.video_id == "D-lhorsDlUQ"
    assert video.duration_seconds == 21 * 60 + 7  # PT21M7S
    assert video.video_format is VideoFormat.LONG
    assert video.published_at == datetime(2019, 3, 21, 20, 37, 49, tzinfo=UTC)
    assert snapshot.view_count == int(item["statistics"]["viewCount"])
    assert snapshot.observed_at == NOW


def test_hidden_likes_and_disabled_comments_are_none_not_zero() -> None:
    item = _real_video()
    del item["statistics"]["likeCount"]
    del item["statistics"]["commentCount"]
    result = validate_video(item, channel_id=item["snippet"]["channelId"], observed_at=NOW)
    assert isinstance(result, Accepted)
    assert result.record.snapshot.like_count is None
    assert result.record.snapshot.comment_count is None


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda v: v["statistics"].__setitem__("viewCount", "12abc"), "statistics.viewCount"),
        (lambda v: v["statistics"].__setitem__("viewCount", "-5"), "statistics.viewCount"),
        (lambda v: v["statistics"].pop("viewCount"), "statistics.viewCount is missing"),
        (lambda v: v["snippet"].__setitem__("publishedAt", "yesterday"), "snippet.publishedAt"),
        (lambda v: v["snippet"].__setitem__("channelId", "UC" + "z" * 22), "not the channel"),
        (lambda v: v.__setitem__("id", "short"), "11-character"),
        (lambda v: v["contentDetails"].__setitem__("duration", "21 minutes"), "ISO-8601"),
        (lambda v: v.pop("snippet"), "snippet is missing"),
    ],
)
def test_items_that_fail_a_check_are_rejected_with_the_raw_payload_and_a_reason(
    mutate: Any, reason: str
) -> None:
    item = copy.deepcopy(_real_video())
    owner = item["snippet"]["channelId"]
    mutate(item)
    result = validate_video(item, channel_id=owner, observed_at=NOW)
    assert isinstance(result, Rejected)
    assert reason in result.reason
    assert result.raw is item


def test_shorts_membership_wins_over_duration_and_live_streams_are_live() -> None:
    item = _real_video()
    owner = item["snippet"]["channelId"]
    as_short = validate_video(item, channel_id=owner, observed_at=NOW, in_shorts_playlist=True)
    assert isinstance(as_short, Accepted) and as_short.record.video.video_format is VideoFormat.SHORT
    live = copy.deepcopy(item)
    live["contentDetails"]["duration"] = "P0D"
    live["snippet"]["liveBroadcastContent"] = "live"
    result = validate_video(live, channel_id=owner, observed_at=NOW)
    assert isinstance(result, Accepted)
    assert result.record.video.video_format is VideoFormat.LIVE
    assert result.record.video.duration_seconds is None


def test_a_real_recorded_channel_becomes_a_channel_and_a_snapshot() -> None:
    item = _load("modeldata/channels/channel_info.json")
    result = validate_channel(item, observed_at=NOW)
    assert isinstance(result, Accepted)
    assert result.record.channel.uploads_playlist_id == "UU_x5XG1OV2P6uZZ5FSM9Ttw"
    assert result.record.snapshot.subscriber_count == 1927873


def test_a_hidden_subscriber_count_is_stored_as_unknown() -> None:
    item = copy.deepcopy(_load("modeldata/channels/channel_info.json"))
    item["statistics"]["hiddenSubscriberCount"] = True
    result = validate_channel(item, observed_at=NOW)
    assert isinstance(result, Accepted)
    assert result.record.channel.subscriber_count is None
    assert result.record.channel.hidden_subscriber_count


def test_real_playlist_items_name_their_videos() -> None:
    page = _load("apidata/playlist_items/playlist_items_paged_1.json")
    ids = [playlist_video_id(item) for item in page["items"]]
    assert all(i is not None and len(i) == 11 for i in ids)
    assert playlist_video_id({"snippet": {"resourceId": {"videoId": "bad"}}}) is None


def test_real_comment_threads_split_into_top_level_comments_and_replies() -> None:
    page = _load("apidata/comment_threads/comment_threads_by_video_paged_1.json")
    thread = page["items"][0]
    top, replies, total = thread_parts(thread)
    video_id = thread["snippet"]["videoId"]
    result = validate_comment(top, video_id=video_id, parent_id=None)
    assert isinstance(result, Accepted)
    assert result.record.comment_id == thread["id"]
    assert result.record.text == "Google.com"
    assert total >= len(replies)
    stray = validate_comment(top, video_id="x" * 11, parent_id=None)
    assert isinstance(stray, Rejected) and "not the video" in stray.reason
