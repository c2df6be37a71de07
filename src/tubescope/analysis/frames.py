"""The bundle of frames one analysis reads (columns in :mod:`tubescope.domain.frames`)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class ChannelFrames:
    """Everything stored about one channel (or a fleet: several channel ids in each frame)."""

    channels: pd.DataFrame
    videos: pd.DataFrame
    video_snapshots: pd.DataFrame
    channel_snapshots: pd.DataFrame
    early_points: pd.DataFrame | None = None
    """Watch mode's dense samples (``video_id``, ``slot_hours``, ``view_count``, ``observed_at``):
    views observed at fixed young ages; same-age figures use them where they exist."""
