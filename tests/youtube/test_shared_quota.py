"""The shared daily quota ledger on a real redis-server, alone and under the client."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from tubescope.emulator.world import World
from tubescope.errors import QuotaExhausted
from tubescope.logging import key_fingerprint
from tubescope.testing import running_emulator
from tubescope.youtube.client import ClientOptions, YouTubeClient
from tubescope.youtube.shared_quota import RedisQuotaLedger, quota_day


async def test_reservations_stop_exactly_at_the_daily_units_under_concurrency(redis_url: str) -> None:
    ledger = RedisQuotaLedger.from_url(redis_url, 100)
    other = RedisQuotaLedger.from_url(redis_url, 100)  # a second process's connection
    try:
        granted = await asyncio.gather(
            *(ledger.reserve("key-a", "default", 3) for _ in range(30)),
            *(other.reserve("key-a", "default", 3) for _ in range(30)),
        )
        assert sum(granted) == 33 and await ledger.spent("key-a") == 99
        assert await other.reserve("key-a", "default", 1) is True
        assert await ledger.reserve("key-a", "default", 1) is False
        assert await ledger.reserve("key-a", "search.list", 100) is True  # buckets are separate
        assert await ledger.reserve("key-b", "default", 100) is True  # and keys
        await ledger.release("key-a", "default", 5)
        assert await ledger.spent("key-a") == 95
        await ledger.release("key-b", "default", 1000)
        assert await ledger.spent("key-b") == 0  # never below zero
        await ledger.exhaust("key-b", "default")
        assert await other.reserve("key-b", "default", 1) is False
    finally:
        await ledger.aclose()
        await other.aclose()


async def test_a_new_pacific_day_starts_from_zero(redis_url: str) -> None:
    moments = iter(
        [datetime(2026, 10, 2, 6, 59, tzinfo=UTC), datetime(2026, 10, 2, 7, 1, tzinfo=UTC)]
    )  # 23:59 and 00:01 US Pacific (daylight time)
    now = {"at": next(moments)}
    ledger = RedisQuotaLedger(Redis.from_url(redis_url), 10, now=lambda: now["at"])
    try:
        assert quota_day(now["at"]).isoformat() == "2026-10-01"
        assert await ledger.reserve("key-a", "default", 10) is True
        assert await ledger.reserve("key-a", "default", 1) is False
        now["at"] = next(moments)
        assert await ledger.reserve("key-a", "default", 10) is True
    finally:
        await ledger.aclose()


async def test_the_client_rotates_keys_on_the_shared_ledger_without_sending_and_stops_in_time(
    redis_url: str,
) -> None:
    world = World(seed=3, n_channels=1, videos_per_channel=10)
    keys = {"shared-key-1": 50, "shared-key-2": 50}
    with running_emulator(world, keys=keys) as emu:
        channel_id = world.channel_ids()[0]
        spent_elsewhere = RedisQuotaLedger.from_url(redis_url, 3)
        assert await spent_elsewhere.reserve(key_fingerprint("shared-key-1"), "default", 3)
        await spent_elsewhere.aclose()
        options = ClientOptions(requests_per_second=1000)
        async with YouTubeClient(
            emu.base_url, list(keys), options, shared_quota=RedisQuotaLedger.from_url(redis_url, 3)
        ) as client:
            for _ in range(3):
                await client.fetch_channel(channel_id)
            with pytest.raises(QuotaExhausted):
                await client.fetch_channel(channel_id)
            assert client.exhausted_key_fingerprints == [key_fingerprint(k) for k in keys]
        served = {
            fingerprint: entry["used_today"]
            for fingerprint, entry in emu.app.state.ledger.snapshot(emu.clock.now())["keys"].items()
        }
    # key 1 was spent by another process: nothing went out with it; key 2 served its 3 units.
    assert served == {key_fingerprint("shared-key-1"): 0, key_fingerprint("shared-key-2"): 3}


async def test_a_quota_exceeded_answer_marks_the_key_spent_for_every_process(redis_url: str) -> None:
    world = World(seed=3, n_channels=1, videos_per_channel=10)
    with running_emulator(world, keys={"tiny-key": 2}) as emu:
        channel_id = world.channel_ids()[0]
        ledger = RedisQuotaLedger.from_url(redis_url, 1000)  # the ledger believes in more units
        async with YouTubeClient(
            emu.base_url, ["tiny-key"], ClientOptions(requests_per_second=1000), shared_quota=ledger
        ) as client:
            await client.fetch_channel(channel_id)
            await client.fetch_channel(channel_id)
            with pytest.raises(QuotaExhausted):
                await client.fetch_channel(channel_id)
        check = RedisQuotaLedger.from_url(redis_url, 1000)
        try:
            assert await check.spent(key_fingerprint("tiny-key")) == 1000
            assert await check.reserve(key_fingerprint("tiny-key"), "default", 1) is False
        finally:
            await check.aclose()
