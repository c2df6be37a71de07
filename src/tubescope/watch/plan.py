"""What a watch list costs per day, per quota bucket, and whether the keys' quota can carry it.

The scheduler works in ticks (see :mod:`tubescope.watch.sweep`, which spends exactly what the
functions here count). At each channel tick (daily by default), for all channels due at once:

- ``channels.list`` refreshes their subscriber and view counts, 50 channels a call;
- the first page of each uploads playlist finds new videos (1 main unit per channel; a page
  full of new videos walks on to the next);
- new videos' details come from ``videos.list``, 50 ids a call, batched across channels;
- every known video's statistics come from ``videos.batchGetStats`` (its own bucket), 50 ids a
  call, batched across channels.

Young videos are also sampled densely (hourly until 24 h, then every 6 h until 72 h by default)
by an hourly *pass* at each whole hour: a video is due when one of its sampling ages fell in
the hour before the pass. The dense ids of one pass share ``batchGetStats`` calls with each
other and with the daily refresh of the same tick, so their cost depends on how many videos
are young at once, not on how many channels there are. With WebSub push, a new video is
fetched (``videos.list``) when it is pushed, one call per notification.

:func:`plan` forecasts a day from upload rates (uploads arrive as a Poisson process, so the
expected number of young videos is the rate times the window, and each tick's calls are rounded
up: a margin). :func:`replay` counts exactly what the scheduler spends over given ticks for a
known upload history, with the same per-tick arithmetic (:func:`tick_units`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tubescope.errors import ConfigError

IDS_PER_CALL = 50
PAGE_COST = 1
MAIN_BUCKET = "default"
STATS_BUCKET = "batchGetStats"
PASS_EVERY = timedelta(hours=1)
"""The dense pass runs at every whole hour (UTC); sampling ages are whole hours."""


def calls(ids: float) -> int:
    """Calls of 50 ids it takes to cover ``ids`` (0 for none)."""
    return math.ceil(ids / IDS_PER_CALL) if ids > 0 else 0


def pages_walked(new: int) -> int:
    """Uploads-playlist pages a channel tick reads: the first, and one more per full page of new
    videos (newest first, the walk stops on the first page that holds a known video)."""
    return new // IDS_PER_CALL + 1


def tick_units(*, channels: int, pages: int, new_ids: int, stats_ids: int) -> dict[str, int]:
    """Units of one tick: ``channels`` refreshed, ``pages`` of uploads read, ``new_ids`` fetched
    through ``videos.list``, ``stats_ids`` through ``videos.batchGetStats`` (all batched)."""
    return {MAIN_BUCKET: calls(channels) + pages + calls(new_ids), STATS_BUCKET: calls(stats_ids)}


def pass_at(now: datetime) -> datetime:
    """The whole hour of the dense pass a tick at ``now`` belongs to."""
    return now.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class DenseSampling:
    """The first-72-hours schedule of a new video."""

    hourly_until: timedelta = timedelta(hours=24)
    then_every: timedelta = timedelta(hours=6)
    until: timedelta = timedelta(hours=72)

    def __post_init__(self) -> None:
        if not timedelta(0) < self.hourly_until <= self.until or self.then_every <= timedelta(0):
            raise ConfigError("dense sampling needs 0 < hourly_until <= until and then_every > 0")
        for name in ("hourly_until", "then_every", "until"):
            if getattr(self, name) % PASS_EVERY:
                raise ConfigError(f"dense sampling's {name} must be a whole number of hours")

    def ages(self) -> list[timedelta]:
        """The ages at which a new video is sampled (1 h, 2 h, … 24 h, 30 h, … 72 h)."""
        hour = timedelta(hours=1)
        ages = [hour * n for n in range(1, int(self.hourly_until / hour) + 1)]
        age = self.hourly_until + self.then_every
        while age <= self.until:
            ages.append(age)
            age += self.then_every
        return ages

    def slot_due(self, published_at: datetime, at_pass: datetime) -> float | None:
        """The sampling age (hours) a pass at ``at_pass`` takes for a video published at
        ``published_at``: the one in the hour before the pass, or None.

        Each age falls in exactly one hour, so passes at distinct whole hours take each age once;
        a pass missed (downtime) loses its ages rather than taking them late.
        """
        age = at_pass - published_at
        if age <= timedelta(0) or age >= self.until + PASS_EVERY:
            return None
        for slot in self.ages():
            if age - PASS_EVERY < slot <= age:
                return slot / timedelta(hours=1)
        return None

    @property
    def passes_per_day(self) -> int:
        """Dense passes per day (one at every whole hour)."""
        return round(timedelta(days=1) / PASS_EVERY)

    @property
    def sparse_share(self) -> float:
        """The share of passes at which a video between ``hourly_until`` and ``until`` is due."""
        return PASS_EVERY / self.then_every


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


def _units(
    channels: Sequence[WatchedChannel], dense: DenseSampling, *, push: bool = False
) -> tuple[dict[str, int], dict[str, float]]:
    if not channels:
        return dict.fromkeys(BREAKDOWN_KEYS, 0), {}
    pages = sum(math.ceil(c.ticks_per_day) * PAGE_COST for c in channels)
    # Ticks of all channels at the same cadence coincide, so their ids share calls.
    by_cadence: dict[timedelta, list[WatchedChannel]] = {}
    for channel in channels:
        by_cadence.setdefault(channel.every, []).append(channel)
    refreshed = 0
    details = 0
    daily = 0
    for every, group in by_cadence.items():
        ticks = math.ceil(timedelta(days=1) / every)
        refreshed += ticks * calls(len(group))
        new_per_tick = sum(c.uploads_per_day for c in group) / ticks
        if not push:
            details += ticks * calls(new_per_tick)
        daily += ticks * calls(sum(c.videos for c in group))
    rate = sum(c.uploads_per_day for c in channels)
    if push:  # each upload is pushed on its own and fetched at once
        details = math.ceil(rate)
    hourly_window = dense.hourly_until / timedelta(days=1)
    sparse_window = (dense.until - dense.hourly_until) / timedelta(days=1)
    young_hourly = rate * hourly_window
    young_sparse = rate * sparse_window
    dense_calls = dense.passes_per_day * calls(young_hourly + young_sparse * dense.sparse_share)
    breakdown = {
        "channel_stats": refreshed,
        "playlist_pages": pages,
        "new_video_details": details,
        "daily_stats": daily,
        "dense_stats": dense_calls,
    }
    return breakdown, {"under_24h": young_hourly, "24h_to_72h": young_sparse}


BREAKDOWN_KEYS = ("channel_stats", "playlist_pages", "new_video_details", "daily_stats", "dense_stats")
MAIN_PARTS = ("channel_stats", "playlist_pages", "new_video_details")
STATS_PARTS = ("daily_stats", "dense_stats")


def plan(
    channels: Sequence[WatchedChannel],
    *,
    quota_per_bucket: int = 10_000,
    keys: int = 1,
    dense: DenseSampling | None = None,
    push: bool = False,
) -> WatchPlan:
    """The daily cost of watching ``channels`` and how many such channels the quota carries.

    ``push``: new uploads arrive by WebSub (each fetched when pushed) rather than being found
    by the channel ticks' playlist pages.
    """
    if quota_per_bucket <= 0 or keys <= 0:
        raise ConfigError("the daily quota per bucket and the number of keys must be positive")
    schedule = dense or DenseSampling()
    breakdown, young = _units(channels, schedule, push=push)
    units = {
        MAIN_BUCKET: sum(breakdown[k] for k in MAIN_PARTS),
        STATS_BUCKET: sum(breakdown[k] for k in STATS_PARTS),
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
            cost, _ = _units([mean] * middle, schedule, push=push)
            main = sum(cost[k] for k in MAIN_PARTS)
            stats = sum(cost[k] for k in STATS_PARTS)
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


@dataclass(frozen=True)
class Upload:
    """A video of a watched channel and when it was published (the replay's input)."""

    video_id: str
    channel_id: str
    published_at: datetime
    removed_at: datetime | None = None
    """When it became private or deleted (it then leaves the playlist and the API's answers)."""

    def listed(self, at: datetime) -> bool:
        """Whether the uploads playlist lists it at ``at``."""
        return self.published_at <= at and (self.removed_at is None or at < self.removed_at)


@dataclass(frozen=True)
class ReplayWatch:
    """A watched channel as the replay starts: its cadence and last tick."""

    channel_id: str
    every: timedelta = timedelta(days=1)
    last_tick_at: datetime | None = None


@dataclass(frozen=True)
class Replay:
    """What the scheduler spends and samples over a run of ticks."""

    units: dict[str, int]
    channel_ticks: dict[str, int]
    """Channel ticks taken per channel (each refreshes all its known videos once)."""
    dense_samples: frozenset[tuple[str, float]]
    """``(video_id, sampling age in hours)`` of every dense sample."""
    pushes: int


def replay(
    watches: Sequence[ReplayWatch],
    uploads: Iterable[Upload],
    known: Iterable[str],
    ticks: Sequence[datetime],
    *,
    dense: DenseSampling | None = None,
    push: bool = False,
) -> Replay:
    """Exactly what the scheduler spends over ``ticks`` for a known upload history.

    ``known``: the video ids stored before the first tick. ``push``: before each tick, every
    watched channel that published since the previous tick is pushed once (one ``videos.list``
    call per ≤50 new ids). Then the due channels tick (:func:`tick_units`) and the dense pass of
    the tick's hour runs, sharing the stats calls with the channel refresh.
    """
    schedule = dense or DenseSampling()
    by_channel: dict[str, list[Upload]] = {}
    for upload in uploads:
        by_channel.setdefault(upload.channel_id, []).append(upload)
    watched = {w.channel_id for w in watches}
    stored = set(known)
    gone: set[str] = set()  # tombstoned: a refresh found them missing
    last = {w.channel_id: w.last_tick_at for w in watches}
    every = {w.channel_id: w.every for w in watches}
    totals = {MAIN_BUCKET: 0, STATS_BUCKET: 0}
    channel_ticks = dict.fromkeys(watched, 0)
    samples: set[tuple[str, float]] = set()
    pushes = 0
    previous: datetime | None = None
    for now in sorted(ticks):
        if push and previous is not None:
            for channel_id in sorted(watched):
                fresh = [
                    u.video_id
                    for u in by_channel.get(channel_id, [])
                    if u.listed(now) and not u.listed(previous) and u.video_id not in stored
                ]
                if fresh:
                    pushes += 1
                    totals[MAIN_BUCKET] += calls(len(fresh))
                    stored.update(fresh)
        previous = now
        due = sorted(c for c in watched if _due(last[c], every[c], now))
        new_ids: set[str] = set()
        daily: set[str] = set()
        pages = 0
        for channel_id in due:
            last[channel_id] = now
            channel_ticks[channel_id] += 1
            mine = by_channel.get(channel_id, [])
            fresh_ids = {u.video_id for u in mine if u.listed(now) and u.video_id not in stored}
            pages += pages_walked(len(fresh_ids))
            new_ids |= fresh_ids
            daily |= {u.video_id for u in mine if u.video_id in stored and u.video_id not in gone}
        at_pass = pass_at(now)
        dense_ids: set[str] = set()
        for channel_id in watched:
            for upload in by_channel.get(channel_id, []):
                if upload.video_id not in stored or upload.video_id in gone:
                    continue
                slot = schedule.slot_due(upload.published_at, at_pass)
                if slot is not None and (upload.video_id, slot) not in samples:
                    dense_ids.add(upload.video_id)
                    if upload.listed(now):
                        samples.add((upload.video_id, slot))
        stored |= new_ids  # found by this tick: sampled by its videos.list, densely from the next pass
        refreshed = daily | dense_ids
        gone |= {
            u.video_id
            for c in watched
            for u in by_channel.get(c, [])
            if u.video_id in refreshed and not u.listed(now)
        }
        units = tick_units(channels=len(due), pages=pages, new_ids=len(new_ids), stats_ids=len(refreshed))
        for bucket, spent in units.items():
            totals[bucket] += spent
    return Replay(totals, channel_ticks, frozenset(samples), pushes)


def _due(last: datetime | None, every: timedelta, now: datetime) -> bool:
    return last is None or now - last >= every
