"""Per-token rate limiting (answers 429 with Retry-After), in one process or across replicas.

- :class:`TokenBucketLimiter`: ``rate`` requests per second with bursts up to ``burst``, in this
  process (the default: no server needed).
- :class:`SharedRateLimiter`: the same budget held in Redis by the ``limits`` library, so every
  replica draws from one allowance per token. It is a moving window of ``burst`` requests per
  ``burst / rate`` seconds: the same burst and long-run rate as the bucket, counted atomically in
  Redis (the library's Lua script), so two replicas together still answer 429 at the limit.
  While Redis cannot be reached it falls back to an in-process bucket (a per-replica limit)
  rather than refusing or admitting everything.

The service asks with ``await limiter.wait(key)``. The shared limiter's round trip goes through
``limits.aio`` on redis-py's asyncio client: while Redis answers, the event loop serves other
requests instead of blocking on the socket (at saturation, hundreds of times a second).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.exceptions import RedisError

RETRY_SECONDS = 2.0
"""How long the shared limiter uses its in-process fallback after Redis failed."""


class RateLimiter(Protocol):
    """What the service asks of a limiter."""

    async def wait(self, key: str) -> float:
        """0 when allowed; otherwise the seconds to wait before the next request is allowed."""
        ...

    def retry_after_header(self, wait: float) -> str:
        """The ``Retry-After`` value for a wait of ``wait`` seconds."""
        ...


def retry_after(wait: float) -> str:
    """Whole seconds, at least 1 (``Retry-After`` takes an integer)."""
    return str(max(1, math.ceil(wait)))


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """``rate`` requests per second with bursts up to ``burst``, one bucket per caller key."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float:
        """0 when allowed; otherwise the seconds to wait before the next request is allowed."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.setdefault(key, _Bucket(float(self.burst), now))
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate

    async def wait(self, key: str) -> float:
        """:meth:`acquire` for the service (no IO: answered at once)."""
        return self.acquire(key)

    @staticmethod
    def retry_after_header(wait: float) -> str:
        """The ``Retry-After`` value for a wait of ``wait`` seconds."""
        return retry_after(wait)


class SharedRateLimiter:
    """``burst`` requests per ``burst / rate`` seconds per key, counted in Redis for all replicas.

    Its Redis client is asyncio's: use it from one event loop (the service's).
    """

    def __init__(self, redis_url: str, rate: float, burst: int, *, prefix: str = "tubescope:") -> None:
        from limits import RateLimitItemPerSecond
        from limits.aio.storage import RedisStorage
        from limits.aio.strategies import MovingWindowRateLimiter

        self.rate = rate
        self.burst = burst
        window = max(1, math.ceil(burst / rate))
        self._item = RateLimitItemPerSecond(burst, window)
        self._storage = RedisStorage(
            f"async+{redis_url}",
            implementation="redispy",
            key_prefix=f"{prefix}limits",
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
        )
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._fallback = TokenBucketLimiter(rate, burst)
        self._down_until = 0.0

    async def wait(self, key: str) -> float:
        """0 when allowed; otherwise the seconds until the oldest request in the window expires."""
        if time.monotonic() < self._down_until:  # Redis failed a moment ago: one timeout is enough
            return self._fallback.acquire(key)
        try:
            if await self._limiter.hit(self._item, key):
                return 0.0
            reset_at, _ = await self._limiter.get_window_stats(self._item, key)
        except (RedisError, OSError, TimeoutError):
            self._down_until = time.monotonic() + RETRY_SECONDS
            return self._fallback.acquire(key)
        return max(reset_at - time.time(), 1e-3)

    @staticmethod
    def retry_after_header(wait: float) -> str:
        """The ``Retry-After`` value for a wait of ``wait`` seconds."""
        return retry_after(wait)
