"""Cache tiers behind one interface: memory LRU → Redis (when configured) → disk → compute.

- :mod:`tubescope.cache.tiers`: the :class:`CacheTier` protocol and its memory, Redis and disk
  tiers, each with its own TTL and size bound and its own hit, miss and byte counts;
- :mod:`tubescope.cache.generations`: per-channel generation tokens folded into every key, which
  is how a landing run invalidates every tier of every replica (the module says why);
- :mod:`tubescope.cache.tiered`: :class:`TieredCache`, the lookup order, single flight and
  refresh, and :func:`open_cache` which builds the tiers from :class:`CacheOptions`.

Used by the service and the jobs; imports nothing of tubescope but itself.
"""

from tubescope.cache.generations import DiskGenerations, Generations, LocalGenerations, RedisGenerations
from tubescope.cache.tiered import BYTES, FLEET, TEXT, CacheOptions, Codec, TieredCache, open_cache
from tubescope.cache.tiers import CacheTier, DiskTier, MemoryTier, RedisTier, TierStats

__all__ = [
    "BYTES",
    "FLEET",
    "TEXT",
    "CacheOptions",
    "CacheTier",
    "Codec",
    "DiskGenerations",
    "DiskTier",
    "Generations",
    "LocalGenerations",
    "MemoryTier",
    "RedisGenerations",
    "RedisTier",
    "TierStats",
    "TieredCache",
    "open_cache",
]
