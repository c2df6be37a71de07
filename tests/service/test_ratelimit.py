"""Rate limiters: one process's token bucket, and the Redis-held limit shared by replicas."""

from __future__ import annotations

import asyncio

from tubescope.servers import free_port
from tubescope.service.ratelimit import SharedRateLimiter, TokenBucketLimiter


def test_two_limiters_on_one_redis_share_each_tokens_budget(redis_url: str) -> None:
    async def scenario() -> tuple[list[float], float]:
        one, two = (SharedRateLimiter(redis_url, rate=0.01, burst=5) for _ in range(2))
        waits = [await (one if i % 2 else two).wait("token-a") for i in range(12)]
        return waits, await two.wait("token-b")

    waits, other = asyncio.run(scenario())
    assert sum(w == 0 for w in waits) == 5
    assert all(w > 0 for w in waits[5:])
    assert 1 <= int(SharedRateLimiter.retry_after_header(waits[-1])) <= 500  # the window is 500 s
    assert other == 0  # another token's own budget


def test_concurrent_requests_on_two_limiters_admit_exactly_the_burst(redis_url: str) -> None:
    async def scenario() -> list[float]:
        one, two = (SharedRateLimiter(redis_url, rate=0.01, burst=7) for _ in range(2))
        return list(await asyncio.gather(*((one, two)[i % 2].wait("token-c") for i in range(30))))

    waits = asyncio.run(scenario())
    assert sum(w == 0 for w in waits) == 7
    assert all(w > 0 for w in waits if w != 0)


def test_concurrent_checks_share_round_trips_and_a_lone_one_makes_one(redis_url: str) -> None:
    async def scenario() -> tuple[list[float], int, float, int]:
        limiter = SharedRateLimiter(redis_url, rate=1000, burst=10_000, prefix="batching:")
        waits = list(await asyncio.gather(*(limiter.wait("token-d") for _ in range(200))))
        trips = limiter.round_trips
        lone = await limiter.wait("token-d")
        return waits, trips, lone, limiter.round_trips - trips

    waits, trips, lone, lone_trips = asyncio.run(scenario())
    assert waits == [0.0] * 200 and trips <= 3
    assert lone == 0.0 and lone_trips == 1


def test_an_unreachable_redis_falls_back_to_this_process_bucket() -> None:
    async def scenario() -> list[float]:
        limiter = SharedRateLimiter(f"redis://127.0.0.1:{free_port()}/0", rate=1, burst=3)
        return [await limiter.wait("token") for _ in range(5)]

    waits = asyncio.run(scenario())
    assert waits[:3] == [0.0, 0.0, 0.0] and all(w > 0 for w in waits[3:])


def test_the_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    bucket = TokenBucketLimiter(rate=2, burst=2, clock=lambda: now[0])
    assert [bucket.acquire("t") for _ in range(3)][:2] == [0.0, 0.0]
    assert bucket.acquire("t") == 0.5
    now[0] = 0.5
    assert bucket.acquire("t") == 0.0
