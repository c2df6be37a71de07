"""Seeded synthetic channel frames with planted effects, for tests and benchmarks of predict.

Pure: the same arguments give the same frames. A video's lifetime views are
``channel level + format effect + title/timing effects + noise`` in log space, and its views at
age ``a`` follow ``1 - exp(-a / tau)`` of that lifetime total, with ``tau`` per format. The truth
(``true_log_views_at``) lets tests check forecasts against what was planted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tubescope.analysis.frames import ChannelFrames

FORMAT_EFFECT = {"short": -0.6, "long": 0.0, "live": -1.0}
FORMAT_TAU_DAYS = {"short": 1.5, "long": 4.0, "live": 2.0}
QUESTION_EFFECT = 0.35
"""Log-views gain planted for titles with a question mark."""
EVENING_EFFECT = 0.25
"""Log-views gain planted for uploads between 16:00 and 21:59 UTC."""

_WORDS = ("how", "best", "review", "guide", "top", "new", "why", "test", "vlog", "setup", "pro", "tips")


@dataclass(frozen=True)
class SyntheticWorld:
    """Synthetic frames and the planted truth behind them."""

    frames: ChannelFrames
    lifetime_log_views: pd.Series
    """Planted log lifetime views per video_id."""
    tau_days: pd.Series

    def true_log_views_at(self, video_ids: pd.Index, age_days: float) -> np.ndarray[Any, Any]:
        """Planted ``log1p`` views of ``video_ids`` at ``age_days``."""
        total = np.expm1(self.lifetime_log_views.loc[video_ids].to_numpy())
        share = 1.0 - np.exp(-age_days / self.tau_days.loc[video_ids].to_numpy())
        return np.asarray(np.log1p(total * share))


def synthetic_frames(
    n_channels: int = 40,
    videos_per_channel: int = 60,
    *,
    seed: int = 0,
    start: str = "2025-01-01",
    days: int = 360,
    snapshot_ages: tuple[float, ...] = (1.0, 3.0, 6.0, 8.0, 14.0, 30.0),
    noise_sd: float = 0.45,
) -> SyntheticWorld:
    """A fleet of channels observed at ``start + days``; snapshots after then are not taken."""
    rng = np.random.default_rng(seed)
    origin = pd.Timestamp(start, tz="UTC")
    observed_at = origin + pd.Timedelta(days=days)
    channel_ids = np.array([f"UC{seed:04d}{i:018d}" for i in range(n_channels)])
    channel_level = rng.normal(9.0, 1.4, n_channels)
    short_share = rng.uniform(0.0, 0.7, n_channels)
    subscribers = np.round(np.exp(channel_level - 2.0 + rng.normal(0, 0.3, n_channels)) * 3).astype(np.int64)

    n = n_channels * videos_per_channel
    channel_index = np.repeat(np.arange(n_channels), videos_per_channel)
    published = origin + pd.to_timedelta(rng.uniform(0, days, n), unit="D")
    is_short = rng.uniform(size=n) < short_share[channel_index]
    is_live = (~is_short) & (rng.uniform(size=n) < 0.05)
    fmt = np.where(is_short, "short", np.where(is_live, "live", "long"))
    duration = np.where(
        is_short, rng.uniform(10, 60, n), np.where(is_live, np.nan, np.exp(rng.normal(6.5, 0.6, n)))
    )
    has_question = rng.uniform(size=n) < 0.25
    shouting = rng.uniform(size=n) < 0.15
    word_counts = rng.integers(2, 10, n)
    titles = []
    for i in range(n):
        words = " ".join(rng.choice(_WORDS, word_counts[i]))
        text = words.upper() if shouting[i] else words.capitalize()
        titles.append(text + ("?" if has_question[i] else ""))
    tag_count = rng.integers(0, 15, n)
    hour = published.hour.to_numpy()
    evening = (hour >= 16) & (hour < 22)
    effects = (
        channel_level[channel_index]
        + np.vectorize(FORMAT_EFFECT.get)(fmt)
        + QUESTION_EFFECT * has_question
        + EVENING_EFFECT * evening
        + 0.02 * tag_count
        - 0.3 * shouting
        + np.where(fmt == "long", 0.15 * (np.log(np.nan_to_num(duration, nan=600.0)) - 6.5), 0.0)
    )
    lifetime = effects + rng.normal(0, noise_sd, n)
    tau = np.vectorize(FORMAT_TAU_DAYS.get)(fmt) * rng.uniform(0.7, 1.4, n)
    video_ids = np.array([f"v{seed:02d}{i:09d}"[-11:] for i in range(n)])
    videos = pd.DataFrame(
        {
            "video_id": video_ids,
            "channel_id": channel_ids[channel_index],
            "title": titles,
            "published_at": published,
            "duration_seconds": duration,
            "video_format": fmt,
            "tags": ["|".join(["tag"] * int(k)) for k in tag_count],
            "tag_count": tag_count,
            "category_id": np.where(is_short, "24", "28"),
            "like_count": pd.array([pd.NA] * n, dtype="Int64"),
            "comment_count": pd.array([pd.NA] * n, dtype="Int64"),
            "is_deleted": False,
        }
    )
    ages = np.asarray(snapshot_ages, dtype=np.float64)
    snap_video = np.repeat(np.arange(n), len(ages))
    snap_age = np.tile(ages, n) + rng.uniform(-0.2, 0.2, n * len(ages))
    snap_at = published[snap_video] + pd.to_timedelta(snap_age, unit="D")
    keep = np.asarray(snap_at <= observed_at)
    snap_video, snap_age, snap_at = snap_video[keep], snap_age[keep], snap_at[keep]
    share = 1.0 - np.exp(-snap_age / tau[snap_video])
    snap_views = np.round(np.expm1(lifetime[snap_video]) * share).astype(np.int64)
    video_snapshots = pd.DataFrame(
        {
            "video_id": video_ids[snap_video],
            "channel_id": channel_ids[channel_index][snap_video],
            "observed_at": snap_at,
            "view_count": pd.array(snap_views, dtype="Int64"),
            "like_count": pd.array([pd.NA] * len(snap_views), dtype="Int64"),
            "comment_count": pd.array([pd.NA] * len(snap_views), dtype="Int64"),
        }
    )
    latest = video_snapshots.groupby("video_id")["view_count"].max()
    videos["view_count"] = pd.array(
        videos["video_id"].map(latest).fillna(0).to_numpy(dtype=np.int64), dtype="Int64"
    )
    channel_days = pd.date_range(origin, observed_at, freq="7D")
    channel_snapshots = pd.DataFrame(
        {
            "channel_id": np.repeat(channel_ids, len(channel_days)),
            "observed_at": np.tile(channel_days, n_channels),
            "subscriber_count": pd.array(np.repeat(subscribers, len(channel_days)), dtype="Int64"),
            "view_count": pd.array(np.zeros(n_channels * len(channel_days), dtype=np.int64), dtype="Int64"),
            "video_count": pd.array(np.zeros(n_channels * len(channel_days), dtype=np.int64), dtype="Int64"),
        }
    )
    channels = pd.DataFrame(
        {
            "channel_id": channel_ids,
            "title": [f"Channel {i}" for i in range(n_channels)],
            "handle": [f"@synth{seed}c{i}" for i in range(n_channels)],
            "published_at": origin - pd.to_timedelta(rng.uniform(100, 3000, n_channels), unit="D"),
            "subscriber_count": pd.array(subscribers, dtype="Int64"),
            "hidden_subscriber_count": False,
            "view_count": pd.array(np.zeros(n_channels, dtype=np.int64), dtype="Int64"),
            "video_count": pd.array(np.full(n_channels, videos_per_channel), dtype="Int64"),
        }
    )
    frames = ChannelFrames(channels, videos, video_snapshots, channel_snapshots)
    return SyntheticWorld(
        frames,
        pd.Series(lifetime, index=video_ids),
        pd.Series(tau, index=video_ids),
    )
