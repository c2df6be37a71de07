"""The real client against the project's emulator over real loopback HTTP.

The emulator keeps its own quota ledger; the planner's number for a crawl must equal what that
ledger charged, and the data read must equal the world's own observation (an independent truth).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tubescope.domain.refs import parse_channel_ref
from tubescope.errors import ApiKeyInvalid, BudgetExceeded, CircuitOpen, QuotaExhausted
from tubescope.logging import key_fingerprint
from tubescope.youtube.client import ClientOptions, YouTubeClient
from tubescope.youtube.quota import QuotaPlanner

testing = pytest.importorskip("tubescope.testing", reason="the emulator (tubescope.testing) is not available")
if not hasattr(testing, "running_emulator"):
    pytest.skip("tubescope.testing has no running_emulator yet", allow_module_level=True)

FAST = ClientOptions(requests_per_second=500, max_concurrency=4, backoff_base_seconds=0.001)
planner = QuotaPlanner()


@pytest.fixture(scope="module")
def emulator() -> Iterator[testing.EmulatorHandle]:
    with testing.running_emulator(seed=11, n_channels=4) as handle:
        yield handle


def _emulator_units(emulator: testing.EmulatorHandle, key: str) -> int:
    return int(emulator.ledger.total_units(key))


async def _crawl(client: YouTubeClient, channel_id: str) -> tuple[list[str], dict[str, int]]:
    channel = await client.fetch_channel(channel_id)
    upload_ids: list[str] = []
    async for page in client.iter_playlist_pages(channel.uploads_playlist_id, parts=("contentDetails",)):
        upload_ids.extend(item.video_id for item in page.items if item.video_id)
    videos = await client.videos_many(upload_ids)
    views = {
        v.id: v.statistics.view_count for v in videos if v.statistics and v.statistics.view_count is not None
    }
    return upload_ids, views


async def test_a_full_crawl_reads_the_world_and_costs_exactly_the_planned_quota(
    emulator: testing.EmulatorHandle,
) -> None:
    key = emulator.keys[0]
    world = emulator.world
    channel_id = world.channel_ids()[1]
    ref = parse_channel_ref(world.handle_of(1))
    before = _emulator_units(emulator, key)
    async with YouTubeClient(emulator.base_url, [key], FAST) as client:
        resolved = await client.resolve_channel_id(ref)
        upload_ids, views = await _crawl(client, resolved)

    truth = world.observe(emulator.clock()).uploads_frame(channel_id)
    assert resolved == channel_id
    assert upload_ids == truth["video_id"].tolist()  # every upload, newest first, none twice
    assert views == dict(zip(truth["video_id"], truth["view_count"].astype(int), strict=True))
    spent = _emulator_units(emulator, key) - before
    expected = planner.fresh_crawl(len(upload_ids), ref).total
    assert spent == expected == 1 + 1 + 2 * math.ceil(len(upload_ids) / 50)
    assert client.quota_by_key() == {key_fingerprint(key): expected}


async def test_an_incremental_crawl_costs_exactly_the_planned_quota(emulator: testing.EmulatorHandle) -> None:
    key = emulator.keys[0]
    world = emulator.world
    channel_id = world.channel_ids()[2]
    start = emulator.clock()
    try:
        async with YouTubeClient(emulator.base_url, [key], FAST) as client:
            known, _ = await _crawl(client, channel_id)
            emulator.set_now(start + timedelta(days=45))
            before = _emulator_units(emulator, key)
            channel = await client.fetch_channel(channel_id)
            new: list[str] = []
            async for page in client.iter_playlist_pages(
                channel.uploads_playlist_id, parts=("contentDetails",)
            ):
                ids = [i.video_id for i in page.items if i.video_id]
                fresh = [i for i in ids if i not in set(known)]
                new.extend(fresh)
                if len(fresh) < len(ids):
                    break  # reached videos collected last time: the rest is known
            everything = list(dict.fromkeys([*new, *known]))
            await client.videos_many(everything)
            spent = _emulator_units(emulator, key) - before
    finally:
        emulator.set_now(start)
    assert new, "the world should have published something in 45 days"
    cost = planner.incremental_crawl(len(new), len(everything))
    assert spent == cost.total
    assert spent <= QuotaPlanner.incremental_upper_bound(len(new), len(everything))


async def test_batch_get_stats_agrees_with_videos_list(emulator: testing.EmulatorHandle) -> None:
    world = emulator.world
    channel_id = world.channel_ids()[0]
    async with YouTubeClient(emulator.base_url, [emulator.keys[0]], FAST) as client:
        upload_ids, views = await _crawl(client, channel_id)
        stats = await client.batch_get_stats(upload_ids[:50])
    assert client.batch_stats_supported is True
    assert {s.id: s.statistics.view_count for s in stats if s.statistics} == {
        i: views[i] for i in upload_ids[:50]
    }


async def test_faults_are_retried_and_the_data_still_matches(emulator: testing.EmulatorHandle) -> None:
    world = emulator.world
    channel_id = world.channel_ids()[3]

    async def no_wait(_seconds: float) -> None:
        return None

    emulator.set_faults(
        seed=5,
        backend_error_rate=0.1,
        unavailable_rate=0.1,
        too_many_requests_rate=0.05,
        truncated_rate=0.05,
        malformed_rate=0.05,
        connection_reset_rate=0.05,
    )
    try:
        options = ClientOptions(requests_per_second=500, max_retries=10, breaker_threshold=50)
        async with YouTubeClient(emulator.base_url, [emulator.keys[1]], options, sleep=no_wait) as client:
            upload_ids, views = await _crawl(client, channel_id)
        injected = dict(emulator.app.state.faults.injected)
    finally:
        emulator.set_faults()
    truth = world.observe(emulator.clock()).uploads_frame(channel_id)
    assert upload_ids == truth["video_id"].tolist()
    assert views == dict(zip(truth["video_id"], truth["view_count"].astype(int), strict=True))
    assert sum(injected.values()) > 0 and client.requests_sent > 1 + 2 * math.ceil(len(upload_ids) / 50)


async def test_keys_rotate_on_quota_and_run_out_cleanly() -> None:
    small, large = "small-key-0001", "large-key-0002"
    with testing.running_emulator(seed=11, n_channels=1, keys={small: 2, large: 3}) as emulator:
        world = emulator.world
        channel_id = world.channel_ids()[0]
        async with YouTubeClient(emulator.base_url, [small, large], FAST) as client:
            with pytest.raises(QuotaExhausted, match="all 2 API key"):
                await _crawl(client, channel_id)
            by_key = client.quota_by_key()
        assert by_key == {
            key_fingerprint(small): emulator.ledger.total_units(small),
            key_fingerprint(large): emulator.ledger.total_units(large),
        }
        assert by_key == {key_fingerprint(small): 2, key_fingerprint(large): 3}


async def test_an_unknown_key_fails_fast(emulator: testing.EmulatorHandle) -> None:
    async with YouTubeClient(emulator.base_url, ["not-a-real-key-123"], FAST) as client:
        with pytest.raises(ApiKeyInvalid, match=key_fingerprint("not-a-real-key-123")):
            await client.channels_list(for_handle="@anyone")
    assert client.requests_sent == 1


async def test_a_budget_one_short_of_the_plan_stops_before_spending_past_it(
    emulator: testing.EmulatorHandle,
) -> None:
    key = emulator.keys[1]
    channel_id = emulator.world.channel_ids()[0]
    n_uploads = len(emulator.world.observe(emulator.clock()).uploads(channel_id))
    planned = planner.fresh_crawl(n_uploads).total
    before = _emulator_units(emulator, key)
    options = ClientOptions(requests_per_second=500, budget_units=planned - 1)
    async with YouTubeClient(emulator.base_url, [key], options) as client:
        with pytest.raises(BudgetExceeded, match=f"budget of {planned - 1}"):
            await _crawl(client, channel_id)
    # videos_many will not start batches it cannot finish, so the run stops after the listing
    assert _emulator_units(emulator, key) - before == client.quota_spent <= planned - 1
    assert "videos.list" not in client.quota_by_method()


async def test_a_dead_server_opens_the_breaker_instead_of_retrying_forever(
    emulator: testing.EmulatorHandle,
) -> None:
    async def no_wait(_seconds: float) -> None:
        return None

    emulator.set_faults(unavailable_rate=1.0)
    try:
        options = ClientOptions(requests_per_second=500, max_retries=20, breaker_threshold=4)
        async with YouTubeClient(emulator.base_url, [emulator.keys[1]], options, sleep=no_wait) as client:
            with pytest.raises(CircuitOpen):
                await client.fetch_channel(emulator.world.channel_ids()[0])
            with pytest.raises(CircuitOpen):
                await client.fetch_channel(emulator.world.channel_ids()[0])
    finally:
        emulator.set_faults()
    assert client.requests_sent == 4
