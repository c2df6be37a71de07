"""The client against recorded responses and scripted failures served through httpx.MockTransport."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import httpx
import pytest

from tests.youtube.conftest import (
    KEY,
    KEY_B,
    FakeTime,
    error_body,
    fixture_bytes,
    fixture_json,
    json_response,
    make_client,
)
from tubescope.domain.refs import parse_channel_ref
from tubescope.errors import (
    ApiAccessNotConfigured,
    ApiKeyInvalid,
    BudgetExceeded,
    ChannelNotFound,
    CircuitOpen,
    ConfigError,
    QuotaExhausted,
    TransientApiError,
    VideoNotFound,
)
from tubescope.logging import key_fingerprint
from tubescope.youtube.client import ClientOptions, YouTubeClient
from tubescope.youtube.errors import RepeatedPageToken, ResourceUnavailable
from tubescope.youtube.resilience import BreakerState

CHANNEL_ID = "UC_x5XG1OV2P6uZZ5FSM9Ttw"


def sequence_handler(*responses: httpx.Response) -> Callable[[httpx.Request], httpx.Response]:
    """Answer with each response in turn, repeating the last one."""
    queue = list(responses)

    def handle(request: httpx.Request) -> httpx.Response:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handle


def videos_ok() -> httpx.Response:
    return json_response(fixture_bytes("joostlek-python-youtube/video_response_snippet.json"))


# ------------------------------------------------------------------ pagination


async def test_all_pages_of_a_playlist_are_followed_and_cost_one_unit_each() -> None:
    page_1 = fixture_bytes("sns-sdks-python-youtube/apidata/playlist_items/playlist_items_paged_1.json")
    page_2 = fixture_bytes("sns-sdks-python-youtube/apidata/playlist_items/playlist_items_paged_2.json")
    token = json.loads(page_1)["nextPageToken"]

    def handle(request: httpx.Request) -> httpx.Response:
        return json_response(page_2 if request.url.params.get("pageToken") == token else page_1)

    client, recorder, _ = make_client(handle)
    async with client:
        pages = [page async for page in client.iter_playlist_pages("PLOU2XLYxmsIKpaV8h0AGE05so0fAwwfTw")]
    assert [len(p.items) for p in pages] == [10, 3]
    assert len({item.video_id for page in pages for item in page.items}) == 13
    assert client.quota_spent == 2
    assert recorder.requests[0].url.params["maxResults"] == "50"
    assert recorder.requests[1].url.params["pageToken"] == token


async def test_a_repeated_page_token_stops_with_an_error_instead_of_looping() -> None:
    page = fixture_json("sns-sdks-python-youtube/apidata/playlist_items/playlist_items_paged_1.json")
    client, recorder, _ = make_client(lambda _request: json_response(page))
    seen = 0
    async with client:
        with pytest.raises(RepeatedPageToken, match="repeated a page token"):
            async for _page in client.iter_playlist_pages("PLx"):
                seen += 1
    assert seen == 2 and len(recorder.requests) == 2


async def test_pagination_resumes_from_a_saved_token() -> None:
    page_2 = fixture_bytes("sns-sdks-python-youtube/apidata/playlist_items/playlist_items_paged_2.json")
    client, recorder, _ = make_client(lambda _request: json_response(page_2))
    async with client:
        pages = [p async for p in client.iter_playlist_pages("PLx", start_page_token="CAoQAA")]
    assert len(pages) == 1 and recorder.requests[0].url.params["pageToken"] == "CAoQAA"


# ------------------------------------------------------------------ retries


async def test_transient_failures_are_retried_with_growing_backoff_then_succeed() -> None:
    handler = sequence_handler(
        json_response(error_body(500, "backendError", "Backend Error"), 500),
        httpx.Response(503, content=b"<html>Service Unavailable</html>"),
        json_response(error_body(403, "rateLimitExceeded", "Rate Limit Exceeded"), 403),
        videos_ok(),
    )
    client, recorder, fake_time = make_client(handler, backoff_base_seconds=1.0, backoff_max_seconds=30.0)
    async with client:
        response = await client.videos_list(["Ks-_Mh1QhMc"])
    assert response.items and len(recorder.requests) == 4
    assert len(fake_time.sleeps) == 3
    for attempt, delay in enumerate(fake_time.sleeps):
        assert 2**attempt / 2 <= delay <= 2**attempt  # half-jitter around 1, 2, 4 seconds
    assert client.quota_spent == 4  # every request sent is charged, rejected ones included


async def test_retry_after_is_honoured() -> None:
    handler = sequence_handler(httpx.Response(503, headers={"Retry-After": "7"}), videos_ok())
    client, _, fake_time = make_client(handler)
    async with client:
        await client.videos_list(["Ks-_Mh1QhMc"])
    assert fake_time.sleeps == [7.0]


async def test_network_errors_are_retried() -> None:
    calls = {"n": 0}

    def handle(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ConnectError("connection refused", request=request)
        if calls["n"] == 2:
            raise httpx.ReadTimeout("timed out", request=request)
        return videos_ok()

    client, _, fake_time = make_client(handle)
    async with client:
        await client.videos_list(["Ks-_Mh1QhMc"])
    assert calls["n"] == 3 and len(fake_time.sleeps) == 2


async def test_retries_run_out_into_a_transient_error() -> None:
    client, recorder, _ = make_client(
        lambda _r: json_response(error_body(500, "backendError"), 500), max_retries=2
    )
    async with client:
        with pytest.raises(TransientApiError, match="failed 3 times") as caught:
            await client.videos_list(["Ks-_Mh1QhMc"])
    assert len(recorder.requests) == 3
    assert caught.value.status == 500 and caught.value.reason == "backendError"


async def test_an_invalid_key_fails_fast_with_one_request_and_is_named_by_fingerprint() -> None:
    body = fixture_bytes("sns-sdks-python-youtube/error_response.json")
    client, recorder, fake_time = make_client(lambda _r: json_response(body, 400), keys=(KEY, KEY_B))
    async with client:
        with pytest.raises(ApiKeyInvalid) as caught:
            await client.videos_list(["Ks-_Mh1QhMc"])
    assert len(recorder.requests) == 1 and fake_time.sleeps == [] and client.quota_spent == 0
    assert key_fingerprint(KEY) in str(caught.value) and KEY not in str(caught.value)
    assert caught.value.exit_code == 5


async def test_api_not_enabled_fails_fast() -> None:
    body = fixture_bytes("joostlek-python-youtube/youtube_not_activated.json")
    client, recorder, _ = make_client(lambda _r: json_response(body, 403))
    async with client:
        with pytest.raises(ApiAccessNotConfigured, match="not enabled"):
            await client.channels_list(ids=[CHANNEL_ID])
    assert len(recorder.requests) == 1


async def test_a_skipped_resource_is_reported_with_its_reason_and_not_retried() -> None:
    client, recorder, _ = make_client(
        lambda _r: json_response(error_body(403, "commentsDisabled", "The video has disabled comments."), 403)
    )
    async with client:
        with pytest.raises(ResourceUnavailable) as caught:
            await client.comment_threads("Ks-_Mh1QhMc")
    assert caught.value.reason == "commentsDisabled" and len(recorder.requests) == 1


# ------------------------------------------------------------------ keys and quota


def quota_exceeded() -> httpx.Response:
    return json_response(error_body(403, "quotaExceeded", "You have exceeded your quota."), 403)


async def test_quota_exceeded_rotates_to_the_next_key() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return quota_exceeded() if request.url.params["key"] == KEY else videos_ok()

    client, recorder, fake_time = make_client(handle, keys=(KEY, KEY_B))
    async with client:
        await client.videos_list(["a" * 11])
        await client.videos_list(["b" * 11])
    assert recorder.keys == [KEY, KEY_B, KEY_B]
    assert fake_time.sleeps == []  # rotation is not a retry: no backoff
    # the refused call is not billed: the spent key shows 0 units, the next key both calls
    assert client.quota_by_key() == {key_fingerprint(KEY): 0, key_fingerprint(KEY_B): 2}
    assert client.exhausted_key_fingerprints == [key_fingerprint(KEY)]


async def test_quota_exhausted_when_every_key_is_spent_and_nothing_more_is_sent() -> None:
    client, recorder, _ = make_client(lambda _r: quota_exceeded(), keys=(KEY, KEY_B))
    async with client:
        with pytest.raises(QuotaExhausted, match="Pacific") as caught:
            await client.videos_list(["a" * 11])
        with pytest.raises(QuotaExhausted):
            await client.videos_list(["b" * 11])
    assert len(recorder.requests) == 2
    assert KEY not in str(caught.value) and key_fingerprint(KEY) in str(caught.value)


async def test_budget_stops_before_the_request_that_would_exceed_it() -> None:
    client, recorder, _ = make_client(lambda _r: videos_ok(), budget_units=3)
    async with client:
        for _ in range(3):
            await client.videos_list(["a" * 11])
        with pytest.raises(BudgetExceeded, match="budget of 3"):
            await client.videos_list(["a" * 11])
        assert client.quota_remaining == 0
        with pytest.raises(BudgetExceeded):
            await client.search(channel_id=CHANNEL_ID)
    assert len(recorder.requests) == 3 and client.quota_spent == 3


async def test_a_search_is_refused_when_it_alone_would_break_the_budget() -> None:
    client, recorder, _ = make_client(lambda _r: videos_ok(), budget_units=99)
    async with client:
        with pytest.raises(BudgetExceeded):
            await client.search(query="anything")
    assert recorder.requests == [] and client.quota_spent == 0


# ------------------------------------------------------------------ circuit breaker


async def test_breaker_opens_after_consecutive_failures_and_half_opens_after_the_timeout() -> None:
    healthy = {"ok": False}

    def handle(_request: httpx.Request) -> httpx.Response:
        return videos_ok() if healthy["ok"] else httpx.Response(503)

    fake_time = FakeTime()
    client, recorder, _ = make_client(
        handle, time=fake_time, breaker_threshold=3, breaker_reset_seconds=60.0, max_retries=10
    )
    async with client:
        with pytest.raises(CircuitOpen, match="3 consecutive failures"):
            await client.videos_list(["a" * 11])
        assert len(recorder.requests) == 3 and client.breaker.state is BreakerState.OPEN
        with pytest.raises(CircuitOpen):  # refused without a request while open
            await client.videos_list(["a" * 11])
        assert len(recorder.requests) == 3

        fake_time.now += 61  # half-open: one probe; it fails, so the breaker opens again
        assert client.breaker.state is BreakerState.HALF_OPEN
        with pytest.raises(CircuitOpen):
            await client.videos_list(["a" * 11])
        assert len(recorder.requests) == 4 and client.breaker.state is BreakerState.OPEN

        fake_time.now += 61  # the next probe succeeds and closes the breaker
        healthy["ok"] = True
        await client.videos_list(["a" * 11])
        assert client.breaker.state is BreakerState.CLOSED and client.breaker.consecutive_failures == 0


# ------------------------------------------------------------------ batching and concurrency


async def test_videos_many_batches_by_fifty_keeps_order_and_bounds_concurrency() -> None:
    in_flight = {"now": 0, "max": 0}
    ids = [f"vid{n:08d}" for n in range(120)]

    async def handle(request: httpx.Request) -> httpx.Response:
        in_flight["now"] += 1
        in_flight["max"] = max(in_flight["max"], in_flight["now"])
        await asyncio.sleep(0.02)
        in_flight["now"] -= 1
        asked = request.url.params["id"].split(",")
        items = [
            {"id": i, "snippet": {"publishedAt": "2024-01-01T00:00:00Z", "channelId": CHANNEL_ID}}
            for i in reversed(asked)
            if i != "vid00000007"  # deleted videos are simply absent
        ]
        return json_response({"kind": "youtube#videoListResponse", "items": items})

    client = YouTubeClient(
        "https://yt.test/youtube/v3",
        [KEY],
        ClientOptions(requests_per_second=1000, max_concurrency=2),
        transport=httpx.MockTransport(handle),
    )
    async with client:
        videos = await client.videos_many([*ids, ids[3]])
    assert [v.id for v in videos] == [i for i in ids if i != "vid00000007"]
    assert client.quota_spent == 3 and in_flight["max"] == 2


async def test_too_many_ids_for_one_call_is_a_clear_error() -> None:
    client, recorder, _ = make_client(lambda _r: videos_ok())
    async with client:
        with pytest.raises(ValueError, match="at most 50"):
            await client.videos_list([f"v{n:010d}" for n in range(51)])
    assert recorder.requests == []


async def test_requests_are_spaced_by_the_rate_limit() -> None:
    client = YouTubeClient(
        "https://yt.test/youtube/v3",
        [KEY],
        ClientOptions(requests_per_second=20),
        transport=httpx.MockTransport(lambda _r: videos_ok()),
    )
    started = time.perf_counter()
    async with client:
        await asyncio.gather(*(client.videos_list(["a" * 11]) for _ in range(6)))
    assert time.perf_counter() - started >= 5 / 20 * 0.9


# ------------------------------------------------------------------ batchGetStats feature detection


async def test_batch_get_stats_is_used_where_the_server_has_it() -> None:
    stats = {
        "kind": "youtube#batchGetStatsResponse",
        "items": [
            {
                "kind": "youtube#videoStats",
                "id": "Ks-_Mh1QhMc",
                "snippet": {"publishTime": "2012-10-01T15:27:35Z"},
                "statistics": {"viewCount": "5", "likeCount": "1", "commentCount": "0"},
                "contentDetails": {"duration": "1263s"},
            }
        ],
    }
    client, recorder, _ = make_client(lambda _r: json_response(stats))
    async with client:
        result = await client.batch_get_stats(["Ks-_Mh1QhMc"])
    assert recorder.paths == ["/videos:batchGetStats"] and client.batch_stats_supported is True
    assert result[0].statistics is not None and result[0].statistics.view_count == 5


async def test_batch_get_stats_falls_back_to_videos_list_once_it_is_missing() -> None:
    not_found = json.dumps({"error": {"code": 404, "message": "Method not found.", "status": "NOT_FOUND"}})
    full = fixture_bytes("joostlek-python-youtube/video_response_1.json")

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(":batchGetStats"):
            return json_response(not_found.encode(), 404)
        return json_response(full)

    client, recorder, _ = make_client(handle)
    async with client:
        first = await client.batch_get_stats(["Ks-_Mh1QhMc", "GvgqDSnpRQM"])
        await client.batch_get_stats(["Ks-_Mh1QhMc"])
    assert recorder.paths == ["/videos:batchGetStats", "/videos", "/videos"]
    assert client.batch_stats_supported is False
    assert first[0].statistics is not None and first[0].statistics.view_count == 23_278_951
    assert first[0].content_details is not None and first[0].content_details.duration == "PT21M3S"


# ------------------------------------------------------------------ resolving references


def channel_list(*ids: str) -> httpx.Response:
    return json_response({"kind": "youtube#channelListResponse", "items": [{"id": i} for i in ids]})


async def test_a_channel_id_resolves_without_a_request() -> None:
    client, recorder, _ = make_client(lambda _r: channel_list())
    async with client:
        assert await client.resolve_channel_id(parse_channel_ref(CHANNEL_ID)) == CHANNEL_ID
    assert recorder.requests == [] and client.quota_spent == 0


async def test_a_handle_resolves_through_for_handle_for_one_unit() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return (
            channel_list(CHANNEL_ID)
            if request.url.params.get("forHandle") == "@googledevelopers"
            else channel_list()
        )

    client, recorder, _ = make_client(handle)
    async with client:
        ref = parse_channel_ref("https://www.youtube.com/@googledevelopers")
        assert await client.resolve_channel_id(ref) == CHANNEL_ID
        with pytest.raises(ChannelNotFound, match="@nobody_here"):
            await client.resolve_channel_id(parse_channel_ref("@nobody_here"))
    assert client.quota_spent == 2 and recorder.paths == ["/channels", "/channels"]


async def test_a_legacy_username_resolves_through_for_username() -> None:
    client, recorder, _ = make_client(
        lambda r: channel_list(CHANNEL_ID) if r.url.params.get("forUsername") else channel_list()
    )
    async with client:
        ref = parse_channel_ref("https://www.youtube.com/user/GoogleDevelopers")
        assert await client.resolve_channel_id(ref) == CHANNEL_ID
    assert recorder.requests[0].url.params["forUsername"] == "GoogleDevelopers"


async def test_a_video_url_resolves_to_its_channel() -> None:
    body = fixture_bytes("joostlek-python-youtube/video_response_1.json")
    empty = json_response({"kind": "youtube#videoListResponse", "items": []})
    client, _, _ = make_client(
        lambda r: json_response(body) if r.url.params["id"] == "Ks-_Mh1QhMc" else empty
    )
    async with client:
        ref = parse_channel_ref("https://www.youtube.com/watch?v=Ks-_Mh1QhMc")
        assert await client.resolve_channel_id(ref) == "UCAuUUnT6oDeKwE6v1NGQxug"
        with pytest.raises(VideoNotFound):
            await client.resolve_channel_id(parse_channel_ref("https://youtu.be/zzzzzzzzzzz"))
    assert client.quota_spent == 2


async def test_a_custom_url_needs_allow_search_and_then_costs_a_search() -> None:
    search = fixture_bytes("sns-sdks-python-youtube/apidata/search/search_channels.json")
    client, recorder, _ = make_client(lambda _r: json_response(search))
    ref = parse_channel_ref("https://www.youtube.com/c/QueenOfficial")
    async with client:
        with pytest.raises(ConfigError, match="--allow-search") as caught:
            await client.resolve_channel_id(ref)
        assert "100 quota units" in str(caught.value) and recorder.requests == []
        channel_id = await client.resolve_channel_id(ref, allow_search=True)
    assert channel_id == "UCiMhD4jzUqG-IgPzUmmytRQ"  # the result whose title matches, not the first
    assert client.quota_spent == 100 and recorder.requests[0].url.params["type"] == "channel"


async def test_a_call_cancelled_before_it_is_sent_costs_nothing() -> None:
    release = asyncio.Event()

    async def handle(_request: httpx.Request) -> httpx.Response:
        await release.wait()
        return videos_ok()

    client = YouTubeClient(
        "https://yt.test/youtube/v3",
        [KEY],
        ClientOptions(requests_per_second=1000, max_concurrency=1),
        transport=httpx.MockTransport(handle),
    )
    async with client:
        first = asyncio.create_task(client.videos_list(["a" * 11]))
        queued = asyncio.create_task(client.videos_list(["b" * 11]))
        await asyncio.sleep(0.05)
        assert client.quota_spent == 2  # both reserved against the budget
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        release.set()
        await first
    assert client.quota_spent == 1 and client.requests_sent == 1


@pytest.mark.parametrize(
    "bad",
    [
        {"requests_per_second": 0},
        {"max_concurrency": 0},
        {"backoff_base_seconds": 10, "backoff_max_seconds": 1},
        {"budget_units": -1},
    ],
)
def test_impossible_options_are_a_config_error(bad: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match="invalid client options"):
        ClientOptions(**bad)  # type: ignore[arg-type]


async def test_a_spent_search_bucket_does_not_stop_the_cheap_calls() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return quota_exceeded() if request.url.path.endswith("/search") else videos_ok()

    client, recorder, _ = make_client(handle)
    async with client:
        with pytest.raises(QuotaExhausted, match=r"out of quota for search\.list"):
            await client.search(query="anything")
        await client.videos_list(["a" * 11])  # the same key still serves videos.list
    assert recorder.paths == ["/search", "/videos"] and client.exhausted_key_fingerprints == []


async def test_batch_get_stats_out_of_its_own_quota_falls_back_to_videos_list() -> None:
    full = fixture_bytes("joostlek-python-youtube/video_response_1.json")

    def handle(request: httpx.Request) -> httpx.Response:
        return quota_exceeded() if request.url.path.endswith(":batchGetStats") else json_response(full)

    client, recorder, _ = make_client(handle)
    async with client:
        stats = await client.batch_get_stats(["Ks-_Mh1QhMc", "GvgqDSnpRQM"])
    assert recorder.paths == ["/videos:batchGetStats", "/videos"]
    assert [s.id for s in stats] == ["Ks-_Mh1QhMc", "GvgqDSnpRQM"] and client.quota_spent == 1


async def test_videos_many_refuses_up_front_when_the_budget_cannot_cover_every_batch() -> None:
    client, recorder, _ = make_client(lambda _r: videos_ok(), budget_units=2)
    async with client:
        with pytest.raises(BudgetExceeded, match="needs 3"):
            await client.videos_many([f"vid{n:08d}" for n in range(101)])
    assert recorder.requests == [] and client.quota_spent == 0


async def test_a_huge_retry_after_is_capped() -> None:
    handler = sequence_handler(httpx.Response(503, headers={"Retry-After": "86400"}), videos_ok())
    client, _, fake_time = make_client(handler, backoff_max_seconds=30.0)
    async with client:
        await client.videos_list(["Ks-_Mh1QhMc"])
    assert fake_time.sleeps == [120.0]
