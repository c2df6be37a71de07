"""A small warehouse with months of daily snapshots, written through the repository's public API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from tubescope.domain.models import Channel, ChannelSnapshot, Video, VideoFormat, VideoSnapshot
from tubescope.warehouse import Warehouse

START = datetime(2026, 1, 1, 6, 0, tzinfo=UTC)


def fill(
    target: Path | str, *, channels: int = 3, videos: int = 4, days: int = 120, seed: int = 7
) -> datetime:
    """Daily snapshots from :data:`START` for ``days`` days; returns the last observation time.

    Some likes are hidden, some comments disabled and one channel hides its subscribers, so the
    archive must carry NULLs faithfully.
    """
    rng = np.random.default_rng(seed)
    channel_ids = [f"UC{seed:02d}{i:020d}" for i in range(channels)]
    published = {
        (c, v): START - timedelta(days=int(rng.integers(0, 200))) + timedelta(hours=v)
        for c in channel_ids
        for v in range(videos)
    }
    with Warehouse.open(target) as wh:
        first = wh.start_run("planted", [], [], started_at=START - timedelta(days=1))
        wh.upsert_channels(
            first,
            [
                Channel(
                    channel_id=c, title=f"Channel {i}", handle=f"@c{i}", description="",
                    published_at=datetime(2020, 1, 1, tzinfo=UTC), country="FR", default_language="fr",
                    uploads_playlist_id="UU" + c[2:], subscriber_count=None if i == 2 else 1000,
                    hidden_subscriber_count=i == 2, view_count=1, video_count=videos,
                )
                for i, c in enumerate(channel_ids)
            ],
            fetched_at=START - timedelta(days=1),
        )  # fmt: skip
        wh.upsert_videos(
            first,
            [
                Video(
                    video_id=f"v{c[-3:]}{v:03d}xxxx"[:11], channel_id=c, title=f"Video {v}", description="",
                    published_at=published[(c, v)], duration_seconds=60 + 30 * v, duration_raw=None,
                    video_format=VideoFormat.SHORT if v % 3 == 0 else VideoFormat.LONG, tags=("a",),
                    category_id="28",
                )
                for c in channel_ids
                for v in range(videos)
            ],
            fetched_at=START - timedelta(days=1),
        )  # fmt: skip
        wh.finish_run(first, "completed", finished_at=START - timedelta(days=1))
        views = {key: int(rng.integers(100, 5000)) for key in published}
        subscribers = dict.fromkeys(channel_ids, 1000)
        at = START
        for day in range(days):
            at = START + timedelta(days=day, minutes=int(rng.integers(0, 50)))
            run = wh.start_run("planted", [], [], started_at=at)
            snaps = []
            for (c, v), total in views.items():
                views[(c, v)] = total + int(rng.integers(0, 400))
                hidden = v == 1 and c == channel_ids[0]
                likes = None if hidden else views[(c, v)] // 20
                comments = None if v == 2 else views[(c, v)] // 90
                snaps.append(VideoSnapshot(f"v{c[-3:]}{v:03d}xxxx"[:11], at, views[(c, v)], likes, comments))
            wh.record_video_snapshots(run, snaps, fetched_at=at)
            chans = []
            for i, c in enumerate(channel_ids):
                subscribers[c] += int(rng.integers(0, 30))
                total = sum(t for (cc, _), t in views.items() if cc == c)
                chans.append(ChannelSnapshot(c, at, None if i == 2 else subscribers[c], total, videos))
            wh.record_channel_snapshots(run, chans, fetched_at=at)
            wh.finish_run(run, "completed", finished_at=at)
    return at
