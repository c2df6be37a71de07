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

import asyncio
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


class _Batch:
    """Requests of one key that go to Redis together: how many, and their waits once answered."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.count = 0
        self.waits: asyncio.Future[list[float]] = loop.create_future()


class SharedRateLimiter:
    """``burst`` requests per ``burst / rate`` seconds per key, counted in Redis for all replicas.

    Checks are grouped: while one round trip for a key is in flight, the requests of that key
    that arrive meanwhile form the next batch, which spends all its hits in one call
    (``cost=n``, atomic in the library's Lua script). Under load that is one round trip per
    batch, not per request; one request alone still makes exactly one. A batch that does not
    fit whole is admitted one hit at a time, so the limit stays exact: never more admitted
    across replicas than the window allows. Its Redis client is asyncio's: use it from one
    event loop (the service's).
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
        self._forming: dict[str, _Batch] = {}
        self._in_flight: dict[str, asyncio.Lock] = {}
        self._flushes: set[asyncio.Task[None]] = set()
        self.round_trips = 0
        """Batches sent to Redis (for tests and benchmarks)."""

    async def wait(self, key: str) -> float:
        """0 when allowed; otherwise the seconds until the oldest request in the window expires."""
        if time.monotonic() < self._down_until:  # Redis failed a moment ago: one timeout is enough
            return self._fallback.acquire(key)
        batch = self._forming.get(key)
        if batch is None:
            loop = asyncio.get_running_loop()
            batch = self._forming[key] = _Batch(loop)
            flush = loop.create_task(self._flush(key, batch))
            self._flushes.add(flush)
            flush.add_done_callback(self._flushes.discard)
        position = batch.count
        batch.count += 1
        return (await asyncio.shield(batch.waits))[position]

    async def _flush(self, key: str, batch: _Batch) -> None:
        lock = self._in_flight.setdefault(key, asyncio.Lock())
        async with lock:  # the previous batch's round trip is over: this one stops growing now
            if self._forming.get(key) is batch:
                del self._forming[key]
            try:
                batch.waits.set_result(await self._spend(key, batch.count))
            except BaseException as exc:  # the waiters see it (a 500), never a silent admit
                batch.waits.set_exception(exc)
        if not lock.locked() and key not in self._forming:
            self._in_flight.pop(key, None)

    async def _spend(self, key: str, count: int) -> list[float]:
        """The waits of ``count`` requests of ``key`` (0 for each admitted)."""
        try:
            self.round_trips += 1
            if await self._limiter.hit(self._item, key, cost=count):
                return [0.0] * count
            waits: list[float] = []
            while count > 1 and len(waits) < count:  # not all fit: admit what does, one by one
                self.round_trips += 1
                if not await self._limiter.hit(self._item, key):
                    break
                waits.append(0.0)
            reset_at, _ = await self._limiter.get_window_stats(self._item, key)
        except (RedisError, OSError, TimeoutError):
            self._down_until = time.monotonic() + RETRY_SECONDS
            return [self._fallback.acquire(key) for _ in range(count)]
        return waits + [max(reset_at - time.time(), 1e-3)] * (count - len(waits))

    @staticmethod
    def retry_after_header(wait: float) -> str:
        """The ``Retry-After`` value for a wait of ``wait`` seconds."""
        return retry_after(wait)
