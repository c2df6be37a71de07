"""In-memory TTL cache of expensive analysis results, invalidated per channel when a run lands."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any


class AnalysisCache:
    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[tuple[str, Hashable], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, channel_id: str, key: Hashable) -> tuple[bool, Any]:
        with self._lock:
            entry = self._entries.get((channel_id, key))
            if entry is None or self._clock() - entry[0] > self.ttl:
                return False, None
            return True, entry[1]

    def put(self, channel_id: str, key: Hashable, value: Any) -> None:
        with self._lock:
            self._entries[(channel_id, key)] = (self._clock(), value)

    def invalidate_channel(self, channel_id: str) -> int:
        with self._lock:
            stale = [k for k in self._entries if k[0] == channel_id]
            for k in stale:
                del self._entries[k]
            return len(stale)
