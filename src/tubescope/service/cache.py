"""In-memory TTL cache of expensive results, invalidated per channel when a run lands.

Fleet-wide results (the channel list, peer comparisons) are filed under :data:`FLEET`, which
every data change invalidates too. :meth:`AnalysisCache.get_or_compute` lets only one thread
compute a missing entry while the others wait for it: under load, a cold analysis would
otherwise be computed by every concurrent request at once and starve the whole service. The
least recently used entries go once ``max_entries`` is reached, so many distinct keys (peer
sets, say) cannot grow the process without bound.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

FLEET = "*"
"""The pseudo channel id of entries computed from several or all channels."""

T = TypeVar("T")


class AnalysisCache:
    def __init__(
        self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic, *, max_entries: int = 2048
    ) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[str, Hashable], tuple[float, Any]] = OrderedDict()
        self._gates: dict[tuple[str, Hashable], threading.Lock] = {}
        self._generations: dict[str, int] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, channel_id: str, key: Hashable) -> tuple[bool, Any]:
        with self._lock:
            entry = self._entries.get((channel_id, key))
            if entry is None or self._clock() - entry[0] > self.ttl:
                return False, None
            self._entries.move_to_end((channel_id, key))
            return True, entry[1]

    def put(self, channel_id: str, key: Hashable, value: Any) -> None:
        with self._lock:
            self._store((channel_id, key), value)

    def _store(self, full_key: tuple[str, Hashable], value: Any) -> None:
        self._entries[full_key] = (self._clock(), value)
        self._entries.move_to_end(full_key)
        while len(self._entries) > self.max_entries:
            evicted, _ = self._entries.popitem(last=False)
            self._gates.pop(evicted, None)
        if len(self._gates) > 2 * self.max_entries:  # gates of expired keys: a waiter keeps its own
            self._gates = {k: g for k, g in self._gates.items() if k in self._entries}

    def get_or_compute(self, channel_id: str, key: Hashable, compute: Callable[[], T]) -> tuple[bool, T]:
        """``(hit, value)``; on a miss one caller runs ``compute`` and the others wait for it.

        An entry past its TTL (the data did not change; only time passed) is refreshed by one
        caller while the others keep getting it meanwhile, so a fleet of analyses expiring
        together does not stall every request. A value computed while the channel was
        invalidated is returned to its caller but not stored, so a run that lands
        mid-computation is never hidden. An exception reaches the caller that computed and is
        not cached: the next caller retries.
        """
        full_key = (channel_id, key)
        with self._lock:
            entry = self._entries.get(full_key)
            if entry is not None and self._clock() - entry[0] <= self.ttl:
                self._entries.move_to_end(full_key)
                return True, entry[1]
            gate = self._gates.setdefault(full_key, threading.Lock())
        if entry is not None:  # expired: refresh it here unless another caller already does
            if not gate.acquire(blocking=False):
                return True, entry[1]
            try:
                return self._compute_and_store(channel_id, key, compute)
            finally:
                gate.release()
        with gate:
            hit, value = self.get(channel_id, key)
            if hit:
                return True, value
            return self._compute_and_store(channel_id, key, compute)

    def _compute_and_store(self, channel_id: str, key: Hashable, compute: Callable[[], T]) -> tuple[bool, T]:
        with self._lock:
            generation = self._generations.get(channel_id, 0)
        computed = compute()
        with self._lock:
            if self._generations.get(channel_id, 0) == generation:
                self._store((channel_id, key), computed)
        return False, computed

    def invalidate_channel(self, channel_id: str) -> int:
        with self._lock:
            self._generations[channel_id] = self._generations.get(channel_id, 0) + 1
            stale = [k for k in self._entries if k[0] == channel_id]
            for k in stale:
                del self._entries[k]
            return len(stale)
