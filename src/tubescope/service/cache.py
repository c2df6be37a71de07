"""The service's cache of expensive results: the tiered cache with the in-process LRU first.

:class:`AnalysisCache` is :class:`tubescope.cache.TieredCache` (memory LRU → Redis when
configured → disk → compute, invalidated per channel when a run lands, one computation per key
at a time, expired entries refreshed by one caller while the others keep getting them). Built
with only ``ttl_seconds`` it is the memory tier alone; the service builds it from Settings with
:func:`tubescope.jobs.cache.open_settings_cache`. Fleet-wide results (the channel list, peer
comparisons) are filed under :data:`FLEET`, which every data change invalidates too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from tubescope.cache import FLEET, CacheTier, Generations, MemoryTier, TieredCache

__all__ = ["FLEET", "AnalysisCache", "TieredCache"]


class AnalysisCache(TieredCache):
    """A tiered cache whose memory tier keeps ``max_entries`` for ``ttl_seconds``."""

    def __init__(
        self,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_entries: int = 2048,
        shared: Sequence[CacheTier[bytes]] = (),
        generations: Generations | None = None,
    ) -> None:
        memory: MemoryTier[Any] = MemoryTier(ttl_seconds, max_entries=max_entries, clock=clock)
        super().__init__(memory, shared, generations)
