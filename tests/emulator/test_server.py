from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from tubescope.emulator.clock import EmulatorClock
from tubescope.emulator.server import EmulatorApp, create_app, decode_page_token
from tubescope.emulator.world import World

from .conftest import KEY, NOW


def _uploads(world: World, index: int = 0) -> str:
    return "UU" + world.channel_id(index)[2:]


async def test_channels_by_id_handle_and_username(client: httpx.AsyncClient, world: World) -> None:
    cid = world.channel_id(1)
    by_id = (
        await client.get("/channels", params={"part": "snippet,statistics", "id": cid, "key": KEY})
    ).json()
    assert by_id["kind"] == "youtube#channelListResponse"
    item = by_id["items"][0]
    assert item["id"] == cid and set(item) == {"kind", "etag", "id", "snippet", "statistics"}
    assert isinstance(item["statistics"]["viewCount"], str)
    handle = world.handle_of(1)
    by_handle = (await client.get("/channels", params={"part": "id", "forHandle": handle, "key": KEY})).json()
    assert [i["id"] for i in by_handle["items"]] == [cid]
    missing = await client.get("/channels", params={"part": "id", "forHandle": "@nobody-here", "key": KEY})
    assert missing.status_code == 200 and "items" not in missing.json()
    assert missing.json()["pageInfo"]["totalResults"] == 0
    username = next(
        (
            s.username
            for i in range(world.n_channels)
            if (s := world.observe(NOW).channel(world.channel_id(i))) and s.username
        ),
        None,
    )
    if username:
        found = (
            await client.get("/channels", params={"part": "id", "forUsername": username, "key": KEY})
        ).json()
        assert len(found["items"]) == 1


async def test_hidden_subscribers_are_absent_not_zero(client: httpx.AsyncClient) -> None:
    world = World(seed=3, n_channels=200)
    hidden = [
        world.channel_id(i) for i in range(world.n_channels) if world.channel_truth(i).hidden_subscriber_count
    ][:1]
    assert hidden
    app = create_app(world, clock=EmulatorClock(NOW), keys={KEY: 100})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://e/youtube/v3"
    ) as http:
        body = (
            await http.get("/channels", params={"part": "statistics", "id": hidden[0], "key": KEY})
        ).json()
    stats = body["items"][0]["statistics"]
    assert stats["hiddenSubscriberCount"] is True and "subscriberCount" not in stats


async def test_uploads_playlist_pages_newest_first_until_exhausted(
    client: httpx.AsyncClient, world: World
) -> None:
    seen: list[str] = []
    published: list[str] = []
    token = None
    pages = 0
    while True:
        params = {"part": "contentDetails", "playlistId": _uploads(world), "maxResults": "50", "key": KEY}
        if token:
            params["pageToken"] = token
        body = (await client.get("/playlistItems", params=params)).json()
        pages += 1
        seen += [i["contentDetails"]["videoId"] for i in body["items"]]
        published += [i["contentDetails"]["videoPublishedAt"] for i in body["items"]]
        token = body.get("nextPageToken")
        if not token:
            break
    expected = world.observe(NOW).uploads(world.channel_id(0))
    assert seen == expected
    assert published == sorted(published, reverse=True)
    assert body["pageInfo"]["totalResults"] == len(expected)
    assert pages == -(-len(expected) // 50)


async def test_playlist_defaults_siblings_and_errors(client: httpx.AsyncClient, world: World) -> None:
    base = {"part": "snippet", "key": KEY}
    default = (await client.get("/playlistItems", params={**base, "playlistId": _uploads(world)})).json()
    assert len(default["items"]) == 5 and default["pageInfo"]["resultsPerPage"] == 5
    observation = world.observe(NOW)
    for prefix, fmt in (("UULF", "long"), ("UUSH", "short")):
        resp = await client.get(
            "/playlistItems",
            params={**base, "playlistId": prefix + world.channel_id(0)[2:], "maxResults": 50},
        )
        if resp.status_code == 404:
            continue
        ids = [i["snippet"]["resourceId"]["videoId"] for i in resp.json()["items"]]
        assert all(v.video_format == fmt for v in observation.videos(ids))
    bad = await client.get("/playlistItems", params={**base, "playlistId": "PLnothing", "maxResults": 5})
    assert bad.status_code == 404
    assert bad.json()["error"]["errors"][0]["reason"] == "playlistNotFound"
    too_many = await client.get(
        "/playlistItems", params={**base, "playlistId": _uploads(world), "maxResults": 51}
    )
    assert too_many.status_code == 400
    error = too_many.json()["error"]
    assert error["code"] == 400 and error["errors"][0]["reason"] == "badRequest"
    assert "maxResults" in error["errors"][0]["location"]
    token = await client.get(
        "/playlistItems", params={**base, "playlistId": _uploads(world), "pageToken": "zz"}
    )
    assert token.json()["error"]["errors"][0]["reason"] == "invalidPageToken"


async def test_videos_list_parts_strings_and_missing_ids(client: httpx.AsyncClient, world: World) -> None:
    ids = [*world.observe(NOW).uploads(world.channel_id(2))[:49], "AAAAAAAAAAA"]
    body = (
        await client.get(
            "/videos", params={"part": "statistics,contentDetails", "id": ",".join(ids), "key": KEY}
        )
    ).json()
    assert len(body["items"]) == 49
    for item in body["items"]:
        assert set(item) == {"kind", "etag", "id", "statistics", "contentDetails"}
        assert all(isinstance(v, str) for v in item["statistics"].values())
    over = await client.get("/videos", params={"part": "id", "id": ",".join([*ids, "B" * 11]), "key": KEY})
    assert over.status_code == 400
    unknown_part = await client.get("/videos", params={"part": "bogus", "id": ids[0], "key": KEY})
    assert unknown_part.json()["error"]["errors"][0]["reason"] == "unknownPart"


async def test_key_required_and_invalid_key_shape(client: httpx.AsyncClient, world: World) -> None:
    for params in ({"part": "id", "id": world.channel_id(0)}, {"part": "id", "id": "x", "key": "wrong"}):
        resp = await client.get("/channels", params=params)
        assert resp.status_code == 400
        error = resp.json()["error"]
        assert error["code"] == 400
        assert error["errors"] == [
            {"message": error["message"], "domain": "usageLimits", "reason": "keyInvalid"}
        ]


async def test_quota_costs_ledger_rejections_and_pacific_reset(app: EmulatorApp, world: World) -> None:
    clock: EmulatorClock = app.state.clock
    clock.set(datetime(2026, 10, 2, 6, 30, tzinfo=UTC))  # 23:30 in Los Angeles on 10-01
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://e/youtube/v3") as http:
        ok = {"part": "id", "id": world.channel_id(0), "key": "tiny-key"}
        assert (await http.get("/channels", params=ok)).status_code == 200
        bad = await http.get("/videos", params={"part": "nope", "id": "x", "key": "tiny-key"})
        assert bad.status_code == 400  # rejected, still costs a unit
        assert (await http.get("/channels", params=ok)).status_code == 200
        spent = await http.get("/channels", params=ok)
        assert spent.status_code == 403
        assert spent.json()["error"]["errors"][0]["reason"] == "quotaExceeded"
        assert spent.json()["error"]["errors"][0]["domain"] == "youtube.quota"
        usage = app.state.ledger.usage("tiny-key")
        assert usage["channels.list"].units == 2 and usage["channels.list"].calls == 3
        assert usage["videos.list"].units == 1 and usage["videos.list"].rejected == 1
        admin = (await http.get("http://e/_admin/quota")).json()
        assert "tiny-key" not in str(admin)  # keys are listed by fingerprint only
        assert any(k["used_today"] == 3 for k in admin["keys"].values())
        clock.set(datetime(2026, 10, 2, 7, 0, 1, tzinfo=UTC))  # 00:00:01 in Los Angeles: new day
        assert (await http.get("/channels", params=ok)).status_code == 200


async def test_admin_clock_moves_what_the_api_shows(app: EmulatorApp, world: World) -> None:
    transport = httpx.ASGITransport(app=app)
    cid = world.channel_id(0)
    async with httpx.AsyncClient(transport=transport, base_url="http://e") as http:
        params = {"part": "statistics", "id": cid, "key": KEY}
        before = (await http.get("/youtube/v3/channels", params=params)).json()["items"][0]["statistics"]
        moved = await http.post("/_admin/clock", json={"advance_seconds": 86_400 * 30})
        assert moved.json()["now"].startswith("2026-10-31")
        after = (await http.get("/youtube/v3/channels", params=params)).json()["items"][0]["statistics"]
        assert int(after["viewCount"]) > int(before["viewCount"])
        await http.post("/_admin/clock", json={"now": "2025-01-01T00:00:00Z"})
        assert app.state.clock.now() == datetime(2025, 1, 1, tzinfo=UTC)
        assert (await http.post("/_admin/clock", json={"when": 1})).status_code == 400


def test_page_tokens_round_trip() -> None:
    from tubescope.emulator.server import encode_page_token

    assert decode_page_token(encode_page_token(150)) == 150
    assert decode_page_token("garbage") is None


async def test_search_costs_a_hundred_units_and_stops_at_500(world: World) -> None:
    big = World(seed=8, n_channels=1, videos_per_channel=900)
    app = create_app(big, clock=EmulatorClock(datetime(2026, 12, 31, tzinfo=UTC)), keys={KEY: 10_000})
    cid = big.channel_id(0)
    seen: list[str] = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://e/youtube/v3"
    ) as http:
        params = {
            "part": "id",
            "channelId": cid,
            "type": "video",
            "order": "date",
            "maxResults": "50",
            "key": KEY,
        }
        token = None
        while True:
            body = (
                await http.get("/search", params={**params, **({"pageToken": token} if token else {})})
            ).json()
            seen += [item["id"]["videoId"] for item in body["items"]]
            token = body.get("nextPageToken")
            if not token:
                break
    assert len(seen) == 500  # the channel has more than 850 visible uploads
    assert app.state.ledger.usage(KEY)["search.list"].units == 100 * 10
    after = [v for v in seen if big.observe(datetime(2026, 12, 31, tzinfo=UTC)).video(v) is not None]
    assert after == seen


async def test_comment_threads_disabled_missing_and_replies(client: httpx.AsyncClient, world: World) -> None:
    observation = world.observe(NOW)
    states = [v for cid in world.channel_ids() for v in observation.channel_video_states(cid)]
    disabled = next(v for v in states if v.comments_disabled)
    resp = await client.get(
        "/commentThreads", params={"part": "snippet", "videoId": disabled.video_id, "key": KEY}
    )
    assert resp.status_code == 403 and resp.json()["error"]["errors"][0]["reason"] == "commentsDisabled"
    resp = await client.get(
        "/commentThreads", params={"part": "snippet", "videoId": "AAAAAAAAAAA", "key": KEY}
    )
    assert resp.status_code == 404 and resp.json()["error"]["errors"][0]["reason"] == "videoNotFound"
    busy = next(v for v in states if not v.comments_disabled and 150 < (v.comment_count or 0) < 800)
    threads: list[dict[str, object]] = []
    token = None
    while True:
        params = {"part": "snippet,replies", "videoId": busy.video_id, "maxResults": "100", "key": KEY}
        body = (
            await client.get("/commentThreads", params={**params, **({"pageToken": token} if token else {})})
        ).json()
        threads += body["items"]
        token = body.get("nextPageToken")
        if not token:
            break
    assert len(threads) == observation.thread_count(busy.video_id)
    assert busy.comment_count is not None and 0 < len(threads) <= busy.comment_count
    times = [t["snippet"]["topLevelComment"]["snippet"]["publishedAt"] for t in threads]  # type: ignore[index]
    assert times == sorted(times, reverse=True) and max(times) <= "2026-10-01T12:00:00Z"
    with_replies = [t for t in threads if t["snippet"]["totalReplyCount"] > 5]  # type: ignore[index]
    if with_replies:
        thread = with_replies[0]
        assert len(thread["replies"]["comments"]) == 5  # type: ignore[index]
        replies = (
            await client.get("/comments", params={"part": "snippet", "parentId": thread["id"], "key": KEY})
        ).json()
        assert len(replies["items"]) == thread["snippet"]["totalReplyCount"]  # type: ignore[index]


async def test_same_seed_same_bytes(world: World) -> None:
    bodies = []
    for _ in range(2):
        app = create_app(World(seed=11, n_channels=6), clock=EmulatorClock(NOW), keys={KEY: 100})
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://e/youtube/v3"
        ) as http:
            playlist = "UU" + world.channel_id(4)[2:]
            page = await http.get(
                "/playlistItems", params={"part": "snippet", "playlistId": playlist, "key": KEY}
            )
            ids = ",".join(i["snippet"]["resourceId"]["videoId"] for i in page.json()["items"])
            videos = await http.get("/videos", params={"part": "snippet,statistics", "id": ids, "key": KEY})
            bodies.append(page.content + videos.content)
    assert bodies[0] == bodies[1]


async def test_uploads_pages_end_at_the_twenty_thousand_item_cap() -> None:
    from tubescope.emulator.server import encode_page_token

    world = World(seed=1, n_channels=1, videos_per_channel=21_000)
    app = create_app(world, clock=EmulatorClock(datetime(2026, 12, 31, tzinfo=UTC)), keys={KEY: 100})
    playlist = "UU" + world.channel_id(0)[2:]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://e/youtube/v3") as http:
        params = {"part": "id", "playlistId": playlist, "maxResults": "50", "key": KEY}
        params["pageToken"] = encode_page_token(19_950)
        last = (await http.get("/playlistItems", params=params)).json()
    assert last["pageInfo"]["totalResults"] == 20_000
    assert len(last["items"]) == 50 and "nextPageToken" not in last


async def test_batch_get_stats_has_its_own_bucket(world: World) -> None:
    app = create_app(world, clock=EmulatorClock(NOW), keys={"two-units": 2})
    ids = ",".join(world.observe(NOW).uploads(world.channel_id(0))[:50])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://e/youtube/v3"
    ) as http:
        stats = {"part": "statistics", "id": ids, "key": "two-units"}
        videos = {"part": "statistics", "id": ids, "key": "two-units"}
        assert [(await http.get("/videos", params=videos)).status_code for _ in range(3)] == [200, 200, 403]
        assert [(await http.get("/videos:batchGetStats", params=stats)).status_code for _ in range(3)] == [
            200,
            200,
            403,
        ]
        body = (await http.get("/videos:batchGetStats", params={**stats, "key": "two-units"})).json()
    assert body["error"]["errors"][0]["reason"] == "quotaExceeded"
    ledger = app.state.ledger
    assert ledger.usage("two-units")["videos.batchGetStats"].units == 2
    assert ledger.used_today("two-units", NOW) == 2
    assert ledger.used_today("two-units", NOW, "batchGetStats") == 2


async def test_repeated_reads_are_identical_and_each_is_charged(app: EmulatorApp, world: World) -> None:
    ids = ",".join(world.observe(NOW).uploads(world.channel_id(1))[:50])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://e/youtube/v3") as http:
        params = {"part": "statistics", "id": ids, "key": KEY}
        first = await http.get("/videos", params=params)
        again = await http.get("/videos", params={"key": KEY, "id": ids, "part": "statistics"})
        app.state.clock.advance(3 * 86_400)
        later = await http.get("/videos", params=params)
    assert first.content == again.content
    assert later.content != first.content  # a moved clock is a different answer
    assert app.state.ledger.usage(KEY)["videos.list"].units == 3


_FIFTY_ONE = ",".join(f"id{i}" for i in range(51))


@pytest.mark.parametrize(
    ("path", "params", "status", "reason"),
    [
        ("/channels", {"id": "UCx"}, 400, "required"),  # no part
        ("/channels", {"part": "id", "id": "UCx", "maxResults": "many"}, 400, "badRequest"),
        ("/channels", {"part": "id"}, 400, "missingRequiredParameter"),
        ("/channels", {"part": "id", "id": "UCx", "forHandle": "@x"}, 400, "incompatibleParameters"),
        ("/channels", {"part": "id", "id": _FIFTY_ONE}, 400, "badRequest"),
        ("/playlistItems", {"part": "id"}, 400, "missingRequiredParameter"),
        ("/videos", {"part": "id"}, 400, "missingRequiredParameter"),
        ("/videos", {"part": "id", "id": _FIFTY_ONE}, 400, "badRequest"),
        ("/commentThreads", {"part": "id", "videoId": "x", "textFormat": "rtf"}, 400, "badRequest"),
        ("/commentThreads", {"part": "id"}, 400, "missingRequiredParameter"),
        ("/comments", {"part": "id"}, 400, "missingRequiredParameter"),
        ("/search", {"part": "id", "publishedAfter": "last week"}, 400, "badRequest"),
    ],
    ids=[
        "no-part", "bad-max-results", "no-filter", "two-filters", "51-channels", "no-playlist",
        "no-video-ids", "51-videos", "bad-text-format", "no-thread-filter", "no-comment-filter",
        "bad-date",
    ],
)  # fmt: skip
async def test_bad_requests_get_the_apis_error_shape(
    client: httpx.AsyncClient, path: str, params: dict[str, str], status: int, reason: str
) -> None:
    response = await client.get(path, params={**params, "key": KEY})
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == status and error["errors"][0]["reason"] == reason
    assert error["message"]


async def test_comments_by_id_and_only_get_is_allowed(client: httpx.AsyncClient, world: World) -> None:
    video = world.observe(NOW).uploads(world.channel_id(0))
    observation = world.observe(NOW)
    with_threads = next(v for v in video if observation.thread_count(v) > 0)
    thread = observation.comment_threads(with_threads, 0, 1)[0]
    found = await client.get(
        "/comments", params={"part": "snippet", "id": f"{thread.comment_id},Ugnothing", "key": KEY}
    )
    assert found.status_code == 200
    assert [i["id"] for i in found.json()["items"]] == [thread.comment_id]
    posted = await client.post("/videos", params={"part": "id", "id": "x", "key": KEY})
    assert posted.status_code == 405 and posted.json()["error"]["message"] == "Method not allowed"


async def test_the_admin_routes_refuse_bad_settings(client: httpx.AsyncClient) -> None:
    admin = "http://emulator/_admin"
    assert (await client.get(f"{admin}/clock")).json() == {"now": NOW.isoformat()}
    refused = await client.post(f"{admin}/faults", json=[1, 2])
    assert refused.status_code == 400 and "JSON object" in refused.json()["error"]


def test_serve_refuses_an_error_rate_outside_0_to_1() -> None:
    from tubescope.emulator.server import serve

    with pytest.raises(ValueError, match="error rate must be between 0 and 1"):
        serve(error_rate=1.5, echo=lambda _line: None)
