"""Every route's answers validate against the official discovery document's schemas."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema
import pytest

from tubescope.emulator.clock import EmulatorClock
from tubescope.emulator.server import PARTS, create_app
from tubescope.emulator.world import World

from .conftest import KEY, NOW
from .discovery import REPO_ROOT, json_schema, response_schema_name

WORLD = World(seed=31, n_channels=12)


def _validate(body: dict[str, Any], resource: str, method: str = "list") -> None:
    schema = json_schema(response_schema_name(resource, method))
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


@pytest.fixture
async def http() -> Any:
    app = create_app(WORLD, clock=EmulatorClock(NOW), keys={KEY: 1_000_000})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://e/youtube/v3"
    ) as client:
        yield client


def _all_parts(method: str) -> str:
    return ",".join(sorted(PARTS[method]))


def test_the_converter_is_strict_enough_to_fail() -> None:
    schema = json_schema("VideoListResponse")
    bad_count = {"kind": "youtube#videoListResponse", "items": [{"id": "x", "statistics": {"viewCount": 5}}]}
    invented = {"kind": "youtube#videoListResponse", "items": [{"id": "x", "shinyNewField": True}]}
    for body in (bad_count, invented):
        assert list(jsonschema.Draft7Validator(schema).iter_errors(body))


async def test_channels_validate(http: httpx.AsyncClient) -> None:
    ids = ",".join(WORLD.channel_ids())
    body = (
        await http.get("/channels", params={"part": _all_parts("channels.list"), "id": ids, "key": KEY})
    ).json()
    assert len(body["items"]) >= 10
    _validate(body, "channels")
    empty = (await http.get("/channels", params={"part": "id", "forHandle": "@nobody000", "key": KEY})).json()
    _validate(empty, "channels")


async def test_videos_and_playlist_items_validate_across_formats(http: httpx.AsyncClient) -> None:
    observation = WORLD.observe(NOW)
    seen_formats: set[str] = set()
    hidden_likes = disabled_comments = 0
    for channel_id in WORLD.channel_ids()[:8]:
        playlist = "UU" + channel_id[2:]
        page = (
            await http.get(
                "/playlistItems",
                params={
                    "part": _all_parts("playlistItems.list"),
                    "playlistId": playlist,
                    "maxResults": 50,
                    "key": KEY,
                },
            )
        ).json()
        _validate(page, "playlistItems")
        ids = [item["contentDetails"]["videoId"] for item in page["items"]]
        if not ids:
            continue
        body = (
            await http.get(
                "/videos", params={"part": _all_parts("videos.list"), "id": ",".join(ids), "key": KEY}
            )
        ).json()
        _validate(body, "videos")
        for item in body["items"]:
            stats = item["statistics"]
            hidden_likes += "likeCount" not in stats
            disabled_comments += "commentCount" not in stats
        seen_formats |= {v.video_format for v in observation.videos(ids)}
        stats_body = (
            await http.get(
                "/videos:batchGetStats",
                params={"part": "snippet,contentDetails,statistics", "id": ",".join(ids), "key": KEY},
            )
        ).json()
        _validate(stats_body, "videos", "batchGetStats")
    assert {"short", "long"} <= seen_formats
    assert disabled_comments > 0


async def test_comment_threads_comments_and_search_validate(http: httpx.AsyncClient) -> None:
    observation = WORLD.observe(NOW)
    checked_replies = False
    for channel_id in WORLD.channel_ids()[:4]:
        for video in observation.videos(observation.uploads(channel_id)[5:15]):
            resp = await http.get(
                "/commentThreads",
                params={
                    "part": "id,snippet,replies",
                    "videoId": video.video_id,
                    "maxResults": 100,
                    "key": KEY,
                },
            )
            if video.comments_disabled:
                assert resp.status_code == 403
                continue
            body = resp.json()
            _validate(body, "commentThreads")
            for thread in body["items"]:
                if thread["snippet"]["totalReplyCount"] and not checked_replies:
                    replies = (
                        await http.get(
                            "/comments", params={"part": "id,snippet", "parentId": thread["id"], "key": KEY}
                        )
                    ).json()
                    _validate(replies, "comments")
                    assert len(replies["items"]) == thread["snippet"]["totalReplyCount"]
                    checked_replies = True
        search = (
            await http.get(
                "/search",
                params={
                    "part": "snippet",
                    "channelId": channel_id,
                    "type": "video",
                    "order": "date",
                    "maxResults": 50,
                    "key": KEY,
                },
            )
        ).json()
        _validate(search, "search")
    assert checked_replies
    handle = WORLD.handle_of(3)[1:].rstrip("0123456789")
    found = (
        await http.get("/search", params={"part": "snippet", "q": handle, "type": "channel", "key": KEY})
    ).json()
    _validate(found, "search")
    assert (
        WORLD.channel_id(3) in [item["id"]["channelId"] for item in found["items"]]
        or found["pageInfo"]["totalResults"] > 5
    )


async def test_only_requested_parts_are_present(http: httpx.AsyncClient) -> None:
    video_id = WORLD.observe(NOW).uploads(WORLD.channel_id(0))[0]
    for part in ("id", "snippet", "statistics", "contentDetails", "status"):
        body = (await http.get("/videos", params={"part": part, "id": video_id, "key": KEY})).json()
        extra = {"kind", "etag", "id"}
        assert set(body["items"][0]) == extra | ({part} - {"id"})


_REAL_FIXTURES = (
    REPO_ROOT.parent / "shared" / "data" / "real" / "api-fixtures" / "sns-sdks-python-youtube" / "apidata"
)
_FIXTURE_SCHEMAS = {
    "channels": "ChannelListResponse",
    "videos": "VideoListResponse",
    "playlist_items": "PlaylistItemListResponse",
    "comment_threads": "CommentThreadListResponse",
    "comments": "CommentListResponse",
    "search": "SearchListResponse",
}


def test_real_recorded_answers_pass_the_same_strict_schemas() -> None:
    """If real answers failed, the converter would be stricter than the API and prove nothing."""
    if not _REAL_FIXTURES.exists():
        pytest.skip("../shared/data/real/api-fixtures is absent (real data lives outside the repository)")
    checked = 0
    for folder, schema_name in _FIXTURE_SCHEMAS.items():
        validator = jsonschema.Draft7Validator(json_schema(schema_name))
        for path in sorted((_REAL_FIXTURES / folder).glob("*.json")):
            body = json.loads(path.read_text())
            if not str(body.get("kind", "")).endswith("ListResponse"):
                continue
            errors = [e.message for e in validator.iter_errors(body)]
            assert not errors, f"{path.name}: {errors[:3]}"
            checked += 1
    assert checked >= 20
