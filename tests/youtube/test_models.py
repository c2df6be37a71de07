"""Real recorded responses parse into the models, across the years of format drift they show."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.youtube.conftest import FIXTURES, fixture_json
from tubescope.domain.durations import parse_duration_seconds
from tubescope.domain.models import VideoFormat
from tubescope.youtube import models as api
from tubescope.youtube.convert import (
    thread_to_domain_comments,
    to_domain_channel,
    to_domain_channel_snapshot,
    to_domain_comment,
    to_domain_video,
    to_domain_video_snapshot,
)

OBSERVED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LIST_KINDS: dict[str, type[api.ApiModel]] = {
    "youtube#channelListResponse": api.ChannelListResponse,
    "youtube#playlistItemListResponse": api.PlaylistItemListResponse,
    "youtube#videoListResponse": api.VideoListResponse,
    "youtube#commentThreadListResponse": api.CommentThreadListResponse,
    "youtube#commentListResponse": api.CommentListResponse,
    "youtube#searchListResponse": api.SearchListResponse,
}


def _list_fixtures() -> list[str]:
    if not FIXTURES.is_dir():
        return []
    found = []
    for path in sorted(FIXTURES.rglob("*.json")):
        try:
            kind = json.loads(path.read_text(encoding="utf-8")).get("kind")
        except (ValueError, AttributeError):
            continue
        if kind in LIST_KINDS:
            found.append(str(path.relative_to(FIXTURES)))
    return found


@pytest.mark.parametrize("relative", _list_fixtures() or ["(fixtures absent)"])
def test_every_recorded_list_response_parses(relative: str) -> None:
    raw = fixture_json(relative)
    response = LIST_KINDS[raw["kind"]].model_validate(raw)
    assert len(response.items) == len(raw.get("items", []))  # type: ignore[attr-defined]
    assert response.etag is None or not response.etag.startswith('"')  # type: ignore[attr-defined]


def test_channel_counts_are_integers_and_the_handle_comes_from_custom_url() -> None:
    response = api.ChannelListResponse.model_validate(
        fixture_json("sns-sdks-python-youtube/apidata/channels/info_multiple.json")
    )
    google = response.items[0]
    assert google.statistics is not None and google.statistics.subscriber_count == 10_700_000
    assert google.statistics.view_count == 3_331_930_783
    assert google.handle == "@google"
    channel = to_domain_channel(google)
    assert channel.uploads_playlist_id == "UUK8sQmJBp8GCxrOtXWBpyEA"
    assert channel.video_count == 2678 and channel.hidden_subscriber_count is False
    assert channel.published_at == datetime(2005, 9, 18, 22, 37, 10, tzinfo=UTC)


def test_old_channel_shape_with_quoted_etag_milliseconds_and_bare_vanity_name() -> None:
    channel = api.Channel.model_validate(
        fixture_json("sns-sdks-python-youtube/modeldata/channels/channel_info.json")
    )
    assert channel.etag == "8jEFfXBrqiSrcF6Ee7MQuz8XuAM/HUbWoTqNN1LPZKmbyCzPgvjVuR4"
    assert channel.snippet is not None
    assert channel.snippet.published_at == datetime(2007, 8, 23, 0, 34, 43, tzinfo=UTC)
    assert channel.handle is None  # "googledevelopers" predates handles
    assert to_domain_channel(channel).subscriber_count == 1_927_873


def test_hidden_subscriber_count_is_unknown_not_zero() -> None:
    raw = fixture_json("sns-sdks-python-youtube/modeldata/channels/channel_info.json")
    raw["statistics"]["hiddenSubscriberCount"] = True
    raw["statistics"]["subscriberCount"] = "0"
    channel = api.Channel.model_validate(raw)
    assert to_domain_channel(channel).subscriber_count is None
    snapshot = to_domain_channel_snapshot(channel, OBSERVED)
    assert snapshot.subscribers_hidden and snapshot.view_count == 160_361_638


def test_video_with_all_parts_converts_to_a_long_video_and_a_snapshot() -> None:
    response = api.VideoListResponse.model_validate(
        fixture_json("joostlek-python-youtube/video_response_1.json")
    )
    video = response.items[0]
    domain_video = to_domain_video(video, in_shorts_playlist=None)
    assert domain_video.duration_seconds == 21 * 60 + 3
    assert domain_video.video_format is VideoFormat.LONG
    assert domain_video.channel_id == "UCAuUUnT6oDeKwE6v1NGQxug"
    assert "TED" in domain_video.tags and domain_video.category_id == "22"
    snapshot = to_domain_video_snapshot(video, OBSERVED)
    assert (snapshot.view_count, snapshot.like_count, snapshot.comment_count) == (23_278_951, 391_633, 9518)


def test_absent_like_and_comment_counts_are_none_not_zero() -> None:
    raw = fixture_json("joostlek-python-youtube/video_response_1.json")["items"][0]
    del raw["statistics"]["likeCount"]
    del raw["statistics"]["commentCount"]
    snapshot = to_domain_video_snapshot(api.Video.model_validate(raw), OBSERVED)
    assert snapshot.likes_hidden and snapshot.comments_hidden and snapshot.view_count == 23_278_951


def test_shorts_playlist_membership_beats_duration_and_live_is_its_own_format() -> None:
    raw = fixture_json("joostlek-python-youtube/video_response_1.json")["items"][0]
    video = api.Video.model_validate(raw)
    assert to_domain_video(video, in_shorts_playlist=True).video_format is VideoFormat.SHORT
    raw["contentDetails"]["duration"] = "PT58S"
    assert to_domain_video(api.Video.model_validate(raw), None).video_format is VideoFormat.SHORT
    raw["contentDetails"]["duration"] = "P0D"
    raw["snippet"]["liveBroadcastContent"] = "upcoming"
    live = to_domain_video(api.Video.model_validate(raw), None)
    assert live.video_format is VideoFormat.LIVE and live.duration_seconds is None


def test_pre_2021_video_keeps_dislikes_as_a_parsed_count() -> None:
    raw = fixture_json("sns-sdks-python-youtube/modeldata/videos/video_api_response.json")
    video = api.Video.model_validate(raw["items"][0] if "items" in raw else raw)
    assert video.content_details is not None and video.content_details.duration == "PT21M7S"
    assert video.statistics is not None and isinstance(video.statistics.dislike_count, int)


def test_batch_get_stats_item_with_protobuf_duration_and_publish_time() -> None:
    # Shape from the discovery document (no public recording exists): VideoStat with int64 strings.
    stat = api.VideoStat.model_validate(
        {
            "kind": "youtube#videoStats",
            "id": "Ks-_Mh1QhMc",
            "snippet": {"publishTime": "2012-10-01T15:27:35.000Z"},
            "statistics": {"viewCount": "23278951", "likeCount": "391633"},
            "contentDetails": {"duration": "3725s"},
        }
    )
    assert stat.snippet is not None and stat.snippet.publish_time == datetime(
        2012, 10, 1, 15, 27, 35, tzinfo=UTC
    )
    snapshot = to_domain_video_snapshot(stat, OBSERVED)
    assert snapshot.comment_count is None and snapshot.like_count == 391_633
    assert stat.content_details is not None and parse_duration_seconds(stat.content_details.duration) == 3725


def test_playlist_items_give_video_ids_and_their_own_publish_times() -> None:
    response = api.PlaylistItemListResponse.model_validate(
        fixture_json("joostlek-python-youtube/playlist_item_response_snippet_content_details.json")
    )
    first = response.items[0]
    assert first.video_id == "UZ4n1n13crI"
    assert first.video_published_at == datetime(2023, 7, 21, 19, 0, 27, tzinfo=UTC)
    old = api.PlaylistItemListResponse.model_validate(
        fixture_json("sns-sdks-python-youtube/apidata/playlist_items/playlist_items_paged_2.json")
    )
    assert old.items[0].video_id == "6aSG8SdvkoU"  # snippet.resourceId only, no contentDetails
    assert old.etag is not None and not old.etag.startswith('"')


def test_comment_threads_and_replies_convert_to_comments() -> None:
    threads = api.CommentThreadListResponse.model_validate(
        fixture_json("sns-sdks-python-youtube/apidata/comment_threads/comment_threads_by_video_paged_1.json")
    )
    comments = thread_to_domain_comments(threads.items[0])
    assert comments[0].comment_id == "UgyZ1jqkHKYvi1-ruOZ4AaABAg"
    assert comments[0].video_id == "F1UP7wRCPH8" and comments[0].text == "Google.com"
    assert comments[0].extra["author_channel_id"] == "UCzj-CjKYmGlZ7vTL-vOe57A"
    replies = api.CommentListResponse.model_validate(
        fixture_json("sns-sdks-python-youtube/apidata/comments/comments_by_parent_paged_1.json")
    )
    reply = to_domain_comment(replies.items[0], video_id="F1UP7wRCPH8")
    assert reply.parent_id == "Ugw5zYU6n9pmIgAZWvN4AaABAg" and reply.video_id == "F1UP7wRCPH8"


def test_search_results_name_videos_and_channels() -> None:
    response = api.SearchListResponse.model_validate(
        fixture_json("sns-sdks-python-youtube/apidata/search/search_videos_by_channel.json")
    )
    assert response.items[0].id.video_id == "LrQWzOkC0XQ"
    assert response.page_info is not None and response.page_info.total_results == 81297
