"""Per-key daily quota with the Data API's cost table, and a ledger of what each key spent.

Days are counted in US/Pacific time of the emulator clock, like the real quota. A request the API
rejects (bad parameters, unknown ids in an invalid form) still costs one unit; a request refused
for lack of quota costs nothing more.
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
REJECTED_REQUEST_COST = 1


def quota_day(now: datetime) -> date:
    """The quota day ``now`` falls in: the calendar date in US/Pacific."""
    return now.astimezone(PACIFIC).date()


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
        self._used_today: dict[str, int] = dict.fromkeys(self._limits, 0)
        self._usage: dict[str, dict[str, MethodUsage]] = {key: {} for key in self._limits}
        self._lock = Lock()

    @property
    def keys(self) -> list[str]:
        return list(self._limits)

    def knows(self, key: str | None) -> bool:
        return key is not None and key in self._limits

    def limit(self, key: str) -> int:
        return self._limits[key]

    def _roll(self, key: str, now: datetime) -> None:
        today = quota_day(now)
        if self._day.get(key) != today:
            self._day[key] = today
            self._used_today[key] = 0

    def used_today(self, key: str, now: datetime) -> int:
        with self._lock:
            self._roll(key, now)
            return self._used_today[key]

    def remaining(self, key: str, now: datetime) -> int:
        with self._lock:
            self._roll(key, now)
            return max(self._limits[key] - self._used_today[key], 0)

    def try_charge(self, key: str, method: str, now: datetime) -> bool:
        """Charge a served call; False (and nothing charged) when the key cannot afford it."""
        cost = COST_TABLE[method]
        with self._lock:
            self._roll(key, now)
            usage = self._usage[key].setdefault(method, MethodUsage())
            if self._used_today[key] + cost > self._limits[key]:
                usage.calls += 1
                usage.rejected += 1
                return False
            self._used_today[key] += cost
            usage.units += cost
            usage.calls += 1
            return True

    def charge_rejected(self, key: str, method: str, now: datetime) -> None:
        """A request the API refused still costs a unit (while the key has any left)."""
        with self._lock:
            self._roll(key, now)
            usage = self._usage[key].setdefault(method, MethodUsage())
            usage.calls += 1
            usage.rejected += 1
            if self._used_today[key] + REJECTED_REQUEST_COST <= self._limits[key]:
                self._used_today[key] += REJECTED_REQUEST_COST
                usage.units += REJECTED_REQUEST_COST

    def exhausted(self, key: str, method: str, now: datetime) -> bool:
        with self._lock:
            self._roll(key, now)
            return self._used_today[key] + COST_TABLE[method] > self._limits[key]

    def usage(self, key: str) -> dict[str, MethodUsage]:
        """Per-method spending of ``key`` (a copy)."""
        with self._lock:
            return {method: MethodUsage(**asdict(u)) for method, u in self._usage[key].items()}

    def total_units(self, key: str) -> int:
        return sum(u.units for u in self.usage(key).values())

    def snapshot(self, now: datetime) -> dict[str, Any]:
        """JSON-ready view keyed by key fingerprint (keys themselves never leave the process)."""
        out: dict[str, Any] = {"quota_day": quota_day(now).isoformat(), "keys": {}}
        with self._lock:
            for key, limit in self._limits.items():
                self._roll(key, now)
                out["keys"][key_fingerprint(key)] = {
                    "daily_limit": limit,
                    "used_today": self._used_today[key],
                    "remaining_today": max(limit - self._used_today[key], 0),
                    "methods": {m: asdict(u) for m, u in sorted(self._usage[key].items())},
                }
        return out
