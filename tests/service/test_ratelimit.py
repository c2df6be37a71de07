"""Rate limiters: one process's token bucket, and the Redis-held limit shared by replicas."""

from __future__ import annotations

from tubescope.servers import free_port
from tubescope.service.ratelimit import SharedRateLimiter, TokenBucketLimiter


def test_two_limiters_on_one_redis_share_each_tokens_budget(redis_url: str) -> None:
    one, two = (SharedRateLimiter(redis_url, rate=0.01, burst=5) for _ in range(2))
    waits = [(one if i % 2 else two).acquire("token-a") for i in range(12)]
    assert sum(w == 0 for w in waits) == 5
    assert all(w > 0 for w in waits[5:])
    assert 1 <= int(one.retry_after_header(waits[-1])) <= 500  # the window is 500 s
    assert two.acquire("token-b") == 0  # another token's own budget


def test_an_unreachable_redis_falls_back_to_this_process_bucket() -> None:
    limiter = SharedRateLimiter(f"redis://127.0.0.1:{free_port()}/0", rate=1, burst=3)
    waits = [limiter.acquire("token") for _ in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0] and all(w > 0 for w in waits[3:])


def test_the_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    bucket = TokenBucketLimiter(rate=2, burst=2, clock=lambda: now[0])
    assert [bucket.acquire("t") for _ in range(3)][:2] == [0.0, 0.0]
    assert bucket.acquire("t") == 0.5
    now[0] = 0.5
    assert bucket.acquire("t") == 0.0
