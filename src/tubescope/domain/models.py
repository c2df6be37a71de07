"""The records tubescope stores and analyses.

Counts YouTube may hide (subscribers, likes, comments) are ``int | None``: None means hidden or
disabled, never zero. A channel's view and video counts are ``int | None`` too: None when the API
left them out (unknown, never zero).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

SHORTS_MAX_SECONDS = 180
"""YouTube widened Shorts to three minutes in 2024; used only when playlist membership is unknown."""


class VideoFormat(StrEnum):
    """The kind of video: a Short, a long-form video or a live stream."""

    SHORT = "short"
    LONG = "long"
    LIVE = "live"


@dataclass(frozen=True, slots=True)
class Channel:
    """A YouTube channel as the warehouse stores it."""

    channel_id: str
    title: str
    handle: str | None
    description: str
    published_at: datetime | None
    country: str | None
    default_language: str | None
    uploads_playlist_id: str
    subscriber_count: int | None
    hidden_subscriber_count: bool
    view_count: int | None
    """None when ``statistics.viewCount`` was not sent."""
    video_count: int | None
    """None when ``statistics.videoCount`` was not sent."""


@dataclass(frozen=True, slots=True)
class Video:
    """A YouTube video's metadata as the warehouse stores it."""

    video_id: str
    channel_id: str
    title: str
    description: str
    published_at: datetime
    duration_seconds: int | None
    duration_raw: str | None
    video_format: VideoFormat
    tags: tuple[str, ...] = ()
    category_id: str | None = None
    default_language: str | None = None
    live_broadcast_content: str = "none"
    privacy_status: str | None = None
    live: LiveDetails | None = None
    """``liveStreamingDetails`` of a broadcast (upcoming, live or finished); None for other videos."""


@dataclass(frozen=True, slots=True)
class LiveDetails:
    """A broadcast's schedule and audience as ``liveStreamingDetails`` gives them (None: not sent)."""

    scheduled_start_at: datetime | None = None
    actual_start_at: datetime | None = None
    actual_end_at: datetime | None = None
    concurrent_viewers: int | None = None
    """Only while the broadcast is live."""


@dataclass(frozen=True, slots=True)
class VideoSnapshot:
    """A video's counters observed at one moment."""

    video_id: str
    observed_at: datetime
    view_count: int
    like_count: int | None
    comment_count: int | None

    @property
    def likes_hidden(self) -> bool:
        """Whether the channel hides this video's likes."""
        return self.like_count is None

    @property
    def comments_hidden(self) -> bool:
        """Whether comments on this video are turned off."""
        return self.comment_count is None


@dataclass(frozen=True, slots=True)
class ChannelSnapshot:
    """A channel's counters observed at one moment."""

    channel_id: str
    observed_at: datetime
    subscriber_count: int | None
    view_count: int | None
    video_count: int | None

    @property
    def subscribers_hidden(self) -> bool:
        """Whether the channel hides its subscriber count."""
        return self.subscriber_count is None


@dataclass(frozen=True, slots=True)
class Comment:
    """A comment or reply on a video."""

    comment_id: str
    video_id: str
    parent_id: str | None
    author: str
    text: str
    like_count: int
    published_at: datetime
    updated_at: datetime | None = None
    reply_count: int = 0
    extra: dict[str, str] = field(default_factory=dict)


def classify_format(
    duration_seconds: int | None, *, in_shorts_playlist: bool | None, was_live: bool = False
) -> VideoFormat:
    """Shorts by UUSH membership when known, else by duration; live when it was streamed.

    ``was_live`` is true for live, upcoming and completed broadcasts (``liveStreamingDetails``
    present, or ``liveBroadcastContent`` not ``none``). A video with no known duration and no
    playlist signal is also treated as live: that is what ``P0D`` means in practice.
    """
    if was_live or (duration_seconds is None and in_shorts_playlist is None):
        return VideoFormat.LIVE
    if in_shorts_playlist is not None:
        return VideoFormat.SHORT if in_shorts_playlist else VideoFormat.LONG
    assert duration_seconds is not None
    return VideoFormat.SHORT if duration_seconds <= SHORTS_MAX_SECONDS else VideoFormat.LONG
