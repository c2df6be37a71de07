"""The YouTube API source turns recorded API answers into domain records, at the expected cost."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import entry_points

import httpx
import pytest

from tests.youtube.conftest import Recorder, fixture_bytes, fixture_json, json_response, make_client
from tubescope.domain.models import VideoFormat
from tubescope.domain.refs import parse_channel_ref
from tubescope.errors import ChannelNotFound
from tubescope.sources.base import Source
from tubescope.sources.youtube_api import YouTubeApiSource
from tubescope.youtube.convert import to_domain_channel
from tubescope.youtube.models import Channel

OBSERVED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CID = "UC_x5XG1OV2P6uZZ5FSM9Ttw"
SNS = "sns-sdks-python-youtube/apidata/"


def _source(handler: Callable[[httpx.Request], httpx.Response]) -> tuple[YouTubeApiSource, Recorder]:
    client, recorder, _ = make_client(handler)
    return YouTubeApiSource(client, now=lambda: OBSERVED), recorder


def test_the_source_satisfies_the_protocol_and_is_the_registered_entry_point() -> None:
    client, _, _ = make_client(lambda _r: httpx.Response(200))
    assert isinstance(YouTubeApiSource(client), Source)
    registered = {ep.name: ep.value for ep in entry_points(group="tubescope.sources")}
    assert registered.get("youtube") == "tubescope.sources.youtube_api:YouTubeApiSource"


async def test_fetch_channel_by_handle_resolves_then_reads_the_channel() -> None:
    channel_body = {
        "kind": "youtube#channelListResponse",
        "items": [fixture_json("sns-sdks-python-youtube/modeldata/channels/channel_info.json")],
    }

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("forHandle") == "@googledevelopers":
            return json_response({"items": [{"id": CID}]})
        if request.url.params.get("id") == CID:
            return json_response(channel_body)
        return json_response({"items": []})

    source, _ = _source(handle)
    async with source:
        fetched = await source.fetch_channel(parse_channel_ref("@googledevelopers"))
        with pytest.raises(ChannelNotFound):
            await source.fetch_channel(parse_channel_ref("UCxxxxxxxxxxxxxxxxxxxxxx"))
    assert (
        fetched.channel.channel_id == CID
        and fetched.channel.uploads_playlist_id == "UU_x5XG1OV2P6uZZ5FSM9Ttw"
    )
    assert fetched.snapshot.subscriber_count == 1_927_873 and fetched.snapshot.observed_at == OBSERVED
    assert source.client.quota_spent == 3  # handle (1) + channel (1) + the unknown id (1)


async def test_upload_ids_come_page_by_page_with_resume_tokens() -> None:
    page_1 = fixture_bytes(SNS + "playlist_items/playlist_items_paged_1.json")
    page_2 = fixture_bytes(SNS + "playlist_items/playlist_items_paged_2.json")
    source, _ = _source(lambda r: json_response(page_2 if r.url.params.get("pageToken") else page_1))
    channel_body = fixture_json("sns-sdks-python-youtube/modeldata/channels/channel_info.json")
    channel = to_domain_channel(Channel.model_validate(channel_body))
    async with source:
        pages = [page async for page in source.iter_upload_ids(channel)]
    assert [len(p.video_ids) for p in pages] == [10, 3]
    assert pages[0].next_page_token == "CAoQAA" and pages[1].next_page_token is None


async def test_fetch_videos_reports_missing_ids_and_uses_shorts_membership() -> None:
    body = fixture_bytes("joostlek-python-youtube/video_response_1.json")
    source, _ = _source(lambda _r: json_response(body))
    async with source:
        fetched = await source.fetch_videos(
            ["Ks-_Mh1QhMc", "GvgqDSnpRQM", "gone0000000"], shorts_ids={"GvgqDSnpRQM"}
        )
    assert [v.video_id for v in fetched.videos] == ["Ks-_Mh1QhMc", "GvgqDSnpRQM"]
    assert [v.video_format for v in fetched.videos] == [VideoFormat.LONG, VideoFormat.SHORT]
    assert fetched.missing_ids == ["gone0000000"]
    assert fetched.snapshots[0].view_count == 23_278_951
    assert all(s.observed_at == OBSERVED for s in fetched.snapshots)


async def test_comments_include_paged_replies_and_each_comment_once() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("pageToken")
        if request.url.path.endswith("/commentThreads"):
            name = (
                "comment_threads_by_video_paged_2.json" if token else "comment_threads_by_video_paged_1.json"
            )
            return json_response(fixture_bytes(SNS + "comment_threads/" + name))
        name = "comments_by_parent_paged_2.json" if token else "comments_by_parent_paged_1.json"
        return json_response(fixture_bytes(SNS + "comments/" + name))

    source, recorder = _source(handle)
    async with source:
        comments = [c async for c in source.fetch_comments("F1UP7wRCPH8")]
    top = [c for c in comments if c.parent_id is None]
    replies = [c for c in comments if c.parent_id is not None]
    assert len(top) == 5 and len(replies) == 3
    assert len({c.comment_id for c in comments}) == len(comments)
    assert all(c.video_id == "F1UP7wRCPH8" for c in comments)
    assert next(c for c in top if c.comment_id == "UgwI_ylXVnzPS8Q-oAV4AaABAg").reply_count == 2
    # 2 thread pages + 2 reply pages; the repeated thread on page 2 does not page its replies again
    assert recorder.paths == ["/commentThreads", "/comments", "/comments", "/commentThreads"]
