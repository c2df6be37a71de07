"""Write synthetic frames into a real DuckDB warehouse through its public API."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from tubescope.analysis.frames import ChannelFrames
from tubescope.domain.models import Channel, ChannelSnapshot, Video, VideoFormat, VideoSnapshot
from tubescope.warehouse.repository import Warehouse


def _dt(value: pd.Timestamp) -> datetime:
    return pd.Timestamp(value).floor("us").to_pydatetime()


def fill_warehouse(path: Path, frames: ChannelFrames) -> None:
    """One run per snapshot ordinal: the warehouse keeps at most one snapshot per video per run."""
    with Warehouse.open(path) as warehouse:
        first = warehouse.start_run("synthetic", [], [], started_at=_dt(frames.videos["published_at"].min()))
        channels = [
            Channel(
                channel_id=r.channel_id,
                title=r.title,
                handle=r.handle,
                description="",
                published_at=_dt(r.published_at),
                country=None,
                default_language=None,
                uploads_playlist_id="UU" + r.channel_id[2:],
                subscriber_count=int(r.subscriber_count),
                hidden_subscriber_count=False,
                view_count=0,
                video_count=int(r.video_count),
            )
            for r in frames.channels.itertuples()
        ]
        warehouse.upsert_channels(first, channels)
        videos = [
            Video(
                video_id=r.video_id,
                channel_id=r.channel_id,
                title=r.title,
                description="",
                published_at=_dt(r.published_at),
                duration_seconds=None if pd.isna(r.duration_seconds) else int(r.duration_seconds),
                duration_raw=None,
                video_format=VideoFormat(r.video_format),
                tags=tuple(t for t in r.tags.split("|") if t),
                category_id=r.category_id,
            )
            for r in frames.videos.itertuples()
        ]
        warehouse.upsert_videos(first, videos)
        warehouse.finish_run(first, "completed")
        snaps = frames.video_snapshots.sort_values(["video_id", "observed_at"])
        snaps = snaps.assign(ordinal=snaps.groupby("video_id").cumcount())
        channel_snaps = frames.channel_snapshots.sort_values(["channel_id", "observed_at"])
        channel_snaps = channel_snaps.assign(ordinal=channel_snaps.groupby("channel_id").cumcount())
        for ordinal in range(int(max(snaps["ordinal"].max(), channel_snaps["ordinal"].max())) + 1):
            run = warehouse.start_run("synthetic", [], [])
            batch = snaps[snaps["ordinal"] == ordinal]
            warehouse.record_video_snapshots(
                run,
                [
                    VideoSnapshot(r.video_id, _dt(r.observed_at), int(r.view_count), None, None)
                    for r in batch.itertuples()
                ],
            )
            channel_batch = channel_snaps[channel_snaps["ordinal"] == ordinal]
            warehouse.record_channel_snapshots(
                run,
                [
                    ChannelSnapshot(r.channel_id, _dt(r.observed_at), int(r.subscriber_count), 0, 0)
                    for r in channel_batch.itertuples()
                ],
            )
            warehouse.finish_run(run, "completed")
