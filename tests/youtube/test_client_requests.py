"""The client's less travelled requests against the emulator over real loopback HTTP: search with
every filter, references that resolve to nothing, comment paging, and requests refused before they
are sent. Each answer is checked against what the client reads through a different call."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tubescope.domain.refs import parse_channel_ref
from tubescope.errors import ChannelNotFound, ConfigError, VideoNotFound
from tubescope.youtube.client import ClientOptions, YouTubeClient, parse_http_date
from tubescope.youtube.quota import Method

testing = pytest.importorskip("tubescope.testing", reason="the emulator (tubescope.testing) is not available")

FAST = ClientOptions(requests_per_second=500, max_concurrency=4, backoff_base_seconds=0.001)


@pytest.fixture(scope="module")
def emulator() -> Iterator[testing.EmulatorHandle]:
    with testing.running_emulator(seed=23, n_channels=3) as handle:
        yield handle


async def _uploads(client: YouTubeClient, channel_id: str) -> dict[str, datetime]:
    """Every upload of the channel with its publish time, read through the playlist (not search)."""
    channel = await client.fetch_channel(channel_id)
    published: dict[str, datetime] = {}
    async for page in client.iter_playlist_pages(channel.uploads_playlist_id, parts=("contentDetails",)):
        for item in page.items:
            if item.video_id and item.video_published_at:
                published[item.video_id] = item.video_published_at
    return published


async def test_search_by_channel_and_window_finds_exactly_the_uploads_in_the_window(
    emulator: testing.EmulatorHandle,
) -> None:
    channel_id = emulator.world.channel_ids()[0]
    async with YouTubeClient(emulator.base_url, emulator.keys[:1], FAST) as client:
        uploads = await _uploads(client, channel_id)
        times = sorted(uploads.values())
        after, before = times[len(times) // 4], times[3 * len(times) // 4]
        spent = client.quota_by_method().get(str(Method.SEARCH_LIST), 0)
        found: list[str] = []
        token: str | None = None
        pages = 0
        while True:
            page = await client.search(
                channel_id=channel_id, published_after=after, published_before=before,
                page_token=token, max_results=10,
            )  # fmt: skip
            found += [r.id.video_id for r in page.items if r.id.video_id]
            pages += 1
            token = page.next_page_token
            if not token:
                break
        charged = client.quota_by_method()[str(Method.SEARCH_LIST)] - spent
    expected = {v for v, at in uploads.items() if after <= at <= before}
    assert expected and set(found) <= set(uploads)
    assert {v for v in found if after < uploads[v] < before} == {
        v for v in expected if after < uploads[v] < before
    }
    assert pages >= 2 and charged == 100 * pages


async def test_search_by_name_finds_the_channel_and_a_custom_url_resolves_through_it(
    emulator: testing.EmulatorHandle,
) -> None:
    channel_id = emulator.world.channel_ids()[1]
    async with YouTubeClient(emulator.base_url, emulator.keys[:1], FAST) as client:
        channel = await client.fetch_channel(channel_id)
        title = channel.snippet.title if channel.snippet else ""
        results = await client.search(query=title, result_type="channel")
        assert channel_id in {r.id.channel_id for r in results.items}
        custom = parse_channel_ref("https://www.youtube.com/c/" + title.replace(" ", ""))
        with pytest.raises(ConfigError, match="allow-search"):
            await client.resolve_channel_id(custom)
        assert await client.resolve_channel_id(custom, allow_search=True) == channel_id
        nobody = parse_channel_ref("https://www.youtube.com/c/NoSuchChannelAnywhere")
        with pytest.raises(ChannelNotFound, match="custom URL"):
            await client.resolve_channel_id(nobody, allow_search=True)


async def test_references_to_nothing_are_not_found_errors(emulator: testing.EmulatorHandle) -> None:
    world = emulator.world
    async with YouTubeClient(emulator.base_url, emulator.keys[:1], FAST) as client:
        uploads = await _uploads(client, world.channel_ids()[2])
        some_video = next(iter(uploads))
        by_video = parse_channel_ref(f"https://www.youtube.com/watch?v={some_video}")
        assert await client.resolve_channel_id(by_video) == world.channel_ids()[2]
        with pytest.raises(VideoNotFound):
            await client.resolve_channel_id(parse_channel_ref("https://www.youtube.com/watch?v=AAAAAAAAAAA"))
        with pytest.raises(ChannelNotFound, match="handle"):
            await client.resolve_channel_id(parse_channel_ref("@no-such-handle-here"))
        with pytest.raises(ChannelNotFound, match="username"):
            await client.resolve_channel_id(parse_channel_ref("https://www.youtube.com/user/nosuchuserhere"))
        with pytest.raises(ChannelNotFound, match="no channel with id"):
            await client.fetch_channel("UC" + "x" * 22)


async def test_every_reply_page_is_read_and_matches_the_threads_reply_counts(
    emulator: testing.EmulatorHandle,
) -> None:
    async with YouTubeClient(emulator.base_url, emulator.keys[:1], FAST) as client:
        for channel_id in emulator.world.channel_ids():
            for video_id in await _uploads(client, channel_id):
                threads = await client.comment_threads(video_id, max_results=100)
                busy = [t for t in threads.items if t.snippet and t.snippet.total_reply_count >= 3]
                if busy:
                    thread = busy[0]
                    replies: list[str] = []
                    async for page in client.iter_comment_pages(thread.id, max_results=2):
                        replies += [c.id for c in page.items]
                    assert len(replies) == len(set(replies)) == thread.snippet.total_reply_count
                    return
    pytest.fail("the emulated world has no thread with three replies to page through")


async def test_requests_the_client_refuses_before_sending(emulator: testing.EmulatorHandle) -> None:
    with pytest.raises(ConfigError, match="http"):
        YouTubeClient("ftp://example.invalid/youtube/v3", emulator.keys[:1], FAST)
    async with YouTubeClient(emulator.base_url, emulator.keys[:1], FAST) as client:
        with pytest.raises(ValueError, match="exactly one"):
            await client.channels_list(ids=["UC" + "a" * 22], for_handle="@two")
        with pytest.raises(ValueError, match="channel_id= or query="):
            await client.search()
        with pytest.raises(ValueError, match="never as a request parameter"):
            await client.get_json(Method.VIDEOS_LIST, "/videos", {"key": "leak", "id": "x"})
        assert client.quota_spent == 0
        assert emulator.keys[0] not in repr(client)


def test_http_dates_in_every_form_and_garbage() -> None:
    expected = datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)
    assert parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == expected
    assert parse_http_date("Sun, 06 Nov 1994 09:49:37 +0100") == expected
    assert parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == expected
    assert parse_http_date("Sun Nov  6 08:49:37 1994") == expected
    assert parse_http_date("yesterday") is None
    assert parse_http_date("") is None and parse_http_date(None) is None
    assert expected - parse_http_date("Sun, 06 Nov 1994 08:49:36 GMT") == timedelta(seconds=1)  # type: ignore[operator]
