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
