"""Frames from the real yt-channel-tracker-2026 data (internal testing only; see its SOURCE.md)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tubescope.analysis.frames import ChannelFrames
from tubescope.domain.durations import parse_duration_seconds
from tubescope.domain.models import SHORTS_MAX_SECONDS

TRACKER = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "yt-channel-tracker-2026"


def tracker_or_skip() -> Path:
    if not (TRACKER / "youtube_daily_snapshots.csv").is_file():
        pytest.skip(f"real data not found at {TRACKER.resolve()} (../shared/data/real is not mounted)")
    return TRACKER


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(tracker_or_skip() / name, encoding="utf-8-sig", dtype={"category_id": str})


def busiest_channels(count: int) -> list[str]:
    """Channels tracked all 30 days with the most videos in both monthly snapshots, busiest first."""
    daily = _read("youtube_daily_snapshots.csv")
    full = daily.groupby("channel_id")["date_utc"].nunique()
    full_ids = set(full[full == full.max()].index)
    videos = pd.concat([_read("videos_2026-01.csv"), _read("videos_2026-02.csv")])
    counts = videos[videos["channel_id"].isin(full_ids)].groupby("channel_id")["video_id"].nunique()
    return [str(i) for i in counts.sort_values(ascending=False).index[:count]]


def real_frames(channel_ids: list[str]) -> ChannelFrames:
    daily = _read("youtube_daily_snapshots.csv")
    daily = daily[daily["channel_id"].isin(channel_ids)]
    reference = _read("channels_reference.csv").set_index("channel_id")
    raw = pd.concat([_read("videos_2026-01.csv"), _read("videos_2026-02.csv")])
    raw = raw[raw["channel_id"].isin(channel_ids)]

    channel_snapshots = pd.DataFrame(
        {
            "channel_id": daily["channel_id"].to_numpy(),
            "observed_at": pd.to_datetime(daily["date_utc"], utc=True) + pd.Timedelta(hours=12),
            "subscriber_count": daily["subscribers"].astype("Int64").to_numpy(),
            "view_count": daily["views"].astype("Int64").to_numpy(),
            "video_count": daily["videos"].astype("Int64").to_numpy(),
        }
    )
    last = daily.sort_values("date_utc").groupby("channel_id").last()
    channels = pd.DataFrame(
        {
            "channel_id": channel_ids,
            "title": [str(last.at[c, "channel_title"]) for c in channel_ids],
            "handle": [reference.at[c, "custom_url"] if c in reference.index else None for c in channel_ids],
            "published_at": [
                pd.Timestamp(reference.at[c, "channel_published_at"]) if c in reference.index else pd.NaT
                for c in channel_ids
            ],
            "subscriber_count": pd.array(
                [int(last.at[c, "subscribers"]) for c in channel_ids], dtype="Int64"
            ),
            "hidden_subscriber_count": False,
            "view_count": pd.array([int(last.at[c, "views"]) for c in channel_ids], dtype="Int64"),
            "video_count": pd.array([int(last.at[c, "videos"]) for c in channel_ids], dtype="Int64"),
        }
    )
    snaps = pd.DataFrame(
        {
            "video_id": raw["video_id"].to_numpy(),
            "channel_id": raw["channel_id"].to_numpy(),
            "observed_at": pd.to_datetime(raw["snapshot_utc"], utc=True, format="ISO8601").dt.floor("us"),
            "view_count": raw["view_count"].astype("Int64").to_numpy(),
            "like_count": raw["like_count"].astype("Int64").to_numpy(),
            "comment_count": raw["comment_count"].astype("Int64").to_numpy(),
        }
    ).drop_duplicates(["video_id", "observed_at"])
    latest = raw.sort_values("snapshot_utc").drop_duplicates("video_id", keep="last")
    seconds = latest["duration_iso8601"].map(parse_duration_seconds)
    video_format = ["live" if s is None else "short" if s <= SHORTS_MAX_SECONDS else "long" for s in seconds]
    videos = pd.DataFrame(
        {
            "video_id": latest["video_id"].to_numpy(),
            "channel_id": latest["channel_id"].to_numpy(),
            "title": latest["title"].astype(str).to_numpy(),
            "published_at": pd.to_datetime(latest["published_at"], utc=True).to_numpy(),
            "duration_seconds": seconds.astype(float).to_numpy(),
            "video_format": video_format,
            "tags": "",
            "tag_count": 0,
            "category_id": latest["category_id"].to_numpy(),
            "view_count": latest["view_count"].astype("Int64").to_numpy(),
            "like_count": latest["like_count"].astype("Int64").to_numpy(),
            "comment_count": latest["comment_count"].astype("Int64").to_numpy(),
            "is_deleted": False,
        }
    )
    videos["published_at"] = pd.to_datetime(videos["published_at"], utc=True)
    return ChannelFrames(channels, videos, snaps, channel_snapshots)
