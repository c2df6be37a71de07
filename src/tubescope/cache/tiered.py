"""The tiered cache: memory LRU → Redis (when configured) → disk → compute.

:meth:`TieredCache.get_or_compute` looks for an entry tier by tier, copies a lower tier's hit
into the tiers above it, and computes only when every tier misses, then stores the answer in all
of them. Only one thread per key looks and computes while the others wait for it: under load, a
cold analysis would otherwise be computed by every concurrent request at once. A memory entry
past its TTL (the data did not change; only time passed) is refreshed by one caller while the
others keep getting it meanwhile, so a fleet of analyses expiring together does not stall every
request.

Entries are filed by channel. Fleet-wide results (the channel list, peer comparisons) are filed
under the pseudo channel ``"*"``, which every landing run invalidates too. Invalidation bumps the
channel's generation (:mod:`tubescope.cache.generations`), which every key carries, so it reaches
every tier and every replica at once. A value computed while its channel was invalidated is
returned to its caller but stored under the old generation, where nobody looks: a run that lands
mid-computation is never hidden.

Only values given a :class:`Codec` go below the memory tier (as bytes); the others (data
frames, indexes) stay in memory.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from redis.exceptions import RedisError

from tubescope.cache.generations import DiskGenerations, Generations, LocalGenerations, RedisGenerations
from tubescope.cache.tiers import CacheTier, DiskTier, MemoryTier, RedisTier, TierStats

if TYPE_CHECKING:
    import redis

__all__ = ["BYTES", "FLEET", "TEXT", "CacheOptions", "Codec", "TieredCache", "open_cache"]

FLEET = "*"
"""The pseudo channel id of entries computed from several or all channels."""

T = TypeVar("T")
_StoreErrors = (RedisError, OSError, sqlite3.Error)


@dataclass(frozen=True)
class Codec(Generic[T]):
    """How a value becomes bytes for the shared tiers, and back."""

    encode: Callable[[T], bytes]
    decode: Callable[[bytes], T]


BYTES: Codec[bytes] = Codec(bytes, bytes)
TEXT: Codec[str] = Codec(str.encode, bytes.decode)


@dataclass(frozen=True)
class CacheOptions:
    """Each tier's TTL and size bound; ``disk_dir`` None means no disk tier."""

    memory_ttl_seconds: float = 300.0
    memory_max_entries: int = 2048
    memory_max_bytes: int = 256 * 1024 * 1024
    redis_ttl_seconds: float = 3600.0
    redis_max_bytes: int = 256 * 1024 * 1024
    disk_dir: Path | None = None
    disk_ttl_seconds: float = 7 * 86400.0
    disk_max_bytes: int = 1024 * 1024 * 1024
    prefix: str = "tubescope:"
    generation_max_age_seconds: float = 0.5
    """How long a generation read from Redis is reused: other replicas' runs are seen within it."""


class TieredCache:
    """Memory first, then each shared tier in order, then compute; invalidated per channel."""

    def __init__(
        self,
        memory: MemoryTier[Any],
        shared: Sequence[CacheTier[bytes]] = (),
        generations: Generations | None = None,
        *,
        retry_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.memory = memory
        self.shared = tuple(shared)
        self.generations: Generations = generations or LocalGenerations()
        self.retry_seconds = retry_seconds
        self._clock = clock
        self._down_until = 0.0
        self._pending: set[str] = set()
        self.generation_errors = 0
        self.decode_errors = 0
        self._gates: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    @property
    def ttl(self) -> float:
        """The memory tier's TTL."""
        return self.memory.ttl_seconds

    def __len__(self) -> int:
        return len(self.memory)

    @property
    def tier_names(self) -> list[str]:
        """The tiers in lookup order."""
        return [self.memory.name, *(tier.name for tier in self.shared)]

    def _generation(self, channel_id: str) -> str | None:
        """The channel's token; None while the store is down (the caller computes, uncached).

        After a failure the store is left alone for ``retry_seconds``, so a stalled Redis costs
        one timeout, not one per request. Invalidations that could not be written are written
        first when it answers again.
        """
        if self._down_until and self._clock() < self._down_until:
            return None
        try:
            if self._pending:
                with self._lock:
                    pending, self._pending = self._pending, set()
                try:
                    self.generations.bump(pending)
                except _StoreErrors:
                    with self._lock:
                        self._pending |= pending
                    raise
            token = self.generations.current(channel_id)
        except _StoreErrors:
            with self._lock:
                self.generation_errors += 1
                self._down_until = self._clock() + self.retry_seconds
            return None
        self._down_until = 0.0
        return token

    @staticmethod
    def _shared_key(channel_id: str, generation: str, key: Hashable) -> str:
        text = key if isinstance(key, str) else repr(key)
        return f"v1:{channel_id}:{generation}:{text}"

    def get(self, channel_id: str, key: Hashable) -> tuple[bool, Any]:
        """``(True, value)`` when the memory tier holds a fresh entry of the current generation."""
        generation = self._generation(channel_id)
        if generation is None:
            return False, None
        # a miss is counted by the get_or_compute that follows it
        value, found, fresh = self.memory.lookup((channel_id, generation, key), record=False)
        if found and fresh:
            self.memory.record_hit()
            return True, value
        return False, None

    def holds(self, channel_id: str, key: Hashable) -> bool:
        """Whether the memory tier holds a fresh entry of the current generation (counted nowhere)."""
        generation = self._generation(channel_id)
        if generation is None:
            return False
        _, found, fresh = self.memory.lookup((channel_id, generation, key), record=False)
        return found and fresh

    def put(self, channel_id: str, key: Hashable, value: T, codec: Codec[T] | None = None) -> None:
        """Store ``value`` in memory (and, with a codec, in every shared tier)."""
        generation = self._generation(channel_id)
        if generation is not None:
            self._store(channel_id, generation, key, value, codec, self.shared)

    def _store(
        self,
        channel_id: str,
        generation: str,
        key: Hashable,
        value: T,
        codec: Codec[T] | None,
        tiers: Sequence[CacheTier[bytes]],
        data: bytes | None = None,
    ) -> None:
        if codec is not None and data is None and tiers:
            data = codec.encode(value)
        size = len(data) if data is not None else 0
        self.memory.set((channel_id, generation, key), value, size)
        if data is not None:
            shared_key = self._shared_key(channel_id, generation, key)
            for tier in tiers:
                tier.set(shared_key, data, size)

    def get_or_compute(
        self,
        channel_id: str,
        key: Hashable,
        compute: Callable[[], T],
        codec: Codec[T] | None = None,
        *,
        record: bool = True,
    ) -> tuple[bool, T]:
        """``(hit, value)``; on a miss one caller looks in the lower tiers or computes.

        An exception in ``compute`` reaches the caller that computed and is not cached: the next
        caller retries. When the generation store cannot be read (Redis down), the value is
        computed and not stored: slower, never stale. ``record`` False leaves the memory tier's
        hit and miss counts alone: they count what requests found, not what the warmer filled.
        """
        generation = self._generation(channel_id)
        if generation is None:
            return False, compute()
        full_key = (channel_id, generation, key)
        value, found, fresh = self.memory.lookup(full_key, record=record)
        if found and fresh:
            return True, cast("T", value)
        with self._lock:
            gate = self._gates.setdefault(full_key, threading.Lock())
            if len(self._gates) > 2 * self.memory.max_entries:  # gates of gone keys; a waiter keeps its own
                self._gates = {k: g for k, g in self._gates.items() if k in self.memory or k == full_key}
        if found:  # expired: refresh it here unless another caller already does
            if not gate.acquire(blocking=False):
                return True, cast("T", value)
            try:
                return self._fill(channel_id, generation, key, compute, codec)
            finally:
                gate.release()
        with gate:
            value, found, fresh = self.memory.lookup(full_key, record=False)
            if found and fresh:
                return True, cast("T", value)
            return self._fill(channel_id, generation, key, compute, codec)

    def _fill(
        self,
        channel_id: str,
        generation: str,
        key: Hashable,
        compute: Callable[[], T],
        codec: Codec[T] | None,
    ) -> tuple[bool, T]:
        if codec is not None:
            shared_key = self._shared_key(channel_id, generation, key)
            for depth, tier in enumerate(self.shared):
                data = tier.get(shared_key)
                decoded = None if data is None else self._decode(codec, data)
                if data is not None and decoded is not None:
                    self._store(channel_id, generation, key, decoded[0], codec, self.shared[:depth], data)
                    return True, decoded[0]
        computed = compute()
        self._store(channel_id, generation, key, computed, codec, self.shared)
        return False, computed

    def _decode(self, codec: Codec[T], data: bytes) -> tuple[T] | None:
        """The decoded value (in a 1-tuple), or None for an entry this version cannot read."""
        try:
            return (codec.decode(data),)
        except Exception:  # a damaged or older entry: a miss, counted
            with self._lock:
                self.decode_errors += 1
            return None

    def invalidate(self, channel_ids: Iterable[str]) -> int:
        """A run landed for ``channel_ids``: every tier of every replica stops serving their entries.

        Returns how many entries this process's memory tier dropped. When the generation store
        cannot be written, this process serves no cached answer until it can, and then writes
        the new generations before anything else.
        """
        gone = set(channel_ids)
        try:
            self.generations.bump(gone)
        except _StoreErrors:
            with self._lock:
                self.generation_errors += 1
                self._pending |= gone
                self._down_until = self._clock() + self.retry_seconds
        return self.memory.drop(lambda k: isinstance(k, tuple) and k[0] in gone)

    def invalidate_channel(self, channel_id: str) -> int:
        """Invalidate one channel; how many of its entries this process's memory tier dropped."""
        return self.invalidate([channel_id])

    def stats(self) -> list[TierStats]:
        """Each tier's counters and bytes, memory first."""
        return [self.memory.stats(), *(tier.stats() for tier in self.shared)]

    def close(self) -> None:
        """Close every tier and the generation store."""
        for tier in (self.memory, *self.shared):
            tier.close()
        close = getattr(self.generations, "close", None)
        if callable(close):
            close()


def open_cache(options: CacheOptions, client: redis.Redis | None = None) -> TieredCache:
    """Memory, then Redis when ``client`` is given, then disk when ``options.disk_dir`` is set.

    Generations live in Redis when there is one (shared by every replica), else beside the disk
    tier (shared by the processes of this host, kept across restarts), else in this process.
    """
    memory: MemoryTier[Any] = MemoryTier(
        options.memory_ttl_seconds,
        max_entries=options.memory_max_entries,
        max_bytes=options.memory_max_bytes,
    )
    shared: list[CacheTier[bytes]] = []
    generations: Generations
    if client is not None:
        shared.append(
            RedisTier(
                client,
                ttl_seconds=options.redis_ttl_seconds,
                max_bytes=options.redis_max_bytes,
                prefix=options.prefix,
            )
        )
        generations = RedisGenerations(
            client, prefix=options.prefix, max_age_seconds=options.generation_max_age_seconds
        )
    if options.disk_dir is not None:
        options.disk_dir.mkdir(parents=True, exist_ok=True)
        shared.append(
            DiskTier(
                options.disk_dir / "entries",
                ttl_seconds=options.disk_ttl_seconds,
                max_bytes=options.disk_max_bytes,
            )
        )
        if client is None:
            generations = DiskGenerations(options.disk_dir / "generations")
    if client is None and options.disk_dir is None:
        generations = LocalGenerations()
    return TieredCache(memory, shared, generations)
