"""Quota left per API key and daily bucket, as this process has spent it (read by ``/metrics``).

YouTube's daily quota resets at midnight US Pacific time, per key and per bucket (``default``,
and since 2026-06 ``search.list`` and ``videos.batchGetStats``). Collection jobs report what they
spent through :class:`QuotaUsage`; a key the API refused for quota counts as spent in that bucket.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from tubescope.jobs.common import utc_now
from tubescope.youtube.quota import BUCKET
from tubescope.youtube.shared_quota import RedisQuotaLedger, quota_day

DEFAULT_BUCKET = "default"
BUCKETS = (DEFAULT_BUCKET, *sorted(set(BUCKET.values())))
"""Every daily quota bucket: ``default`` and the methods with a bucket of their own."""


class QuotaSource(Protocol):
    """Where ``/metrics`` reads the quota left per (key fingerprint, bucket)."""

    daily_units: int

    async def left(self) -> dict[tuple[str, str], int]:
        """Units left today per (key fingerprint, bucket)."""
        ...


@dataclass(frozen=True)
class QuotaUsage:
    """What one job spent: units per (key fingerprint, bucket), and keys refused for quota per bucket."""

    spent: Mapping[tuple[str, str], int]
    exhausted: Mapping[str, Sequence[str]] = field(default_factory=dict)


class QuotaTracker:
    """Units left today per (key fingerprint, bucket), from the jobs this process ran (no Redis)."""

    def __init__(
        self, fingerprints: Iterable[str], daily_units: int, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.daily_units = daily_units
        self._fingerprints = list(fingerprints)
        self._clock = clock
        self._day = quota_day(clock())
        self._spent: dict[tuple[str, str], int] = {}
        self._exhausted: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def _roll(self) -> None:
        today = quota_day(self._clock())
        if today != self._day:
            self._day, self._spent, self._exhausted = today, {}, set()

    def record(self, usage: QuotaUsage) -> None:
        """Add one job's spending (called when the job ends, whatever its outcome)."""
        with self._lock:
            self._roll()
            for where, units in usage.spent.items():
                self._spent[where] = self._spent.get(where, 0) + units
            for bucket, fingerprints in usage.exhausted.items():
                self._exhausted.update((fp, bucket) for fp in fingerprints)

    async def left(self) -> dict[tuple[str, str], int]:
        """:meth:`remaining`, as the :class:`QuotaSource` protocol asks."""
        return self.remaining()

    def remaining(self) -> dict[tuple[str, str], int]:
        """Units left today per (key fingerprint, bucket); every configured key has a ``default`` row."""
        with self._lock:
            self._roll()
            places = {(fp, DEFAULT_BUCKET) for fp in self._fingerprints}
            places.update(self._spent, self._exhausted)
            return {
                where: 0 if where in self._exhausted else max(0, self.daily_units - self._spent.get(where, 0))
                for where in sorted(places)
            }


class SharedQuotaView:
    """Units left today per (key fingerprint, bucket) in the Redis ledger every worker charges."""

    def __init__(self, ledger: RedisQuotaLedger, fingerprints: Iterable[str]) -> None:
        self.ledger = ledger
        self.daily_units = ledger.daily_units
        self._fingerprints = list(fingerprints)

    async def left(self) -> dict[tuple[str, str], int]:
        """Each configured key in every bucket, read from Redis now."""
        out: dict[tuple[str, str], int] = {}
        for fingerprint in self._fingerprints:
            for bucket in BUCKETS:
                spent = await self.ledger.spent(fingerprint, bucket)
                out[(fingerprint, bucket)] = max(0, self.daily_units - spent)
        return out

    async def aclose(self) -> None:
        """Close the ledger's connections."""
        await self.ledger.aclose()
