"""What a watch list costs per day, per quota bucket, and whether the keys' quota can carry it.

The schedule works in ticks. At each channel tick (daily by default):

- the first page of the uploads playlist finds new videos (1 main unit per channel);
- new videos' details come from ``videos.list``, 50 ids a call, batched across channels;
- every known video's statistics come from ``videos.batchGetStats`` (its own bucket), 50 ids a
  call, batched across channels.

Young videos are also sampled densely (hourly until 24 h, then every 6 h until 72 h by default).
Dense samples of all watched channels at one instant share ``batchGetStats`` calls, so their cost
depends on how many videos are young at once, not on how many channels there are.

Uploads arrive as a Poisson process at each channel's cadence, so the expected number of young
videos is the upload rate times the window. :func:`plan` adds a margin: it rounds each tick's calls
up, and counts each tick separately.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from tubescope.errors import ConfigError

IDS_PER_CALL = 50
PAGE_COST = 1
MAIN_BUCKET = "default"
STATS_BUCKET = "batchGetStats"


@dataclass(frozen=True)
class DenseSampling:
    """The first-72-hours schedule of a new video."""

    hourly_until: timedelta = timedelta(hours=24)
    then_every: timedelta = timedelta(hours=6)
    until: timedelta = timedelta(hours=72)

    def __post_init__(self) -> None:
        if not timedelta(0) < self.hourly_until <= self.until or self.then_every <= timedelta(0):
            raise ConfigError("dense sampling needs 0 < hourly_until <= until and then_every > 0")

    def ages(self) -> list[timedelta]:
        """The ages at which a new video is sampled (1 h, 2 h, … 24 h, 30 h, … 72 h)."""
        hour = timedelta(hours=1)
        ages = [hour * n for n in range(1, int(self.hourly_until / hour) + 1)]
        age = self.hourly_until + self.then_every
        while age <= self.until:
            ages.append(age)
            age += self.then_every
        return ages

    @property
    def hourly_ticks_per_day(self) -> int:
        """Snapshots per day while a new video is sampled hourly."""
        return 24

    @property
    def sparse_ticks_per_day(self) -> float:
        """Snapshots per day once sampling slows down."""
        return timedelta(days=1) / self.then_every


@dataclass(frozen=True)
class WatchedChannel:
    """One watch-list entry as the planner sees it."""

    channel_id: str
    videos: int
    uploads_per_day: float
    every: timedelta = timedelta(days=1)

    @property
    def ticks_per_day(self) -> float:
        """Collections per day of this channel."""
        return timedelta(days=1) / self.every


@dataclass(frozen=True)
class WatchPlan:
    """Units per bucket per day for a watch list, and how it compares with the daily quota."""

    channels: int
    units_per_day: dict[str, int]
    breakdown: dict[str, int]
    quota_per_bucket: int
    keys: int
    max_channels: int
    """How many channels like these (same mean size and cadence) the keys' quota would carry."""
    young_videos: dict[str, float] = field(default_factory=dict)

    @property
    def capacity(self) -> int:
        """Quota units available per day in each bucket across all keys."""
        return self.quota_per_bucket * self.keys

    @property
    def fits(self) -> bool:
        """Whether every bucket's daily units fit the capacity."""
        return all(units <= self.capacity for units in self.units_per_day.values())

    def as_dict(self) -> dict[str, object]:
        """JSON-ready figures (``watch plan --json`` and ``GET /v1/watches/plan``)."""
        return {
            "channels": self.channels,
            "units_per_day": self.units_per_day,
            "breakdown": self.breakdown,
            "capacity_per_bucket": self.capacity,
            "keys": self.keys,
            "fits": self.fits,
            "max_channels": self.max_channels,
            "young_videos": {k: round(v, 1) for k, v in self.young_videos.items()},
        }


def _calls(ids: float) -> int:
    return math.ceil(ids / IDS_PER_CALL) if ids > 0 else 0


def _units(
    channels: Sequence[WatchedChannel], dense: DenseSampling
) -> tuple[dict[str, int], dict[str, float]]:
    if not channels:
        return {"playlist_pages": 0, "new_video_details": 0, "daily_stats": 0, "dense_stats": 0}, {}
    pages = sum(math.ceil(c.ticks_per_day) * PAGE_COST for c in channels)
    # Ticks of all channels at the same cadence coincide, so their ids share calls.
    by_cadence: dict[timedelta, list[WatchedChannel]] = {}
    for channel in channels:
        by_cadence.setdefault(channel.every, []).append(channel)
    details = 0
    daily = 0
    for every, group in by_cadence.items():
        ticks = math.ceil(timedelta(days=1) / every)
        new_per_tick = sum(c.uploads_per_day for c in group) / ticks
        details += ticks * _calls(new_per_tick)
        daily += ticks * _calls(sum(c.videos for c in group))
    rate = sum(c.uploads_per_day for c in channels)
    hourly_window = dense.hourly_until / timedelta(days=1)
    sparse_window = (dense.until - dense.hourly_until) / timedelta(days=1)
    young_hourly = rate * hourly_window
    young_sparse = rate * sparse_window
    dense_calls = dense.hourly_ticks_per_day * _calls(young_hourly) + math.ceil(
        dense.sparse_ticks_per_day * _calls(young_sparse)
    )
    breakdown = {
        "playlist_pages": pages,
        "new_video_details": details,
        "daily_stats": daily,
        "dense_stats": dense_calls,
    }
    return breakdown, {"under_24h": young_hourly, "24h_to_72h": young_sparse}


def plan(
    channels: Sequence[WatchedChannel],
    *,
    quota_per_bucket: int = 10_000,
    keys: int = 1,
    dense: DenseSampling | None = None,
) -> WatchPlan:
    """The daily cost of watching ``channels`` and how many such channels the quota carries."""
    if quota_per_bucket <= 0 or keys <= 0:
        raise ConfigError("the daily quota per bucket and the number of keys must be positive")
    schedule = dense or DenseSampling()
    breakdown, young = _units(channels, schedule)
    units = {
        MAIN_BUCKET: breakdown["playlist_pages"] + breakdown["new_video_details"],
        STATS_BUCKET: breakdown["daily_stats"] + breakdown["dense_stats"],
    }
    capacity = quota_per_bucket * keys
    max_channels = 0
    if channels:
        mean = WatchedChannel(
            "mean",
            videos=round(sum(c.videos for c in channels) / len(channels)),
            uploads_per_day=sum(c.uploads_per_day for c in channels) / len(channels),
            every=min(c.every for c in channels),
        )
        low, high = 0, max(1, capacity)  # at least one page per channel per day: never more
        while low < high:
            middle = (low + high + 1) // 2
            cost, _ = _units([mean] * middle, schedule)
            main = cost["playlist_pages"] + cost["new_video_details"]
            stats = cost["daily_stats"] + cost["dense_stats"]
            if max(main, stats) <= capacity:
                low = middle
            else:
                high = middle - 1
        max_channels = low
    return WatchPlan(
        channels=len(channels),
        units_per_day=units,
        breakdown=breakdown,
        quota_per_bucket=quota_per_bucket,
        keys=keys,
        max_channels=max_channels,
        young_videos=young,
    )


def require_fit(watch_plan: WatchPlan) -> WatchPlan:
    """``watch_plan`` when the quota carries it; else a :class:`ConfigError` saying how many fit."""
    if not watch_plan.fits:
        over = {b: u for b, u in watch_plan.units_per_day.items() if u > watch_plan.capacity}
        raise ConfigError(
            f"this schedule needs {over} units a day but the keys give {watch_plan.capacity} per bucket; "
            f"about {watch_plan.max_channels} such channels fit (add keys or watch less often)"
        )
    return watch_plan
