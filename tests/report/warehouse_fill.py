"""Write planted frames into a real DuckDB warehouse through its public API, one run per collection time."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from tubescope.analysis.frames import ChannelFrames
from tubescope.domain.models import Channel, ChannelSnapshot, Video, VideoFormat, VideoSnapshot
from tubescope.warehouse.repository import Warehouse


def _dt(value: object) -> datetime:
    return pd.Timestamp(value).floor("us").to_pydatetime()  # type: ignore[arg-type]


def _count(value: object) -> int | None:
    return None if pd.isna(value) else int(value)  # type: ignore[call-overload]


def fill_warehouse(path: Path, frames: ChannelFrames) -> None:
    with Warehouse.open(path) as warehouse:
        first = warehouse.start_run("planted", [], [], started_at=_dt(frames.videos["published_at"].min()))
        warehouse.upsert_channels(
            first,
            [
                Channel(
                    channel_id=r.channel_id, title=r.title, handle=r.handle, description="",
                    published_at=_dt(r.published_at), country=None, default_language=None,
                    uploads_playlist_id="UU" + r.channel_id[2:], subscriber_count=_count(r.subscriber_count),
                    hidden_subscriber_count=bool(r.hidden_subscriber_count), view_count=int(r.view_count),
                    video_count=int(r.video_count),
                )
                for r in frames.channels.itertuples()
            ],
        )  # fmt: skip
        warehouse.upsert_videos(
            first,
            [
                Video(
                    video_id=r.video_id, channel_id=r.channel_id, title=r.title, description="",
                    published_at=_dt(r.published_at), duration_seconds=int(r.duration_seconds),
                    duration_raw=None, video_format=VideoFormat(r.video_format),
                    tags=tuple(t for t in str(r.tags).split("|") if t), category_id=r.category_id,
                )
                for r in frames.videos.itertuples()
            ],
        )  # fmt: skip
        warehouse.finish_run(first, "completed")
        moments = sorted(
            set(frames.video_snapshots["observed_at"]) | set(frames.channel_snapshots["observed_at"])
        )
        video_groups = dict(tuple(frames.video_snapshots.groupby("observed_at")))
        channel_groups = dict(tuple(frames.channel_snapshots.groupby("observed_at")))
        for moment in moments:
            run = warehouse.start_run("planted", [], [], started_at=_dt(moment))
            batch = video_groups.get(moment)
            if batch is not None:
                warehouse.record_video_snapshots(
                    run,
                    [
                        VideoSnapshot(r.video_id, _dt(r.observed_at), int(r.view_count), _count(r.like_count),
                                      _count(r.comment_count))
                        for r in batch.itertuples()
                    ],
                )  # fmt: skip
            channel_batch = channel_groups.get(moment)
            if channel_batch is not None:
                warehouse.record_channel_snapshots(
                    run,
                    [
                        ChannelSnapshot(r.channel_id, _dt(r.observed_at), _count(r.subscriber_count),
                                        int(r.view_count), int(r.video_count))
                        for r in channel_batch.itertuples()
                    ],
                )  # fmt: skip
            warehouse.finish_run(run, "completed", finished_at=_dt(moment))
