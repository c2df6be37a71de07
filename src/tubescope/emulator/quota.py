"""Per-key daily quota with the Data API's cost table, and a ledger of what each key spent.

Days are counted in US/Pacific time of the emulator clock, like the real quota. A request the API
rejects (bad parameters, unknown ids in an invalid form) still costs one unit; a request refused
for lack of quota costs nothing more.

``videos.batchGetStats`` draws on a bucket of its own (the 2026-06 revision gives it a separate
daily allowance), the same size as the key's main quota; everything else shares the main bucket.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from threading import Lock
from typing import Any
from zoneinfo import ZoneInfo

PACIFIC = ZoneInfo("America/Los_Angeles")
DEFAULT_DAILY_QUOTA = 10_000
COST_TABLE: Mapping[str, int] = {
    "channels.list": 1,
    "playlistItems.list": 1,
    "videos.list": 1,
    "videos.batchGetStats": 1,
    "commentThreads.list": 1,
    "comments.list": 1,
    "search.list": 100,
}
MAIN_BUCKET = "default"
BUCKETS: Mapping[str, str] = {"videos.batchGetStats": "batchGetStats"}
"""Methods with their own daily allowance; the rest draw on :data:`MAIN_BUCKET`."""
REJECTED_REQUEST_COST = 1


def quota_day(now: datetime) -> date:
    """The quota day ``now`` falls in: the calendar date in US/Pacific."""
    return now.astimezone(PACIFIC).date()


def bucket_of(method: str) -> str:
    """The quota bucket that ``method`` is charged to."""
    return BUCKETS.get(method, MAIN_BUCKET)


def key_fingerprint(key: str) -> str:
    """Same fingerprint as :func:`tubescope.logging.key_fingerprint` (kept here: no upward import)."""
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:10]


@dataclass
class MethodUsage:
    """What one key spent on one method since the emulator started (all days)."""

    units: int = 0
    calls: int = 0
    rejected: int = 0
    """Calls answered with an API error (they still cost a unit), quota refusals included."""


class QuotaLedger:
    """Daily budgets and the spending ledger of every known key. Thread-safe."""

    def __init__(self, keys: Mapping[str, int]) -> None:
        self._limits = dict(keys)
        self._day: dict[str, date] = {}
        self._used: dict[str, dict[str, int]] = {key: {} for key in self._limits}
        self._usage: dict[str, dict[str, MethodUsage]] = {key: {} for key in self._limits}
        self._lock = Lock()

    @property
    def keys(self) -> list[str]:
        """The API keys the ledger knows."""
        return list(self._limits)

    def knows(self, key: str | None) -> bool:
        """Whether ``key`` is a known API key."""
        return key is not None and key in self._limits

    def limit(self, key: str) -> int:
        """The daily quota limit of ``key``."""
        return self._limits[key]

    def _roll(self, key: str, now: datetime) -> None:
        today = quota_day(now)
        if self._day.get(key) != today:
            self._day[key] = today
            self._used[key] = {}

    def used_today(self, key: str, now: datetime, bucket: str = MAIN_BUCKET) -> int:
        """Units ``key`` has spent today in ``bucket``."""
        with self._lock:
            self._roll(key, now)
            return self._used[key].get(bucket, 0)

    def remaining(self, key: str, now: datetime, bucket: str = MAIN_BUCKET) -> int:
        """Units ``key`` has left today in ``bucket``."""
        with self._lock:
            self._roll(key, now)
            return max(self._limits[key] - self._used[key].get(bucket, 0), 0)

    def _affordable(self, key: str, bucket: str, cost: int) -> bool:
        return self._used[key].get(bucket, 0) + cost <= self._limits[key]

    def _spend(self, key: str, bucket: str, cost: int) -> None:
        self._used[key][bucket] = self._used[key].get(bucket, 0) + cost

    def try_charge(self, key: str, method: str, now: datetime) -> bool:
        """Charge a served call; False (and nothing charged) when the key cannot afford it."""
        cost = COST_TABLE[method]
        bucket = bucket_of(method)
        with self._lock:
            self._roll(key, now)
            usage = self._usage[key].setdefault(method, MethodUsage())
            usage.calls += 1
            if not self._affordable(key, bucket, cost):
                usage.rejected += 1
                return False
            self._spend(key, bucket, cost)
            usage.units += cost
            return True

    def charge_rejected(self, key: str, method: str, now: datetime) -> None:
        """A request the API refused still costs a unit (while the key has any left)."""
        bucket = bucket_of(method)
        with self._lock:
            self._roll(key, now)
            usage = self._usage[key].setdefault(method, MethodUsage())
            usage.calls += 1
            usage.rejected += 1
            if self._affordable(key, bucket, REJECTED_REQUEST_COST):
                self._spend(key, bucket, REJECTED_REQUEST_COST)
                usage.units += REJECTED_REQUEST_COST

    def exhausted(self, key: str, method: str, now: datetime) -> bool:
        """Whether ``key`` can no longer afford a call to ``method`` today."""
        with self._lock:
            self._roll(key, now)
            return not self._affordable(key, bucket_of(method), COST_TABLE[method])

    def usage(self, key: str) -> dict[str, MethodUsage]:
        """Per-method spending of ``key`` since start (a copy)."""
        with self._lock:
            return {method: MethodUsage(**asdict(u)) for method, u in self._usage[key].items()}

    def total_units(self, key: str) -> int:
        """All units ``key`` has spent since the emulator started."""
        return sum(u.units for u in self.usage(key).values())

    def snapshot(self, now: datetime) -> dict[str, Any]:
        """JSON-ready view keyed by key fingerprint (keys themselves never leave the process)."""
        out: dict[str, Any] = {"quota_day": quota_day(now).isoformat(), "keys": {}}
        with self._lock:
            for key, limit in self._limits.items():
                self._roll(key, now)
                used = self._used[key].get(MAIN_BUCKET, 0)
                out["keys"][key_fingerprint(key)] = {
                    "daily_limit": limit,
                    "used_today": used,
                    "remaining_today": max(limit - used, 0),
                    "buckets_used_today": dict(sorted(self._used[key].items())),
                    "methods": {m: asdict(u) for m, u in sorted(self._usage[key].items())},
                }
        return out
