"""The cache tiers: one :class:`CacheTier` protocol, and a memory, a Redis and a disk tier.

Each tier has its own TTL and its own size bound, and counts its hits, misses, errors and bytes
(:class:`TierStats`, which the service exports to ``/metrics``). The shared tiers (Redis, disk)
hold bytes; the memory tier holds the decoded values themselves, so a memory hit costs no
decoding. Keys are strings that already carry the channel's generation (see
:mod:`tubescope.cache.generations`), so no tier ever needs to find and delete stale entries: a
run that lands makes them unreachable, and the tier's TTL or size bound drops them later.

A tier that fails (Redis unreachable, a disk error) counts an error and answers as a miss: the
cache is an accelerator, never a reason for a request to fail.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from redis.exceptions import RedisError

if TYPE_CHECKING:
    import redis

V = TypeVar("V")

__all__ = ["CacheTier", "DiskTier", "MemoryTier", "RedisTier", "TierStats"]


@dataclass(frozen=True)
class TierStats:
    """What one tier has done since it was opened (``bytes`` is what it holds now)."""

    tier: str
    hits: int
    misses: int
    errors: int
    bytes: int
    entries: int | None = None


class _Counts:
    """Hit, miss and error counters, safe across threads."""

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        self.errors = 0
        self._lock = threading.Lock()

    def hit(self) -> None:
        with self._lock:
            self.hits += 1

    def miss(self) -> None:
        with self._lock:
            self.misses += 1

    def error(self) -> None:
        with self._lock:
            self.errors += 1


class CacheTier(Protocol[V]):
    """One level of the cache: values under string keys, with its own TTL and size bound."""

    name: str
    ttl_seconds: float

    def get(self, key: str) -> V | None:
        """The value stored under ``key`` and still within the TTL, or None (a miss)."""
        ...

    def set(self, key: str, value: V, size: int) -> None:
        """Store ``value`` (``size`` bytes) under ``key``, evicting older entries past the bound."""
        ...

    def stats(self) -> TierStats:
        """Hits, misses and errors so far, and the bytes held now."""
        ...

    def close(self) -> None:
        """Release files and connections."""
        ...


@dataclass
class _Slot(Generic[V]):
    stored_at: float
    value: V
    size: int


class MemoryTier(Generic[V]):
    """In-process LRU: at most ``max_entries`` entries and ``max_bytes`` of sized values.

    Keys are any hashable (the tiered cache uses ``(channel, generation, key)`` tuples, so one
    channel's entries can be dropped at once). An entry past its TTL stays until evicted so the
    tiered cache can serve it while one caller refreshes it (:meth:`lookup`); :meth:`get` never
    returns it. Values of unknown size (size 0) count toward ``max_entries`` only.
    """

    name = "memory"

    def __init__(
        self,
        ttl_seconds: float,
        *,
        max_entries: int = 2048,
        max_bytes: int = 256 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        self._slots: OrderedDict[Hashable, _Slot[V]] = OrderedDict()
        self._bytes = 0
        self._counts = _Counts()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._slots

    def lookup(self, key: Hashable, *, record: bool = True) -> tuple[V | None, bool, bool]:
        """``(value, found, fresh)``: an expired entry is found but not fresh.

        ``record`` False leaves the hit and miss counts alone (a second look within one request).
        """
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                if record:
                    self._counts.miss()
                return None, False, False
            self._slots.move_to_end(key)
            fresh = self._clock() - slot.stored_at <= self.ttl_seconds
            if record:
                if fresh:
                    self._counts.hit()
                else:
                    self._counts.miss()
            return slot.value, True, fresh

    def record_hit(self) -> None:
        """Count a hit found with ``record=False``."""
        self._counts.hit()

    def get(self, key: Hashable) -> V | None:
        """The fresh value under ``key``, or None."""
        value, _, fresh = self.lookup(key)
        return value if fresh else None

    def set(self, key: Hashable, value: V, size: int = 0) -> None:
        """Store ``value``; least recently used entries go past ``max_entries`` or ``max_bytes``."""
        with self._lock:
            old = self._slots.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._slots[key] = _Slot(self._clock(), value, size)
            self._bytes += size
            while len(self._slots) > self.max_entries or (
                self._bytes > self.max_bytes and len(self._slots) > 1
            ):
                _, evicted = self._slots.popitem(last=False)
                self._bytes -= evicted.size

    def drop(self, predicate: Callable[[Hashable], bool]) -> int:
        """Remove every entry whose key satisfies ``predicate``; how many went."""
        with self._lock:
            stale = [k for k in self._slots if predicate(k)]
            for k in stale:
                self._bytes -= self._slots.pop(k).size
            return len(stale)

    def stats(self) -> TierStats:
        """Hits, misses, bytes of sized values and entry count."""
        return TierStats(
            self.name, self._counts.hits, self._counts.misses, 0, self._bytes, entries=len(self._slots)
        )

    def close(self) -> None:
        """Forget everything."""
        with self._lock:
            self._slots.clear()
            self._bytes = 0


# Stores one entry and keeps the tier within its byte bound, atomically. The index (a sorted set
# of entry keys by the time they were stored) and the sizes (a hash) let the script forget
# entries Redis already expired and evict the oldest ones; the total is a counter.
# KEYS: entry, index, sizes, total.  ARGV: value, ttl_ms, now_ms, max_bytes.
_SET_BOUNDED = """
local function drop(member)
  local size = tonumber(redis.call('HGET', KEYS[3], member) or '0')
  redis.call('HDEL', KEYS[3], member)
  redis.call('ZREM', KEYS[2], member)
  redis.call('DECRBY', KEYS[4], size)
  redis.call('DEL', member)
end
local ttl, now, bound = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - ttl, 'LIMIT', 0, 256)) do
  drop(member)
end
if redis.call('HEXISTS', KEYS[3], KEYS[1]) == 1 then drop(KEYS[1]) end
local size = string.len(ARGV[1])
if size > bound then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('ZADD', KEYS[2], now, KEYS[1])
redis.call('HSET', KEYS[3], KEYS[1], size)
local total = redis.call('INCRBY', KEYS[4], size)
while total > bound do
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)
  if #oldest == 0 then break end
  drop(oldest[1])
  total = tonumber(redis.call('GET', KEYS[4]) or '0')
end
return 1
"""


class RedisTier:
    """Entries shared by every replica, in Redis under ``{prefix}cache:…`` with a TTL.

    The byte bound is the tier's own (a Lua script evicts the oldest entries past it), not
    Redis's ``maxmemory``: the same server holds the job queue and the rate limits, which must
    never be evicted to make room for a cache entry.
    """

    name = "redis"

    def __init__(
        self,
        client: redis.Redis,
        *,
        ttl_seconds: float = 3600.0,
        max_bytes: int = 256 * 1024 * 1024,
        prefix: str = "tubescope:",
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_bytes = max_bytes
        self._client = client
        self._prefix = f"{prefix}cache:"
        self._index = f"{prefix}cache-index"
        self._sizes = f"{prefix}cache-sizes"
        self._total = f"{prefix}cache-bytes"
        self._set_bounded = client.register_script(_SET_BOUNDED)
        self._counts = _Counts()

    def get(self, key: str) -> bytes | None:
        """The bytes under ``key``, or None when absent, expired or Redis is unreachable."""
        try:
            value: Any = self._client.get(self._prefix + key)
        except (RedisError, OSError):  # Redis unreachable or failing: a miss (counted)
            self._counts.error()
            return None
        if value is None:
            self._counts.miss()
            return None
        self._counts.hit()
        return bytes(value)

    def set(self, key: str, value: bytes, size: int = 0) -> None:
        """Store ``value`` for ``ttl_seconds``; oldest entries go past ``max_bytes``."""
        try:
            self._set_bounded(
                keys=[self._prefix + key, self._index, self._sizes, self._total],
                args=[value, max(1, int(self.ttl_seconds * 1000)), int(time.time() * 1000), self.max_bytes],
            )
        except (RedisError, OSError):  # a failed store only costs a later recomputation
            self._counts.error()

    def stats(self) -> TierStats:
        """This replica's hits and misses; the bytes the tier holds for all replicas."""
        try:
            held = int(self._client.get(self._total) or 0)  # type: ignore[arg-type]
        except (RedisError, OSError):
            held = 0
        return TierStats(self.name, self._counts.hits, self._counts.misses, self._counts.errors, held)

    def close(self) -> None:
        """The client belongs to the caller: nothing to release here."""


class DiskTier:
    """Entries on local disk (diskcache: SQLite plus files), surviving restarts.

    ``max_bytes`` is diskcache's ``size_limit`` with its least-recently-stored eviction (which,
    unlike least-recently-used, costs no write per read). Several processes on one host may share
    the directory.
    """

    name = "disk"

    def __init__(
        self, directory: Path, *, ttl_seconds: float = 7 * 86400.0, max_bytes: int = 1024 * 1024 * 1024
    ) -> None:
        import diskcache

        self.ttl_seconds = ttl_seconds
        self.max_bytes = max_bytes
        self.directory = directory
        self._cache = diskcache.Cache(
            str(directory), size_limit=max_bytes, eviction_policy="least-recently-stored"
        )
        self._counts = _Counts()

    def get(self, key: str) -> bytes | None:
        """The bytes under ``key``, or None when absent or expired."""
        try:
            value = self._cache.get(key)
        except (sqlite3.Error, OSError):  # a damaged cache file is a miss, not a failed request
            self._counts.error()
            return None
        if not isinstance(value, bytes):
            self._counts.miss()
            return None
        self._counts.hit()
        return value

    def set(self, key: str, value: bytes, size: int = 0) -> None:
        """Store ``value`` for ``ttl_seconds`` (diskcache culls past ``max_bytes``)."""
        try:
            self._cache.set(key, value, expire=self.ttl_seconds)
        except (sqlite3.Error, OSError):
            self._counts.error()

    def stats(self) -> TierStats:
        """This process's hits and misses; the bytes the directory holds."""
        try:
            held = int(self._cache.volume())
        except (sqlite3.Error, OSError):
            held = 0
        return TierStats(self.name, self._counts.hits, self._counts.misses, self._counts.errors, held)

    def close(self) -> None:
        """Close the SQLite connections."""
        self._cache.close()
