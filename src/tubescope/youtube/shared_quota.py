"""The daily quota of each API key as one ledger shared by every process that spends it.

The client reserves each request's cost here *before* sending it, next to its per-run budget
(:class:`~tubescope.youtube.quota.QuotaLedger`). A reservation that would take a key past its
daily units is refused, and the client then treats the key as spent for the day in that bucket:
so N workers together never send more than a key's budget, and never meet a surprise
``quotaExceeded`` from the API for quota another worker used.

Counters live in Redis, one per (key fingerprint, bucket, US Pacific day), changed by one Lua
script each (atomic across processes). Keys are named by fingerprint only: the secret never
leaves the process.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Protocol, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import redis.asyncio as aioredis

try:
    _PACIFIC: timezone | ZoneInfo = ZoneInfo("America/Los_Angeles")
except ZoneInfoNotFoundError:  # slim images without a tz database: standard time is close enough
    _PACIFIC = timezone(timedelta(hours=-8))

DEFAULT_PREFIX = "tubescope:"
"""The default of ``TUBESCOPE_REDIS_PREFIX``; counters are ``<prefix>quota:<fingerprint>:<bucket>:<day>``."""
_TTL_SECONDS = 3 * 86_400  # a day's counters outlive the day, then vanish

# KEYS[1] the counter; ARGV cost, limit, ttl. The new total, or -1 (nothing charged) when the
# cost does not fit under the limit.
_RESERVE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local cost = tonumber(ARGV[1])
if used + cost > tonumber(ARGV[2]) then return -1 end
local total = redis.call('INCRBY', KEYS[1], cost)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return total
"""
# Hand back units never billed (the call was not sent, or the API refused it for the key itself).
_RELEASE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local back = math.min(used, tonumber(ARGV[1]))
if back > 0 then return redis.call('DECRBY', KEYS[1], back) end
return used
"""
# The API said the key is out of quota: every process should stop using it today.
_EXHAUST = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""


def quota_day(at: datetime) -> date:
    """The quota day ``at`` falls in: YouTube's days start at midnight US Pacific time."""
    return at.astimezone(_PACIFIC).date()


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SharedQuota(Protocol):
    """What the client needs from a shared daily ledger (async: it sits on the request path)."""

    async def reserve(self, fingerprint: str, bucket: str, units: int) -> bool:
        """Charge ``units`` to the key in ``bucket`` today; False (nothing charged) if over the limit."""
        ...

    async def release(self, fingerprint: str, bucket: str, units: int) -> None:
        """Give back ``units`` of a reservation that was never billed."""
        ...

    async def exhaust(self, fingerprint: str, bucket: str) -> None:
        """Record that the API refused the key for quota in ``bucket`` today."""
        ...

    async def aclose(self) -> None:
        """Release connections (the client calls it when it closes)."""
        ...


class RedisQuotaLedger:
    """:class:`SharedQuota` in Redis: ``daily_units`` per key and bucket, per Pacific day."""

    def __init__(
        self,
        redis: aioredis.Redis,
        daily_units: int,
        *,
        now: Callable[[], datetime] = _utc_now,
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        if daily_units < 1:
            raise ValueError("daily_units must be >= 1")
        self._redis = redis
        self._prefix = prefix
        self.daily_units = daily_units
        self._now = now
        self._reserve = redis.register_script(_RESERVE)
        self._release = redis.register_script(_RELEASE)
        self._exhaust = redis.register_script(_EXHAUST)

    @classmethod
    def from_url(cls, url: str, daily_units: int, prefix: str = DEFAULT_PREFIX) -> RedisQuotaLedger:
        """A ledger on its own connection pool (close it with :meth:`aclose`), keys under ``prefix``."""
        return cls(aioredis.Redis.from_url(url), daily_units, prefix=prefix)

    def counter_key(self, fingerprint: str, bucket: str, day: date | None = None) -> str:
        """The Redis key holding what ``fingerprint`` spent in ``bucket`` on ``day`` (default today)."""
        return f"{self._prefix}quota:{fingerprint}:{bucket}:{(day or quota_day(self._now())).isoformat()}"

    async def reserve(self, fingerprint: str, bucket: str, units: int) -> bool:
        """Charge ``units`` atomically, or refuse without charging when the day's units would run out."""
        total = await self._reserve(
            keys=[self.counter_key(fingerprint, bucket)], args=[units, self.daily_units, _TTL_SECONDS]
        )
        return int(cast(int, total)) >= 0

    async def release(self, fingerprint: str, bucket: str, units: int) -> None:
        """Give back ``units`` never billed (never below zero)."""
        await self._release(keys=[self.counter_key(fingerprint, bucket)], args=[units])

    async def exhaust(self, fingerprint: str, bucket: str) -> None:
        """Mark the key spent in ``bucket`` for today, so that no process tries it again."""
        await self._exhaust(
            keys=[self.counter_key(fingerprint, bucket)], args=[self.daily_units, _TTL_SECONDS]
        )

    async def spent(self, fingerprint: str, bucket: str = "default") -> int:
        """Units reserved today for the key in ``bucket`` by all processes together."""
        value = await self._redis.get(self.counter_key(fingerprint, bucket))
        return int(value) if value is not None else 0

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()
