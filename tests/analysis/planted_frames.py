"""Synthetic channel frames with planted effects (part A analysis tests), built without the emulator.

Views of a video: ``final * (1 - exp(-age / tau))`` where ``final`` = base level x format
multiplier x publish-weekday lift x 10 for breakouts x lognormal noise. Snapshots are taken
daily at 06:00 UTC for the first 60 days of a video, weekly afterwards.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from tubescope.analysis.frames import ChannelFrames
from tubescope.emulator.world import World
from tubescope.testing import world_frames

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Planted:
    channel_id: str = "UCplanted000000000000000"
    n_videos: int = 240
    days: int = 420
    base_views: float = 20_000.0
    noise_sigma: float = 0.3
    tau_days: float = 5.0
    weekday_lift: dict[int, float] = field(default_factory=dict)
    breakout_share: float = 0.03
    breakout_multiplier: float = 10.0
    shorts_share: float = 0.3
    shorts_multiplier: float = 0.5
    hidden_likes_share: float = 0.05
    comments_disabled_share: float = 0.05
    subscribers: float = 50_000.0
    seed: int = 1


@dataclass(frozen=True)
class PlantedChannel:
    frames: ChannelFrames
    breakout_ids: tuple[str, ...]
    final_views: pd.Series


def build_channel(spec: Planted, now: datetime = NOW) -> PlantedChannel:
    rng = np.random.default_rng(spec.seed)
    n = spec.n_videos
    start = now - timedelta(days=spec.days)
    offsets = np.sort(rng.uniform(0, spec.days - 1, n))
    published = pd.to_datetime([start + timedelta(days=float(d)) for d in offsets], utc=True).floor("s")
    is_short = rng.random(n) < spec.shorts_share
    fmt = np.where(is_short, "short", "long")
    breakout = rng.random(n) < spec.breakout_share
    lift = np.array([spec.weekday_lift.get(int(w), 1.0) for w in published.day_of_week])
    final = (
        spec.base_views
        * np.where(is_short, spec.shorts_multiplier, 1.0)
        * lift
        * np.where(breakout, spec.breakout_multiplier, 1.0)
        * rng.lognormal(0.0, spec.noise_sigma, n)
    )
    ids = [f"{spec.channel_id[-4:]}v{i:06d}"[-11:].rjust(11, "x") for i in range(n)]
    hidden = rng.random(n) < spec.hidden_likes_share
    disabled = rng.random(n) < spec.comments_disabled_share
    like_ratio = rng.uniform(0.02, 0.05, n)
    comment_ratio = rng.uniform(0.001, 0.005, n)
    rows = []
    latest: dict[int, tuple[float, float | None, float | None]] = {}
    for i in range(n):
        first = (published[i] + pd.Timedelta(days=1)).normalize() + pd.Timedelta(hours=6)
        daily = pd.date_range(first, periods=60, freq="D")
        weekly = pd.date_range(daily[-1] + pd.Timedelta(days=7), now, freq="7D")
        times = daily.append(weekly)
        times = times[times <= now]
        age_days = (times - published[i]).total_seconds().to_numpy() / 86400
        views = np.floor(final[i] * (1 - np.exp(-age_days / spec.tau_days)))
        likes = None if hidden[i] else np.floor(views * like_ratio[i])
        comments = None if disabled[i] else np.floor(views * comment_ratio[i])
        for j, t in enumerate(times):
            rows.append(
                (ids[i], spec.channel_id, t, views[j], None if likes is None else likes[j],
                 None if comments is None else comments[j])
            )  # fmt: skip
        if len(times):
            latest[i] = (
                views[-1],
                None if likes is None else likes[-1],
                None if comments is None else comments[-1],
            )
    snaps = pd.DataFrame(
        rows, columns=["video_id", "channel_id", "observed_at", "view_count", "like_count", "comment_count"]
    )
    for column in ("view_count", "like_count", "comment_count"):
        snaps[column] = snaps[column].astype("Float64").astype("Int64")
    videos = pd.DataFrame(
        {
            "video_id": ids,
            "channel_id": spec.channel_id,
            "title": [f"Video number {i}{' ?' if i % 5 == 0 else ''}" for i in range(n)],
            "published_at": published,
            "duration_seconds": np.where(is_short, 45.0, 600.0),
            "video_format": fmt,
            "tags": "a|b",
            "tag_count": 2,
            "category_id": "22",
            "view_count": pd.array([latest.get(i, (None,))[0] for i in range(n)], dtype="Float64").astype(
                "Int64"
            ),
            "like_count": pd.array(
                [latest[i][1] if i in latest else None for i in range(n)], dtype="Float64"
            ).astype("Int64"),
            "comment_count": pd.array(
                [latest[i][2] if i in latest else None for i in range(n)], dtype="Float64"
            ).astype("Int64"),
            "is_deleted": False,
        }
    )
    days = pd.date_range(
        (start + timedelta(days=1)).replace(hour=6, minute=0, second=0, microsecond=0), now, freq="D"
    )
    total = np.array(
        [
            np.sum(
                np.where(
                    published <= t,
                    final
                    * (
                        1 - np.exp(-np.clip((t - published).total_seconds() / 86400, 0, None) / spec.tau_days)
                    ),
                    0.0,
                )
            )
            for t in days
        ]
    )
    subs = spec.subscribers + np.arange(len(days)) * 30.0
    channel_snaps = pd.DataFrame(
        {
            "channel_id": spec.channel_id,
            "observed_at": days,
            "subscriber_count": pd.array(np.floor(subs), dtype="Int64"),
            "view_count": pd.array(np.floor(total), dtype="Int64"),
            "video_count": pd.array([(published <= t).sum() for t in days], dtype="Int64"),
        }
    )
    channels = pd.DataFrame(
        {
            "channel_id": [spec.channel_id],
            "title": ["Planted channel"],
            "handle": ["@planted"],
            "published_at": [pd.Timestamp(start)],
            "subscriber_count": pd.array([int(subs[-1])], dtype="Int64"),
            "hidden_subscriber_count": [False],
            "view_count": pd.array([int(total[-1])], dtype="Int64"),
            "video_count": pd.array([n], dtype="Int64"),
        }
    )
    return PlantedChannel(
        frames=ChannelFrames(channels, videos, snaps, channel_snaps),
        breakout_ids=tuple(ids[i] for i in np.flatnonzero(breakout)),
        final_views=pd.Series(final, index=ids),
    )


def combine(*channels: PlantedChannel) -> ChannelFrames:
    return ChannelFrames(
        pd.concat([c.frames.channels for c in channels], ignore_index=True),
        pd.concat([c.frames.videos for c in channels], ignore_index=True),
        pd.concat([c.frames.video_snapshots for c in channels], ignore_index=True),
        pd.concat([c.frames.channel_snapshots for c in channels], ignore_index=True),
    )


# --- the emulator's world, through the same frames a warehouse would hold ---------------------

EMULATOR_NOW = datetime(2026, 6, 1, tzinfo=UTC)
EMULATOR_SEEDS = (11, 13)


@functools.cache
def emulator_frames(seed: int, n_channels: int = 10) -> tuple[World, ChannelFrames]:
    """A collector's view of a seeded world: daily for the last 91 days, weekly for a year before."""
    world = World(seed=seed, n_channels=n_channels)
    times = [EMULATOR_NOW - timedelta(days=d) for d in range(91)]
    times += [EMULATOR_NOW - timedelta(days=91 + 7 * k) for k in range(1, 53)]
    frames = world_frames(world, world.channel_ids(), times)
    return world, ChannelFrames(
        frames["channels"], frames["videos"], frames["video_snapshots"], frames["channel_snapshots"]
    )
